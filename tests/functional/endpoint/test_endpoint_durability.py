"""Fault injection: the endpoint runs in a subprocess, is killed with SIGKILL while executions
are in Wait states and Lambda tasks, and is started again on the same state dir. Every
execution must reach its end with the right output; the finished ones keep their history;
functions, state machines, buckets, objects and queued messages are still there."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from endpoint_helpers import ROLE, EndpointProcess, make_client, wait_active, wait_execution, zip_code

SLOW_DOUBLE = """
import time
def handler(event, context):
    time.sleep(0.3)
    return {"doubled": event["x"] * 2}
"""

DEFINITION = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Parameters": {"x.$": "$.x", "tag.$": "States.Format('run-{}', $.x)"},
                    "Next": "FirstWait"},
        "FirstWait": {"Type": "Wait", "Seconds": 3, "Next": "Double"},
        "Double": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:slow-double",
                   "ResultPath": "$.result", "Next": "SecondWait"},
        "SecondWait": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
        "Done": {"Type": "Pass", "Parameters": {"tag.$": "$.tag", "value.$": "$.result.doubled"}, "End": True},
    },
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EndpointProcess]:
    server = EndpointProcess(tmp_path / "state")
    yield server
    server.stop()


def _history_types(sfn: Any, arn: str) -> list[str]:
    return [e["type"] for e in sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]]


@pytest.mark.slow
def test_kill_nine_mid_execution_and_restart(server: EndpointProcess) -> None:
    url = server.start()["url"]
    sfn, lam, s3, sqs = (make_client(url, s) for s in ("stepfunctions", "lambda", "s3", "sqs"))
    lam.create_function(FunctionName="slow-double", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": zip_code({"app.py": SLOW_DOUBLE})}, Timeout=10)
    wait_active(lam, "slow-double")
    s3.create_bucket(Bucket="durable-bucket")
    s3.put_object(Bucket="durable-bucket", Key="incoming/model.bin", Body=b"weights")
    queue = sqs.create_queue(QueueName="durable-queue")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="still here")
    machine = sfn.create_state_machine(name="train", definition=json.dumps(DEFINITION), roleArn=ROLE)[
        "stateMachineArn"]
    quick = sfn.create_state_machine(name="quick", definition=json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "done", "End": True}}}), roleArn=ROLE)[
        "stateMachineArn"]
    finished = sfn.start_execution(stateMachineArn=quick, name="before-the-crash")["executionArn"]
    assert wait_execution(sfn, finished)["status"] == "SUCCEEDED"
    finished_history = sfn.get_execution_history(executionArn=finished)["events"]

    executions = {x: sfn.start_execution(stateMachineArn=machine, name=f"run-{x}", input=json.dumps({"x": x}))[
        "executionArn"] for x in range(1, 9)}
    # kill once every execution is under way (in a Wait or the Lambda task), none finished
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        histories = [_history_types(sfn, arn) for arn in executions.values()]
        if all("WaitStateEntered" in h for h in histories):
            break
        time.sleep(0.02)
    assert not any("ExecutionSucceeded" in h for h in histories)
    # every acknowledged change to moto is journaled before its answer: the health check says so
    while json.loads(urllib.request.urlopen(f"{url}/_stepkit/health").read())["persistence"]["moto"] != "saved":
        time.sleep(0.02)
    server.kill()

    url = server.start()["url"]
    assert server.info["resumed_executions"] == len(executions)
    sfn, lam, s3, sqs = (make_client(url, s) for s in ("stepfunctions", "lambda", "s3", "sqs"))
    for x, arn in executions.items():
        described = wait_execution(sfn, arn, timeout=120)
        assert described["status"] == "SUCCEEDED", described
        assert json.loads(described["output"]) == {"tag": f"run-{x}", "value": 2 * x}
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        assert [e["id"] for e in events] == list(range(1, len(events) + 1))
        assert [e["type"] for e in events].count("ExecutionStarted") == 1
        assert events[-1]["type"] == "ExecutionSucceeded"

    assert sfn.get_execution_history(executionArn=finished)["events"] == finished_history
    assert sfn.describe_execution(executionArn=finished)["status"] == "SUCCEEDED"
    assert {m["name"] for m in sfn.list_state_machines()["stateMachines"]} == {"train", "quick"}
    assert lam.get_function_configuration(FunctionName="slow-double")["State"] == "Active"
    assert s3.get_object(Bucket="durable-bucket", Key="incoming/model.bin")["Body"].read() == b"weights"
    queue = sqs.get_queue_url(QueueName="durable-queue")["QueueUrl"]
    assert sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"] == "still here"


@pytest.mark.slow
def test_graceful_stop_keeps_running_executions_running(server: EndpointProcess) -> None:
    url = server.start()["url"]
    sfn = make_client(url, "stepfunctions")
    machine = sfn.create_state_machine(name="waits", roleArn=ROLE, definition=json.dumps({
        "StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 3, "Next": "Done"},
                                      "Done": {"Type": "Pass", "Result": "finished", "End": True}}}))[
        "stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name="across-restart")["executionArn"]
    server.stop()  # SIGTERM: a clean shutdown in the middle of the Wait
    assert server.process is not None and server.process.returncode == 0
    url = server.start()["url"]
    assert server.info["resumed_executions"] == 1
    sfn = make_client(url, "stepfunctions")
    described = wait_execution(sfn, execution)
    assert (described["status"], described["output"]) == ("SUCCEEDED", '"finished"')
    assert "ExecutionAborted" not in _history_types(sfn, execution)
