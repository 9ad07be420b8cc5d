"""``stepkit up`` on a host whose AWS configuration is broken or points elsewhere: it starts,
its own calls (moto, integrations) ignore that configuration, and its Lambda workers see
none of it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from endpoint_helpers import ROLE, create_machine, make_client, unique, wait_active, wait_execution, zip_code

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "functions"
BIN = Path(sys.executable).parent
NOWHERE = "http://127.0.0.1:9"  # nothing listens there


def _hostile_env(tmp_path: Path) -> dict[str, str]:
    broken = tmp_path / "broken-aws-config"
    broken.write_text("[[[ this is not an ini file\n")
    return {
        **os.environ,
        "AWS_PROFILE": "no-such-profile",
        "AWS_CONFIG_FILE": str(broken),
        "AWS_SHARED_CREDENTIALS_FILE": str(broken),
        "AWS_ACCESS_KEY_ID": "AKIAHOST",
        "AWS_SECRET_ACCESS_KEY": "host-secret",
        "AWS_SESSION_TOKEN": "host-session-token",
        "AWS_ENDPOINT_URL": NOWHERE,
        "AWS_ENDPOINT_URL_S3": NOWHERE,
        "AWS_ENDPOINT_URL_SQS": NOWHERE,
        "AWS_CA_BUNDLE": str(broken),
        "HTTP_PROXY": NOWHERE,
        "http_proxy": NOWHERE,
        "HTTPS_PROXY": NOWHERE,
        "NO_PROXY": "",
    }


def test_stepkit_up_ignores_a_broken_host_aws_configuration(tmp_path: Path) -> None:
    stderr = (tmp_path / "stderr").open("w")
    process = subprocess.Popen(
        [str(BIN / "stepkit"), "up", "--port", "0", "--state-dir", str(tmp_path / "state"), "--json"],
        env=_hostile_env(tmp_path), stdout=subprocess.PIPE, stderr=stderr, text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, f"stepkit up did not start: {(tmp_path / 'stderr').read_text()}"
        url = json.loads(line)["url"]
        s3, sqs, sfn, lam = (make_client(url, s) for s in ("s3", "sqs", "stepfunctions", "lambda"))

        s3.create_bucket(Bucket="isolation-bucket")  # moto, in a process whose AWS_PROFILE names nothing
        queue = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
        name = unique("awsenv")
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": zip_code({"app.py": (FIXTURES / "awsenv" / "app.py").read_text()})})
        wait_active(lam, name)
        report = json.loads(lam.invoke(FunctionName=name, Payload=b'{"list_buckets": true}')["Payload"].read())
        env = report["env"]
        assert "boto3_error" not in report, report["boto3_error"]
        assert "isolation-bucket" in report["buckets"]  # through the endpoint, not the host's S3 URL
        assert report["access_key"] == "test" and report["token"] is None and report["s3_endpoint"] == url
        assert not {"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS",
                    "AWS_CA_BUNDLE", "HTTP_PROXY", "http_proxy", "HTTPS_PROXY"} & set(env)
        assert env["AWS_ENDPOINT_URL"] == url and env["AWS_CONFIG_FILE"] == os.devnull

        # The endpoint's own integrations reach its SQS directly, past the host's proxy and URLs.
        arn = create_machine(sfn, {"StartAt": "Send", "States": {"Send": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": queue, "MessageBody": "from the state machine"}, "End": True}}})
        execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
        assert wait_execution(sfn, execution)["status"] == "SUCCEEDED"
        messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"]
        assert [m["Body"] for m in messages] == ["from the state machine"]

        # The commands that look at an endpoint take their keys from the environment and
        # read no profile either (the host's proxies they honour, as the aws CLI does).
        client_env = {k: v for k, v in _hostile_env(tmp_path).items() if "proxy" not in k.lower()}
        listed = subprocess.run([str(BIN / "stepkit"), "executions", "--json", "--endpoint-url", url],
                                env=client_env, capture_output=True, text=True, timeout=120)
        assert listed.returncode == 0, listed.stderr
        assert [e["executionArn"] for e in json.loads(listed.stdout)] == [execution]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
        stderr.close()
    assert "Traceback" not in (tmp_path / "stderr").read_text()
