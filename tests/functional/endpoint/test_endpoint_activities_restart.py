"""Activity tasks across a stop and start of the endpoint with the same state dir: a task no
worker took is there for the next worker; a task a worker took stays that worker's (its
token still answers) and times out by its HeartbeatSeconds when the worker is gone."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from endpoint_helpers import create_machine, make_client, unique, wait_execution

from stepkit.endpoint import LocalEndpoint


def _scheduled(sfn: Any, arn: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if any(e["type"] == "ActivityScheduled" for e in sfn.get_execution_history(executionArn=arn)["events"]):
            return
        time.sleep(0.05)
    raise AssertionError("the activity task was never scheduled")


def _start(state_dir: Path) -> tuple[LocalEndpoint, Any]:
    endpoint = LocalEndpoint(state_dir=state_dir).start()
    return endpoint, make_client(endpoint.url, "stepfunctions")


def _machine(sfn: Any, activity: str, **fields: Any) -> str:
    task = {"Type": "Task", "Resource": activity, "End": True, **fields}
    return create_machine(sfn, {"StartAt": "Work", "States": {"Work": task}})


def test_a_task_no_worker_took_is_there_after_a_restart(tmp_path: Path) -> None:
    endpoint, sfn = _start(tmp_path)
    try:
        activity = sfn.create_activity(name=unique("durable"))["activityArn"]
        arn = sfn.start_execution(stateMachineArn=_machine(sfn, activity), input='{"job":7}')["executionArn"]
        _scheduled(sfn, arn)
    finally:
        endpoint.stop()
    endpoint, sfn = _start(tmp_path)
    try:
        assert sfn.describe_activity(activityArn=activity)["activityArn"] == activity
        task = sfn.get_activity_task(activityArn=activity, workerName="after-restart")
        assert json.loads(task["input"]) == {"job": 7}
        sfn.send_task_success(taskToken=task["taskToken"], output='{"ok":true}')
        result = wait_execution(sfn, arn, timeout=120)
        assert (result["status"], result["output"]) == ("SUCCEEDED", '{"ok":true}')
        started = [e for e in sfn.get_execution_history(executionArn=arn)["events"] if e["type"] == "ActivityStarted"]
        assert started[-1]["activityStartedEventDetails"] == {"workerName": "after-restart"}
    finally:
        endpoint.stop()


def _taken_then_restarted(tmp_path: Path, **fields: Any) -> tuple[LocalEndpoint, Any, str, str, dict]:
    """An execution whose activity task worker "w1" took, then a stop and a start."""
    endpoint, sfn = _start(tmp_path)
    try:
        activity = sfn.create_activity(name=unique("taken"))["activityArn"]
        arn = sfn.start_execution(stateMachineArn=_machine(sfn, activity, **fields), input="{}")["executionArn"]
        task = sfn.get_activity_task(activityArn=activity, workerName="w1")
        assert task["taskToken"]
    finally:
        endpoint.stop()
    endpoint, sfn = _start(tmp_path)
    return endpoint, sfn, activity, arn, task


def test_a_taken_task_keeps_its_token_across_a_restart(tmp_path: Path) -> None:
    endpoint, sfn, activity, arn, task = _taken_then_restarted(tmp_path)
    try:
        endpoint.stepfunctions.activities.poll_seconds = 0.2
        assert sfn.get_activity_task(activityArn=activity).get("taskToken") == ""  # not handed out twice
        sfn.send_task_success(taskToken=task["taskToken"], output='"finished"')
        assert wait_execution(sfn, arn, timeout=120)["output"] == '"finished"'
    finally:
        endpoint.stop()


def test_a_taken_task_times_out_when_its_worker_is_gone(tmp_path: Path) -> None:
    endpoint, sfn, _, arn, _ = _taken_then_restarted(tmp_path, HeartbeatSeconds=2)
    try:
        result = wait_execution(sfn, arn, timeout=120)
        assert (result["status"], result["error"]) == ("FAILED", "States.Timeout")
        kinds = [e["type"] for e in sfn.get_execution_history(executionArn=arn)["events"]]
        assert kinds[-2:] == ["ActivityTimedOut", "ExecutionFailed"]
    finally:
        endpoint.stop()
