"""Activities through boto3 on a real endpoint: the API, activity Tasks with a worker thread,
AWS's Activity* history events, timeouts, and AWS's errors."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import create_machine, unique, wait_execution

from stepkit.endpoint import LocalEndpoint


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def _history(sfn: Any, arn: str) -> list[dict]:
    return sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]


def _activity_machine(sfn: Any, activity: str, **fields: Any) -> str:
    task = {"Type": "Task", "Resource": activity, "End": True, **fields}
    return create_machine(sfn, {"StartAt": "Work", "States": {"Work": task}})


class Worker:
    """An activity worker on its own thread: polls, answers with ``answer(input)``."""

    def __init__(self, sfn: Any, activity: str, answer: Any, name: str = "worker-1") -> None:
        self.sfn, self.activity, self.answer, self.name = sfn, activity, answer, name
        self.stop = threading.Event()
        self.seen: list[dict] = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            task = self.sfn.get_activity_task(activityArn=self.activity, workerName=self.name)
            if not task.get("taskToken"):
                continue
            data = json.loads(task["input"])
            self.seen.append(data)
            kind, value = self.answer(data)
            if kind == "success":
                self.sfn.send_task_heartbeat(taskToken=task["taskToken"])
                self.sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps(value))
            else:
                self.sfn.send_task_failure(taskToken=task["taskToken"], error=value[0], cause=value[1])

    def __enter__(self) -> Worker:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join(timeout=120)


@pytest.fixture
def short_poll(endpoint: LocalEndpoint) -> Iterator[None]:
    """GetActivityTask waits 0.2 s instead of AWS's 60 s (a worker's loop ends quickly)."""
    activities = endpoint.stepfunctions.activities
    activities.poll_seconds = 0.2
    yield
    activities.poll_seconds = 60.0


def test_activity_crud_and_pagination(sfn: Any) -> None:
    names = [unique("act") for _ in range(3)]
    arns = [sfn.create_activity(name=n, tags=[{"key": "team", "value": "ml"}])["activityArn"] for n in names]
    assert arns[0] == f"arn:aws:states:us-east-1:123456789012:activity:{names[0]}"
    again = sfn.create_activity(name=names[0])  # idempotent on the name
    assert again["activityArn"] == arns[0]
    described = sfn.describe_activity(activityArn=arns[1])
    assert (described["name"], described["activityArn"]) == (names[1], arns[1])
    assert "encryptionConfiguration" not in described
    assert sfn.list_tags_for_resource(resourceArn=arns[2])["tags"] == [{"key": "team", "value": "ml"}]

    listed, token = [], None
    while True:
        page = sfn.list_activities(maxResults=1, **({"nextToken": token} if token else {}))
        assert len(page["activities"]) <= 1
        listed += [a["activityArn"] for a in page["activities"]]
        token = page.get("nextToken")
        if not token:
            break
    assert [a for a in listed if a in arns] == arns

    sfn.delete_activity(activityArn=arns[1])
    sfn.delete_activity(activityArn=arns[1])  # deleting twice is not an error on AWS
    with pytest.raises(ClientError) as exc:
        sfn.describe_activity(activityArn=arns[1])
    assert _error(exc) == ("ActivityDoesNotExist", f"Activity Does Not Exist: '{arns[1]}'")
    assert arns[1] not in [a["activityArn"] for a in sfn.list_activities(maxResults=1000)["activities"]]
    assert sfn.create_activity(name=names[1])["activityArn"] == arns[1]
    assert sfn.list_tags_for_resource(resourceArn=arns[1])["tags"] == []  # the deleted one's tags went with it


@pytest.mark.parametrize(("call", "args", "code"), [
    ("create_activity", {"name": "bad name"}, "InvalidName"),
    ("create_activity", {"name": "a" * 81}, "ValidationException"),
    ("describe_activity", {"activityArn": "arn:aws:states:us-east-1:123456789012:stateMachine:x"}, "InvalidArn"),
    ("delete_activity", {"activityArn": "not-an-arn"}, "InvalidArn"),
    ("get_activity_task", {"activityArn": "arn:aws:states:us-east-1:123456789012:activity:nope"},
     "ActivityDoesNotExist"),
    ("get_activity_task", {"activityArn": "nope"}, "InvalidArn"),
    ("list_activities", {"nextToken": "garbage"}, "InvalidToken"),
])
def test_activity_errors(sfn: Any, call: str, args: dict, code: str) -> None:
    with pytest.raises(ClientError) as exc:
        getattr(sfn, call)(**args)
    assert _error(exc)[0] == code


def test_empty_poll_answers_an_empty_token(sfn: Any, short_poll: None) -> None:
    arn = sfn.create_activity(name=unique("idle"))["activityArn"]
    assert sfn.get_activity_task(activityArn=arn, workerName="w").get("taskToken") == ""


def test_worker_thread_runs_the_task_with_aws_events(sfn: Any, short_poll: None) -> None:
    activity = sfn.create_activity(name=unique("double"))["activityArn"]
    machine = _activity_machine(sfn, activity, TimeoutSeconds=300, HeartbeatSeconds=200)
    with Worker(sfn, activity, lambda data: ("success", {"doubled": data["n"] * 2})) as worker:
        arns = [sfn.start_execution(stateMachineArn=machine, input=json.dumps({"n": n}))["executionArn"]
                for n in range(3)]
        results = [wait_execution(sfn, arn, timeout=120) for arn in arns]
    assert [json.loads(r["output"]) for r in results] == [{"doubled": 0}, {"doubled": 2}, {"doubled": 4}]
    assert sorted(d["n"] for d in worker.seen) == [0, 1, 2]
    events = _history(sfn, arns[1])
    assert [e["type"] for e in events] == ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled",
                                           "ActivityStarted", "ActivitySucceeded", "TaskStateExited",
                                           "ExecutionSucceeded"]
    assert events[2]["activityScheduledEventDetails"] == {
        "resource": activity, "input": '{"n":1}', "inputDetails": {"truncated": False},
        "timeoutInSeconds": 300, "heartbeatInSeconds": 200}
    assert events[3]["activityStartedEventDetails"] == {"workerName": "worker-1"}
    assert events[4]["activitySucceededEventDetails"] == {"output": '{"doubled":2}',
                                                          "outputDetails": {"truncated": False}}
    assert [e["previousEventId"] for e in events[2:5]] == [2, 3, 4]


def test_worker_failure_is_caught_as_the_error_sent(sfn: Any, short_poll: None) -> None:
    activity = sfn.create_activity(name=unique("fails"))["activityArn"]
    definition = {"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": activity, "End": True,
                 "Catch": [{"ErrorEquals": ["Custom.Bad"], "ResultPath": "$.err", "Next": "Caught"}]},
        "Caught": {"Type": "Pass", "End": True}}}
    machine = create_machine(sfn, definition)
    with Worker(sfn, activity, lambda data: ("failure", ("Custom.Bad", "it broke"))):
        arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        result = wait_execution(sfn, arn, timeout=120)
    assert json.loads(result["output"]) == {"err": {"Error": "Custom.Bad", "Cause": "it broke"}}
    failed = [e for e in _history(sfn, arn) if e["type"] == "ActivityFailed"]
    assert failed[0]["activityFailedEventDetails"] == {"error": "Custom.Bad", "cause": "it broke"}


def _wait_for_event(sfn: Any, arn: str, kind: str) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for event in _history(sfn, arn):
            if event["type"] == kind:
                return event
        time.sleep(0.05)
    raise AssertionError(f"no {kind} event in {arn}")


def test_heartbeat_timeout_and_a_stale_token(sfn: Any) -> None:
    activity = sfn.create_activity(name=unique("silent"))["activityArn"]
    machine = _activity_machine(sfn, activity, HeartbeatSeconds=1)
    arn = sfn.start_execution(stateMachineArn=machine, input='{"k":"v"}')["executionArn"]
    task = sfn.get_activity_task(activityArn=activity)  # no workerName
    assert json.loads(task["input"]) == {"k": "v"}
    result = wait_execution(sfn, arn, timeout=120)  # the worker never heartbeats
    assert (result["status"], result["error"]) == ("FAILED", "States.Timeout")  # as AWS records a heartbeat's
    events = _history(sfn, arn)
    assert [e["type"] for e in events][2:5] == ["ActivityScheduled", "ActivityStarted", "ActivityTimedOut"]
    assert events[3]["activityStartedEventDetails"] == {}
    assert events[4]["activityTimedOutEventDetails"] == {"error": "States.Timeout"}
    for send in (lambda: sfn.send_task_success(taskToken=task["taskToken"], output="{}"),
                 lambda: sfn.send_task_heartbeat(taskToken=task["taskToken"])):
        with pytest.raises(ClientError) as exc:
            send()
        assert _error(exc)[0] == "TaskTimedOut"


def test_timeout_while_no_worker_takes_the_task(sfn: Any) -> None:
    activity = sfn.create_activity(name=unique("unpolled"))["activityArn"]
    definition = {"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": activity, "TimeoutSeconds": 1, "End": True,
                 "Retry": [{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 1, "IntervalSeconds": 1}]}}}
    arn = sfn.start_execution(stateMachineArn=create_machine(sfn, definition), input="{}")["executionArn"]
    result = wait_execution(sfn, arn, timeout=120)
    assert (result["status"], result["error"]) == ("FAILED", "States.Timeout")
    kinds = [e["type"] for e in _history(sfn, arn)]
    assert kinds.count("ActivityScheduled") == 2 and kinds.count("ActivityTimedOut") == 2
    assert "ActivityStarted" not in kinds


def test_missing_activity_fails_with_states_runtime(sfn: Any) -> None:
    missing = f"arn:aws:states:us-east-1:123456789012:activity:{unique('gone')}"
    arn = sfn.start_execution(stateMachineArn=_activity_machine(sfn, missing), input="{}")["executionArn"]
    result = wait_execution(sfn, arn, timeout=120)
    assert result["error"] == "States.Runtime"
    assert result["cause"] == ("An error occurred while executing the state 'Work' (entered at the event id #2). "
                               f"The activity {missing} does not exist.")
    assert [e["type"] for e in _history(sfn, arn)] == ["ExecutionStarted", "TaskStateEntered", "ExecutionFailed"]


def test_stopped_execution_leaves_no_task(sfn: Any, short_poll: None) -> None:
    activity = sfn.create_activity(name=unique("stopped"))["activityArn"]
    machine = _activity_machine(sfn, activity)
    arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    task = sfn.get_activity_task(activityArn=activity, workerName="w")
    assert task["taskToken"]
    sfn.stop_execution(executionArn=arn, error="Stop", cause="by the test")
    assert wait_execution(sfn, arn)["status"] == "ABORTED"
    with pytest.raises(ClientError) as exc:
        sfn.send_task_success(taskToken=task["taskToken"], output="{}")
    assert _error(exc)[0] == "TaskDoesNotExist"
    second = sfn.start_execution(stateMachineArn=machine, input='{"second":true}')["executionArn"]
    _wait_for_event(sfn, second, "ActivityScheduled")
    sfn.stop_execution(executionArn=second)
    assert wait_execution(sfn, second)["status"] == "ABORTED"
    assert sfn.get_activity_task(activityArn=activity).get("taskToken") == ""  # the queued task went too


def test_callback_errors(sfn: Any) -> None:
    for token, code in (("f" * 64, "TaskDoesNotExist"), ("junk", "InvalidToken")):
        with pytest.raises(ClientError) as exc:
            sfn.send_task_success(taskToken=token, output="{}")
        assert _error(exc)[0] == code
    activity = sfn.create_activity(name=unique("out"))["activityArn"]
    machine = _activity_machine(sfn, activity)
    arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    task = sfn.get_activity_task(activityArn=activity)
    with pytest.raises(ClientError) as exc:
        sfn.send_task_success(taskToken=task["taskToken"], output="{not json")
    assert _error(exc)[0] == "InvalidOutput"
    sfn.send_task_success(taskToken=task["taskToken"], output='"done"')
    assert wait_execution(sfn, arn)["output"] == '"done"'
    sfn.delete_state_machine(stateMachineArn=machine)


def test_validation_accepts_an_activity_resource(sfn: Any) -> None:
    activity = sfn.create_activity(name=unique("valid"))["activityArn"]
    checked = sfn.validate_state_machine_definition(
        definition=json.dumps({"StartAt": "W", "States": {"W": {"Type": "Task", "Resource": activity, "End": True}}}))
    assert checked["result"] == "OK"
