"""LocalStack's own Lambda, Step Functions, S3 notifications and SQS event source mappings,
on the host without Docker, running real handlers in stepkit's runtime."""

from __future__ import annotations

import base64
import io
import json
import sys
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.localstack

ROLE = "arn:aws:iam::000000000000:role/lambda-role"

APP = '''
import json
import os
import sys
import time

import boto3


def handler(event, context):
    if event.get("fail"):
        raise ValueError("boom: " + str(event["fail"]))
    if event.get("sleep"):
        time.sleep(event["sleep"])
    print("handling", json.dumps(event))
    return {
        "event": event,
        "function_name": context.function_name,
        "request_id": context.aws_request_id,
        "invoked_arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "region": os.environ["AWS_REGION"],
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "greeting": os.environ.get("GREETING"),
        "python": "%d.%d" % sys.version_info[:2],
    }


def to_s3(event, context):
    """Writes what it got to OUT_BUCKET with boto3 (which LocalStack's AWS_ENDPOINT_URL points home)."""
    s3 = boto3.client("s3")
    for record in event.get("Records", []):
        if record.get("eventSource") == "aws:sqs":
            key, body = "sqs/" + record["body"], record["body"]
        else:
            key, body = "s3/" + record["s3"]["object"]["key"], json.dumps(record["s3"])
        s3.put_object(Bucket=os.environ["OUT_BUCKET"], Key=key, Body=body.encode())
    return {"records": len(event.get("Records", []))}
'''


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buffer.getvalue()


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _wait(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _create(aws, name: str, handler: str = "app.handler", **extra: Any) -> dict:  # type: ignore[no-untyped-def]
    lam = aws("lambda")
    lam.create_function(
        FunctionName=name,
        Runtime=extra.pop("Runtime", "python3.11"),
        Role=ROLE,
        Handler=handler,
        Code={"ZipFile": _zip({"app.py": APP})},
        **extra,
    )

    def settled() -> dict | None:
        config = lam.get_function_configuration(FunctionName=name)
        return None if config["State"] == "Pending" else config

    return _wait(settled, what=f"function {name} to leave Pending")


def _invoke(aws, name: str, event: dict) -> tuple[dict, Any]:  # type: ignore[no-untyped-def]
    response = aws("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail")
    return response, json.loads(response["Payload"].read())


def test_create_function_becomes_active_and_invoke_runs_the_handler(aws) -> None:  # type: ignore[no-untyped-def]
    name = _name("echo")
    config = _create(aws, name, MemorySize=256, Environment={"Variables": {"GREETING": "hello"}})
    assert config["State"] == "Active", config.get("StateReason")

    response, body = _invoke(aws, name, {"rows": 3})
    request_id = response["ResponseMetadata"]["RequestId"]
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert body["event"] == {"rows": 3}
    assert body["function_name"] == name
    assert body["request_id"] == request_id  # LocalStack's request id reaches the handler's context
    assert body["invoked_arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert (body["memory"], body["greeting"], body["region"]) == ("256", "hello", "us-east-1")
    assert 0 < body["remaining_ms"] <= 3000
    assert body["endpoint"].startswith("http://127.0.0.1:")

    log = base64.b64decode(response["LogResult"]).decode()
    assert f"START RequestId: {request_id}" in log
    assert 'handling {"rows": 3}' in log
    assert f"REPORT RequestId: {request_id}" in log and "Init Duration" in log

    # The second invocation reuses the warm worker: no Init Duration.
    response, body = _invoke(aws, name, {"rows": 4})
    assert body["event"] == {"rows": 4}
    assert "Init Duration" not in base64.b64decode(response["LogResult"]).decode()

    # LocalStack files the log in CloudWatch Logs, as Lambda does.
    logs = aws("logs")

    def filed() -> bool:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return False
        return any(f"START RequestId: {request_id}" in e["message"] for e in events)

    _wait(filed, what="the invocation's log in CloudWatch Logs")


def test_handler_error_comes_back_as_lambda_reports_it(aws) -> None:  # type: ignore[no-untyped-def]
    name = _name("fails")
    _create(aws, name)
    response, body = _invoke(aws, name, {"fail": "bad rows"})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "boom: bad rows"
    assert body["requestId"] == response["ResponseMetadata"]["RequestId"]
    assert any("raise ValueError" in line for line in body["stackTrace"])
    assert "[ERROR] ValueError: boom: bad rows" in base64.b64decode(response["LogResult"]).decode()


def test_timeout_is_lambdas_sandbox_timeout(aws) -> None:  # type: ignore[no-untyped-def]
    name = _name("slow")
    _create(aws, name, Timeout=1)
    response, body = _invoke(aws, name, {"sleep": 5})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Task timed out after 1.00 seconds")
    # A fresh worker takes the next invocation.
    _, body = _invoke(aws, name, {"after": "timeout"})
    assert body["event"] == {"after": "timeout"}


def test_a_function_runs_on_its_runtimes_python_where_this_machine_has_it(aws) -> None:  # type: ignore[no-untyped-def]
    from stepkit.localstack_plugin.helper import interpreter_for

    runtime = "python3.12" if sys.version_info[:2] != (3, 12) else "python3.13"
    name = _name("py")
    _create(aws, name, Runtime=runtime, Timeout=30)
    response, body = _invoke(aws, name, {"which": "python"})
    assert "FunctionError" not in response, body
    expected = runtime.removeprefix("python") if interpreter_for(runtime) else "{}.{}".format(*sys.version_info[:2])
    assert body["python"] == expected


def test_a_function_that_is_not_python_fails_with_the_reason(aws) -> None:  # type: ignore[no-untyped-def]
    config = _create(aws, _name("node"), handler="index.handler", Runtime="nodejs20.x")
    assert config["State"] == "Failed"
    assert "Python functions only" in config["StateReason"]


def test_step_functions_lambda_task_runs_the_handler(aws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = _name("task")
    arn = _create(aws, name)["FunctionArn"]
    sfn = aws("stepfunctions")
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": arn, "Payload.$": "$"},
                "OutputPath": "$.Payload",
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(
        name=_name("machine"), definition=json.dumps(definition), roleArn="arn:aws:iam::000000000000:role/sfn"
    )["stateMachineArn"]

    def finished(execution_arn: str) -> dict:
        def check() -> dict | None:
            described = sfn.describe_execution(executionArn=execution_arn)
            return None if described["status"] == "RUNNING" else described

        return _wait(check, what="the execution to finish")

    ok = finished(sfn.start_execution(stateMachineArn=machine, input=json.dumps({"rows": 7}))["executionArn"])
    assert ok["status"] == "SUCCEEDED", ok
    output = json.loads(ok["output"])
    assert output["event"] == {"rows": 7}
    assert output["function_name"] == name

    # A handler failure reaches the state machine as the Lambda error: errorType as Error,
    # the error payload as Cause (as on AWS and on stepkit's local endpoint).
    failed = finished(sfn.start_execution(stateMachineArn=machine, input=json.dumps({"fail": "x"}))["executionArn"])
    assert failed["status"] == "FAILED"
    assert failed["error"] == "ValueError"
    cause = json.loads(failed["cause"])
    assert (cause["errorType"], cause["errorMessage"]) == ("ValueError", "boom: x")

    # The same definition and handler on stepkit's own engine and runtime fail the same way.
    local = _run_locally(definition, name, {"fail": "x"}, tmp_path)
    assert (local.status, local.error) == ("FAILED", "ValueError")
    local_cause = json.loads(local.cause)
    assert sorted(local_cause) == sorted(cause)
    assert {k: local_cause[k] for k in ("errorType", "errorMessage")} == {
        k: cause[k] for k in ("errorType", "errorMessage")
    }


def _run_locally(definition: dict, name: str, event: dict, tmp_path: Path):  # type: ignore[no-untyped-def]
    from stepkit import StateMachine
    from stepkit.integrations.lambda_runtime import LambdaRuntimeIntegration
    from stepkit.integrations.registry import IntegrationRegistry
    from stepkit.runtime import FunctionConfig, LambdaRuntime

    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(APP)
    config = FunctionConfig(name=name, code_dir=code, handler="app.handler")
    with LambdaRuntime([config], account_id="000000000000") as runtime:
        registry = IntegrationRegistry()
        registry.set_lambda_backend(LambdaRuntimeIntegration(runtime))
        return StateMachine(definition, registry=registry).run(event)


def _object(s3, bucket: str, key: str) -> bytes | None:  # type: ignore[no-untyped-def]
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None


def test_sqs_event_source_mapping_and_s3_notification_run_the_handler(aws) -> None:  # type: ignore[no-untyped-def]
    s3, sqs, lam = aws("s3"), aws("sqs"), aws("lambda")
    out_bucket, in_bucket = _name("out"), _name("in")
    s3.create_bucket(Bucket=out_bucket)
    s3.create_bucket(Bucket=in_bucket)
    name = _name("tos3")
    function_arn = _create(aws, name, handler="app.to_s3", Environment={"Variables": {"OUT_BUCKET": out_bucket}})[
        "FunctionArn"
    ]

    queue_url = sqs.create_queue(QueueName=_name("queue"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=name, BatchSize=1)
    _wait(lambda: lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled", what="the mapping")
    sqs.send_message(QueueUrl=queue_url, MessageBody="hello-from-sqs")
    assert _wait(lambda: _object(s3, out_bucket, "sqs/hello-from-sqs"), what="the SQS message's object") == (
        b"hello-from-sqs"
    )

    s3.put_bucket_notification_configuration(
        Bucket=in_bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": function_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    s3.put_object(Bucket=in_bucket, Key="data/train.csv", Body=b"a,b\n1,2\n")
    record = json.loads(_wait(lambda: _object(s3, out_bucket, "s3/data/train.csv"), what="the S3 event's object"))
    assert record["bucket"]["name"] == in_bucket
    assert record["object"]["key"] == "data/train.csv"
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_a_lost_helper_is_replaced_on_the_next_invocation(aws, localstack) -> None:  # type: ignore[no-untyped-def]
    import os
    import signal
    from pathlib import Path

    from stepkit.localstack_plugin import host

    name = _name("phoenix")
    _create(aws, name)
    assert _invoke(aws, name, {"n": 1})[1]["event"] == {"n": 1}
    helpers = [
        pid
        for pid in host.descendants(localstack.pid)
        if b"stepkit.localstack_plugin.helper" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    assert len(helpers) == 1
    os.kill(helpers[0], signal.SIGKILL)
    _wait(lambda: not host.alive(helpers[0]), what="the helper to die")
    response, body = _invoke(aws, name, {"n": 2})
    assert "FunctionError" not in response, body
    assert body["event"] == {"n": 2}
