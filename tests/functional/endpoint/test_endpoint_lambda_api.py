"""The Lambda API of the endpoint, through boto3: zips in, real worker processes behind."""

from __future__ import annotations

import base64
import json
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import ROLE, create_function, eventually, unique, wait_active, zip_code

ECHO = """
import os
def handler(event, context):
    print("got", event)
    return {"event": event, "greeting": os.environ.get("GREETING"), "version": context.function_version,
            "arn": context.invoked_function_arn}
"""
FAILS = """
def handler(event, context):
    raise ValueError("bad input")
"""


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def test_create_is_pending_then_active_and_invokes(lam: Any) -> None:
    name = unique("echo")
    created = lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                  Code={"ZipFile": zip_code({"app.py": ECHO})},
                                  Environment={"Variables": {"GREETING": "hi"}})
    assert created["State"] == "Pending" and created["StateReasonCode"] == "Creating"
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    config = wait_active(lam, name)
    assert config["CodeSha256"] == created["CodeSha256"]

    response = lam.invoke(FunctionName=name, Payload=b'{"x": 1}', LogType="Tail")
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    body = json.loads(response["Payload"].read())
    assert body["event"] == {"x": 1} and body["greeting"] == "hi"
    log = base64.b64decode(response["LogResult"]).decode()
    assert "got {'x': 1}" in log and "REPORT RequestId" in log


def test_invocation_types_and_function_errors(lam: Any) -> None:
    name = create_function(lam, FAILS)
    failed = lam.invoke(FunctionName=name, Payload=b"{}")
    assert failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Payload"].read())
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "bad input")
    assert lam.invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204
    assert lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName=name, Payload=b"{not json")
    assert _code(exc) == "InvalidRequestContentException"
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName=unique("missing"), Payload=b"{}")
    assert _code(exc) == "ResourceNotFoundException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_update_code_and_configuration(lam: Any) -> None:
    name = create_function(lam, ECHO, Timeout=5)
    lam.update_function_code(FunctionName=name, ZipFile=zip_code({"app.py": "def handler(e, c):\n    return 'v2'\n"}))
    wait_active(lam, name)
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "v2"
    updated = lam.update_function_configuration(FunctionName=name, MemorySize=256, Handler="app.other",
                                                Environment={"Variables": {"AB": "1"}})
    assert updated["MemorySize"] == 256
    lam.update_function_code(FunctionName=name, ZipFile=zip_code({"app.py": "import os\ndef other(e, c):\n"
                                                                            "    return os.environ['AB']\n"}))
    wait_active(lam, name)
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "1"
    got = lam.get_function(FunctionName=name)
    assert got["Configuration"]["Handler"] == "app.other"
    with urllib.request.urlopen(got["Code"]["Location"]) as response:  # the zip as uploaded
        assert response.read()[:2] == b"PK"


def test_versions_and_aliases(lam: Any) -> None:
    name = create_function(lam, "def handler(e, c):\n    return 'one'\n")
    v1 = lam.publish_version(FunctionName=name)
    assert v1["Version"] == "1" and v1["FunctionArn"].endswith(f"{name}:1")
    assert lam.publish_version(FunctionName=name)["Version"] == "1"  # nothing changed
    lam.update_function_code(FunctionName=name, ZipFile=zip_code({"app.py": "def handler(e, c):\n    return 'two'\n"}))
    wait_active(lam, name)
    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert alias["AliasArn"].endswith(f"{name}:live")
    assert json.loads(lam.invoke(FunctionName=name, Qualifier="live")["Payload"].read()) == "one"
    assert lam.invoke(FunctionName=f"{name}:1")["ExecutedVersion"] == "1"
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "two"
    v2 = lam.publish_version(FunctionName=name)
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion=v2["Version"])
    assert json.loads(lam.invoke(FunctionName=name, Qualifier="live")["Payload"].read()) == "two"
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "1", "2"]
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["live"]
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName=name, Qualifier="9")
    assert _code(exc) == "ResourceNotFoundException"


def test_permissions_list_and_delete(lam: Any) -> None:
    name = create_function(lam, ECHO)
    statement = lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                                   Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::bucket")
    assert json.loads(statement["Statement"])["Sid"] == "s3"
    policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    assert policy["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    with pytest.raises(ClientError) as exc:
        lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                           Principal="s3.amazonaws.com")
    assert _code(exc) == "ResourceConflictException"
    names = [f["FunctionName"] for page in lam.get_paginator("list_functions").paginate(
        PaginationConfig={"PageSize": 1}) for f in page["Functions"]]
    assert name in names
    lam.delete_function(FunctionName=name)
    with pytest.raises(ClientError) as exc:
        lam.get_function(FunctionName=name)
    assert _code(exc) == "ResourceNotFoundException"


def test_create_refuses_what_lambda_refuses(lam: Any) -> None:
    name = create_function(lam, ECHO)
    with pytest.raises(ClientError) as exc:
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": zip_code({"app.py": ECHO})})
    assert _code(exc) == "ResourceConflictException"
    with pytest.raises(ClientError) as exc:
        lam.create_function(FunctionName=unique("bad"), Runtime="python3.11", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": b"not a zip"})
    assert _code(exc) == "InvalidParameterValueException"
    with pytest.raises(ClientError) as exc:
        lam.create_function(FunctionName=unique("bad"), Runtime="python3.11", Role="not-a-role",
                            Handler="app.handler", Code={"ZipFile": zip_code({"app.py": ECHO})})
    assert _code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        lam.create_function(FunctionName=unique("bad"), Runtime="nodejs20.x", Role=ROLE, Handler="index.handler",
                            Code={"ZipFile": zip_code({"index.js": ""})})
    assert _code(exc) == "InvalidParameterValueException"


def test_code_from_s3(lam: Any, clients: Any) -> None:
    s3 = clients("s3")
    bucket = unique("code")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="fn.zip", Body=zip_code({"app.py": "def handler(e, c):\n    return 's3'\n"}))
    name = unique("s3fn")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                        Code={"S3Bucket": bucket, "S3Key": "fn.zip"})
    wait_active(lam, name)
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "s3"


def test_function_logs_go_to_cloudwatch_logs(lam: Any, clients: Any) -> None:
    name = create_function(lam, ECHO)
    lam.invoke(FunctionName=name, Payload=b'{"marker": "xyzzy"}')
    events = clients("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    assert any("xyzzy" in e["message"] for e in events)


def test_failed_event_invocations_go_to_the_dead_letter_queue_and_on_failure_destination(
    lam: Any, clients: Any
) -> None:
    sqs = clients("sqs")
    queues = {}
    for role in ("dlq", "onfail"):
        url = sqs.create_queue(QueueName=unique(role))["QueueUrl"]
        queues[role] = (url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"])
    with_dlq = create_function(lam, FAILS, DeadLetterConfig={"TargetArn": queues["dlq"][1]})
    lam.put_function_event_invoke_config(FunctionName=with_dlq, MaximumRetryAttempts=0)
    with_destination = create_function(lam, FAILS)
    lam.put_function_event_invoke_config(FunctionName=with_destination, MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": queues["onfail"][1]}})
    lam.invoke(FunctionName=with_dlq, InvocationType="Event", Payload=b'{"job": 1}')
    lam.invoke(FunctionName=with_destination, InvocationType="Event", Payload=b'{"job": 2}')

    def received(url: str) -> list[dict]:
        return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])

    dead = eventually(lambda: received(queues["dlq"][0]))
    assert json.loads(dead[0]["Body"]) == {"job": 1}
    record = json.loads(eventually(lambda: received(queues["onfail"][0]))[0]["Body"])
    assert record["requestPayload"] == {"job": 2}
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "ValueError"
