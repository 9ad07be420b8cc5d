"""The demo's scheduled step: an EventBridge Scheduler schedule runs the drift check an hour
from now, and the endpoint's clock (a ``VirtualClock``) is moved that hour forward instead of
waiting for it. The check compares the newest batch under ``incoming/`` with the champion's
training data; past its threshold it would publish to the ``drift`` topic and retraining would
start (here the batch comes from the training distribution, so it does not)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from stepkit.engine.clock import VirtualClock

_ROLE = "arn:aws:iam::{account}:role/stepkit-demo-scheduler"
#: the drift check's result fields its "drift checked" log line carries
DRIFT_FIELDS = ("model_version", "batch_key", "rows", "drift", "threshold", "drifted", "worst_feature", "published")


def demo_clock() -> VirtualClock:
    """The demo endpoint's clock: real time until the scheduled step moves it forward."""
    return VirtualClock()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ScheduledRun:
    """What the scheduled step did: the schedule, the virtual clock's move, what the firing
    started (the drift check's invocation) and what the check found."""

    name: str
    expression: str
    target_arn: str
    clock_before: float
    advanced_seconds: float
    fired: int = 0
    deleted_after_completion: bool = False
    check: dict[str, Any] = field(default_factory=dict)
    """The drift check's "drift checked" log line; empty when none was logged."""

    def summary(self) -> dict[str, Any]:
        """``schedule`` and ``drift`` of ``stepkit demo --json``."""
        schedule = {
            "name": self.name, "expression": self.expression, "target": self.target_arn, "fired": self.fired,
            "clock": {"before": _iso(self.clock_before), "advanced_seconds": self.advanced_seconds,
                      "after": _iso(self.clock_before + self.advanced_seconds)},
            "deleted_after_completion": self.deleted_after_completion,
            "started": {"function": self.target_arn.rsplit(":", 1)[-1],
                        "request_id": self.check.get("function_request_id")} if self.check else None,
        }
        drift = {k: self.check.get(k) for k in DRIFT_FIELDS} if self.check else None
        return {"schedule": schedule, "drift": drift}


def scheduled_drift_check(endpoint: Any, names: Any, console: Console, ahead: float = 3600.0,
                          log_wait: float = 120.0) -> ScheduledRun:
    """Schedule the drift check ``ahead`` seconds from the endpoint's now (a one-time ``at()``
    schedule, deleted after it fires), move the clock there, and report what the check found
    (its log line, waited for ``log_wait`` seconds at most)."""
    scheduler, logs = endpoint.client("scheduler"), endpoint.client("logs")
    function = names.function("drift_check")
    group = names.function_log_group("drift_check")
    before = len(_checks(logs, group))
    now = endpoint.clock.now()
    run = ScheduledRun(name=f"demo-drift-{uuid.uuid4().hex[:6]}",
                       expression=f"at({datetime.fromtimestamp(now + ahead, UTC).strftime('%Y-%m-%dT%H:%M:%S')})",
                       target_arn=names.function_arn("drift_check"), clock_before=now, advanced_seconds=ahead)
    scheduler.create_schedule(
        Name=run.name, ScheduleExpression=run.expression, FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE", Target={
            "Arn": run.target_arn, "RoleArn": _ROLE.format(account=endpoint.account),
            "Input": json.dumps({"batch_prefix": "incoming/"})})
    run.fired = endpoint.advance_clock(ahead)
    endpoint.wait_idle(120)
    deadline = time.monotonic() + log_wait
    checks = _checks(logs, group)
    while len(checks) <= before and time.monotonic() < deadline:
        time.sleep(0.2)
        checks = _checks(logs, group)
    run.check = checks[-1] if len(checks) > before else {}
    try:
        scheduler.get_schedule(Name=run.name)
    except scheduler.exceptions.ResourceNotFoundException:
        run.deleted_after_completion = True
    at = _iso(now + ahead)
    if not run.check:
        console.print(f"[bold]10. scheduled[/bold] drift check: the schedule fired {run.fired} time(s) but "
                      f"{function} logged no result")
        return run
    verdict = "[red]drift: retraining started[/red]" if run.check.get("drifted") else "no drift, no retraining"
    console.print(f"[bold]10. scheduled[/bold] an EventBridge Scheduler schedule ran {function} at {at} "
                  f"(the endpoint's virtual clock moved {ahead / 3600:g} h forward): {run.check.get('batch_key')} "
                  f"drift {run.check.get('drift')} → {verdict}")
    return run


def _checks(logs: Any, group: str) -> list[dict[str, Any]]:
    """drift_check's "drift checked" log lines (Powertools' JSON), oldest first."""
    try:
        events = logs.filter_log_events(logGroupName=group)["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    out = []
    for event in sorted(events, key=lambda e: e["timestamp"]):
        try:
            line = json.loads(event["message"])
        except ValueError:
            continue
        if line.get("message") == "drift checked":
            out.append(line)
    return out
