"""The demo's scheduled step: an EventBridge Scheduler schedule runs the drift check an hour
from now, and the endpoint's clock (a ``VirtualClock``) is moved that hour forward instead of
waiting for it. The check compares the newest batch under ``incoming/`` with the champion's
training data; past its threshold it would publish to the ``drift`` topic and retraining would
start (here the batch comes from the training distribution, so it does not)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from stepkit.engine.clock import VirtualClock

_ROLE = "arn:aws:iam::{account}:role/stepkit-demo-scheduler"


def demo_clock() -> VirtualClock:
    """The demo endpoint's clock: real time until the scheduled step moves it forward."""
    return VirtualClock()


def scheduled_drift_check(endpoint: Any, names: Any, console: Console, ahead: float = 3600.0) -> dict[str, Any]:
    """Schedule the drift check ``ahead`` seconds from the endpoint's now (a one-time ``at()``
    schedule, deleted after it fires), move the clock there, and report what the check found."""
    scheduler, logs = endpoint.client("scheduler"), endpoint.client("logs")
    function = names.function("drift_check")
    group = names.function_log_group("drift_check")
    before = len(_checks(logs, group))
    when = datetime.fromtimestamp(endpoint.clock.now() + ahead, UTC)
    name = f"demo-drift-{uuid.uuid4().hex[:6]}"
    scheduler.create_schedule(
        Name=name, ScheduleExpression=f"at({when.strftime('%Y-%m-%dT%H:%M:%S')})", FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE", Target={
            "Arn": names.function_arn("drift_check"), "RoleArn": _ROLE.format(account=endpoint.account),
            "Input": json.dumps({"batch_prefix": "incoming/"})})
    fired = endpoint.advance_clock(ahead)
    endpoint.wait_idle(120)
    deadline = time.monotonic() + 120
    checks = _checks(logs, group)
    while len(checks) <= before and time.monotonic() < deadline:
        time.sleep(0.2)
        checks = _checks(logs, group)
    found = checks[-1] if len(checks) > before else {}
    outcome = {"schedule": name, "fired": fired, "at": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "function": function,
               **{k: found.get(k) for k in ("batch_key", "drift", "drifted")}}
    if not found:
        console.print(f"[bold]10. scheduled[/bold] drift check: the schedule fired {fired} time(s) but "
                      f"{function} logged no result")
        return outcome
    verdict = "[red]drift: retraining started[/red]" if found.get("drifted") else "no drift, no retraining"
    console.print(f"[bold]10. scheduled[/bold] an EventBridge Scheduler schedule ran {function} at {outcome['at']} "
                  f"(the endpoint's virtual clock moved {ahead / 3600:g} h forward): {found.get('batch_key')} "
                  f"drift {found.get('drift')} → {verdict}")
    return outcome


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
