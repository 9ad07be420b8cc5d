"""A web page cannot drive the endpoint: foreign origins, rebound host names and unsigned calls
are refused before any routing, nothing is created; signed clients keep working."""

from __future__ import annotations

import base64
import http.client
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from endpoint_helpers import ROLE, SIGNATURE, create_function, unique, zip_code

from stepkit.endpoint import LocalEndpoint

EVIL = "http://evil.example"


def send(endpoint: LocalEndpoint, method: str, path: str, body: bytes = b"", **headers: str) -> tuple[int, dict, bytes]:
    """One raw request, headers exactly as given (``Host`` included): what a browser would send."""
    connection = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=60)
    try:
        fixed = {k.replace("_", "-"): v for k, v in headers.items()}
        connection.putrequest(method, path, skip_host="Host" in fixed)
        for key, value in {**fixed, "Content-Length": str(len(body))}.items():
            connection.putheader(key, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def create_function_body(name: str, marker: Path) -> bytes:
    code = f"import pathlib\ndef handler(event, context):\n    pathlib.Path({str(marker)!r}).write_text('ran')\n"
    return json.dumps({"FunctionName": name, "Runtime": "python3.11", "Role": ROLE, "Handler": "app.handler",
                       "Code": {"ZipFile": base64.b64encode(zip_code({"app.py": code})).decode()}}).encode()


def test_cross_origin_simple_post_cannot_create_or_invoke_a_function(endpoint: LocalEndpoint, lam: Any,
                                                                     tmp_path: Path) -> None:
    name, marker = unique("evil"), tmp_path / "ran"
    status, headers, body = send(endpoint, "POST", "/2015-03-31/functions", create_function_body(name, marker),
                                 Content_Type="text/plain", Origin=EVIL, Authorization=SIGNATURE)
    assert status == 403 and headers["x-amzn-errortype"] == "AccessDeniedException"
    assert "evil.example" in json.loads(body)["message"]
    assert name not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    # a function the user made is not invocable from the page either
    code = f"import pathlib\ndef handler(e, c):\n    pathlib.Path({str(marker)!r}).write_text('')\n"
    own = create_function(lam, code)
    status, _, _ = send(endpoint, "POST", f"/2015-03-31/functions/{own}/invocations", b"{}",
                        Content_Type="text/plain", Origin=EVIL)
    assert status == 403 and not marker.exists()


def test_cross_origin_post_to_step_functions_sqs_and_s3(endpoint: LocalEndpoint, clients: Any) -> None:
    machine, queue, bucket = unique("sm"), unique("q"), unique("b")
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    status, headers, body = send(
        endpoint, "POST", "/", json.dumps({"name": machine, "definition": definition, "roleArn": ROLE}).encode(),
        Content_Type="text/plain", Origin=EVIL, X_Amz_Target="AWSStepFunctions.CreateStateMachine")
    assert status == 403 and json.loads(body)["__type"] == "AccessDeniedException"
    assert machine not in [m["name"] for m in clients("stepfunctions").list_state_machines()["stateMachines"]]

    status, _, body = send(endpoint, "POST", "/", f"Action=CreateQueue&QueueName={queue}".encode(),
                           Content_Type="application/x-www-form-urlencoded", Origin=EVIL)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    assert not any(u.endswith(queue) for u in clients("sqs").list_queues().get("QueueUrls", []))

    s3 = clients("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="secret.txt", Body=b"model weights")
    status, _, body = send(endpoint, "PUT", f"/{bucket}/dropped.txt", b"x", Content_Type="text/plain", Origin=EVIL)
    assert status == 403 and b"AccessDenied" in body
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["secret.txt"]
    status, headers, body = send(endpoint, "GET", f"/{bucket}/secret.txt", Origin=EVIL)  # a fetch() reading it
    assert status == 403 and b"model weights" not in body and "access-control-allow-origin" not in headers


def test_rebinding_host_is_refused_even_when_signed(endpoint: LocalEndpoint, clients: Any) -> None:
    machine = unique("sm")
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    status, _, body = send(
        endpoint, "POST", "/", json.dumps({"name": machine, "definition": definition, "roleArn": ROLE}).encode(),
        Host=f"rebind.evil.example:{endpoint.port}", Authorization=SIGNATURE,
        Content_Type="application/x-amz-json-1.0", X_Amz_Target="AWSStepFunctions.CreateStateMachine")
    assert status == 403 and "STEPKIT_ALLOWED_HOSTS" in json.loads(body)["message"]
    assert machine not in [m["name"] for m in clients("stepfunctions").list_state_machines()["stateMachines"]]
    status, _, _ = send(endpoint, "GET", "/_stepkit/health", Host="rebind.evil.example")
    assert status == 403


def test_unsigned_calls_are_refused_with_aws_error(endpoint: LocalEndpoint, lam: Any, tmp_path: Path) -> None:
    name = unique("unsigned")
    status, headers, body = send(endpoint, "POST", "/2015-03-31/functions", create_function_body(name, tmp_path / "m"),
                                 Content_Type="application/json")
    assert status == 403 and headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert json.loads(body)["message"] == "Missing Authentication Token"
    assert name not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    status, _, body = send(endpoint, "POST", "/", b"{}", Content_Type="application/x-amz-json-1.0",
                           X_Amz_Target="AWSStepFunctions.ListStateMachines")
    assert status == 403 and json.loads(body)["__type"] == "MissingAuthenticationTokenException"
    status, _, _ = send(endpoint, "GET", "/?Action=CreateQueue&QueueName=unsigned")
    assert status == 403
    status, _, _ = send(endpoint, "POST", "/moto-api/reset")
    assert status == 403


def test_open_pages_anonymous_and_presigned_reads(endpoint: LocalEndpoint, clients: Any) -> None:
    for path in ("/_stepkit/health", "/_localstack/health", "/_localstack/info"):
        status, _, body = send(endpoint, "GET", path)
        assert status == 200 and json.loads(body)
    info = json.loads(send(endpoint, "GET", "/_localstack/info")[2])
    assert {"version", "edition", "session_id", "system", "is_docker", "server_time_utc", "uptime"} <= set(info)
    s3, bucket = clients("s3"), unique("b")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="public.txt", Body=b"hello", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="private.txt", Body=b"hello")
    assert send(endpoint, "GET", f"/{bucket}/public.txt")[:3:2] == (200, b"hello")
    assert send(endpoint, "GET", f"/{bucket}/private.txt")[0] == 403  # S3's own rule for anonymous reads
    url = urlsplit(s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "private.txt"}))
    status, _, body = send(endpoint, "GET", f"{url.path}?{url.query}")
    assert (status, body) == (200, b"hello")
    # LocalStack's names resolve to 127.0.0.1 and are answered (S3 virtual hosts)
    virtual_host = f"{bucket}.s3.localhost.localstack.cloud:{endpoint.port}"
    status, _, body = send(endpoint, "GET", "/public.txt", Host=virtual_host)
    assert (status, body) == (200, b"hello")


def test_preflight_only_for_allowed_origins(endpoint: LocalEndpoint) -> None:
    own = f"http://localhost:{endpoint.port}"
    status, headers, _ = send(endpoint, "OPTIONS", "/", Origin=own, Access_Control_Request_Method="POST",
                              Access_Control_Request_Headers="x-amz-target,content-type")
    assert status == 200 and headers["access-control-allow-origin"] == own
    status, headers, _ = send(endpoint, "OPTIONS", "/", Origin=EVIL, Access_Control_Request_Method="POST")
    assert status == 403 and "access-control-allow-origin" not in headers
    # a same-origin call (the viewer's) goes through and names the origin, not moto's "*"
    status, headers, _ = send(endpoint, "POST", "/", b"{}", Origin=own, Authorization=SIGNATURE,
                              Content_Type="application/x-amz-json-1.0", X_Amz_Target="AWSStepFunctions.ListActivities")
    assert headers.get("access-control-allow-origin") == own


def test_allowed_origin_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STEPKIT_ALLOWED_ORIGINS", "http://dashboard.test:8080")
    monkeypatch.setenv("STEPKIT_ALLOWED_HOSTS", "devbox.test")
    with LocalEndpoint(state_dir=tmp_path / "state", persist_moto=False) as endpoint:
        status, headers, _ = send(endpoint, "GET", "/2015-03-31/functions/", Origin="http://dashboard.test:8080",
                                  Authorization=SIGNATURE)
        assert status == 200 and headers["access-control-allow-origin"] == "http://dashboard.test:8080"
        assert send(endpoint, "GET", "/_stepkit/health", Host="devbox.test:4566")[0] == 200
        assert send(endpoint, "GET", "/2015-03-31/functions/", Origin=EVIL, Authorization=SIGNATURE)[0] == 403


def test_signed_clients_still_work(endpoint: LocalEndpoint, lam: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3 (the fixtures), the aws CLI and localstack-client all sign: they are served."""
    from localstack_client.session import Session

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # it would take precedence over localstack_host
    name = create_function(lam, "def handler(event, context):\n    return {'ok': event['n']}\n")
    assert json.loads(lam.invoke(FunctionName=name, Payload=b'{"n": 1}')["Payload"].read()) == {"ok": 1}
    aws = Path(sys.executable).with_name("aws")
    command = [str(aws), "--endpoint-url", endpoint.url, "--region", "us-east-1", "lambda", "list-functions"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=120,
                         env={"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert name in out.stdout
    session = Session(localstack_host=f"127.0.0.1:{endpoint.port}", region_name="us-east-1")
    assert name in [f["FunctionName"] for f in session.client("lambda").list_functions()["Functions"]]
    assert "stateMachines" in session.client("stepfunctions").list_state_machines()
