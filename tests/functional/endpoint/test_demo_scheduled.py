"""The demo's scheduled step (``stepkit.demo.scheduled``) on a real endpoint whose clock is a
virtual clock: the one-time schedule fires the drift check when the clock is moved an hour
forward, is deleted after it fired, and ``stepkit demo --json``'s ``schedule`` and ``drift``
objects say what fired, when on the virtual clock, what it started and what the check found.
The drift check is a stand-in function logging the line the real one logs (the real one needs
a trained model: the demo and tests/e2e run it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from endpoint_helpers import create_function, make_client
from rich.console import Console

from stepkit.demo.scheduled import scheduled_drift_check
from stepkit.endpoint import LocalEndpoint
from stepkit.engine.clock import ManualClock

START = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
CHECK = """import json
def handler(event, context):
    line = {"level": "INFO", "message": "drift checked", "function_request_id": context.aws_request_id,
            "model_version": "1", "batch_key": event["batch_prefix"] + "batch-1.csv", "rows": 40, "drift": 0.12,
            "threshold": 0.5, "drifted": False, "worst_feature": {"name": "x", "shift": 0.3}, "published": None}
    print(json.dumps(line))
    return line
"""


class _Names:
    """The deployed names the step asks for, of a function created directly."""

    def __init__(self, function: str, account: str, region: str) -> None:
        self._function, self._account, self._region = function, account, region

    def function(self, logical: str) -> str:
        assert logical == "drift_check"
        return self._function

    def function_arn(self, logical: str) -> str:
        return f"arn:aws:lambda:{self._region}:{self._account}:function:{self.function(logical)}"

    def function_log_group(self, logical: str) -> str:
        return f"/aws/lambda/{self.function(logical)}"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[LocalEndpoint]:
    with LocalEndpoint(clock=ManualClock(START)) as ep:  # a VirtualClock that moves only when told
        yield ep


def test_the_scheduled_step_reports_the_firing_and_the_check(endpoint: LocalEndpoint) -> None:
    function = create_function(make_client(endpoint.url, "lambda"), CHECK)
    names = _Names(function, endpoint.account, endpoint.region)
    console = Console(record=True, width=300)
    run = scheduled_drift_check(endpoint, names, console, ahead=3600.0)
    summary = run.summary()
    schedule, drift = summary["schedule"], summary["drift"]
    assert schedule["fired"] == 1 and schedule["deleted_after_completion"] is True
    assert schedule["target"] == names.function_arn("drift_check")
    assert schedule["expression"] == "at(2027-01-15T09:00:00)"
    assert schedule["clock"] == {"before": "2027-01-15T08:00:00Z", "advanced_seconds": 3600.0,
                                 "after": "2027-01-15T09:00:00Z"}
    assert schedule["started"]["function"] == function and schedule["started"]["request_id"]
    assert drift == {"model_version": "1", "batch_key": "incoming/batch-1.csv", "rows": 40, "drift": 0.12,
                     "threshold": 0.5, "drifted": False, "worst_feature": {"name": "x", "shift": 0.3},
                     "published": None}
    json.dumps(summary)  # what `stepkit demo --json` prints
    assert "no drift, no retraining" in console.export_text()


def test_a_check_that_logs_nothing_is_reported_as_such(endpoint: LocalEndpoint) -> None:
    function = create_function(make_client(endpoint.url, "lambda"), "def handler(event, context):\n    return {}\n")
    console = Console(record=True, width=300)
    # The invocation has ended when the step looks for the line (it waits for the endpoint to
    # be idle): a short wait for a line that never comes asserts nothing about timing.
    run = scheduled_drift_check(endpoint, _Names(function, endpoint.account, endpoint.region), console, ahead=60.0,
                                log_wait=2.0)
    summary: dict[str, Any] = run.summary()
    assert summary["schedule"]["fired"] == 1 and summary["schedule"]["started"] is None
    assert summary["drift"] is None and "logged no result" in console.export_text()
