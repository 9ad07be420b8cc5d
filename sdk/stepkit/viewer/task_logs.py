"""The Lambda log lines of one Task state of one execution.

An invocation's lines are found by its request id (``START RequestId: ID`` ... ``REPORT
RequestId: ID`` in ``/aws/lambda/NAME``), never by time alone: Map iterations and other
executions run the same function at the same moment. The request ids come from two places:

- the history itself: ``arn:aws:states:::lambda:invoke`` returns Lambda's response, whose
  SDK metadata names the request id (``x-amzn-RequestId``), as on AWS;
- the endpoint's ``InvocationLedger``: a plain function ARN's result is only the function's
  payload and a failure's cause is only its error document, so the endpoint notes, as each
  Task state invokes a function, which request id that invocation got. The ledger lives in
  memory (invocations made before the endpoint restarted, or on an endpoint elsewhere, are
  not in it; the answer counts them as ``unrecorded``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stepkit.estimate.usage import function_of, lambda_request_ids, scheduled_kinds
from stepkit.viewer.history import owned_events
from stepkit.viewer.invocations import Invocation, invocations

LogReader = Callable[[str, int, int | None], list[dict[str, Any]]]
"""Reads ``/aws/lambda/NAME``'s events (FilterLogEvents' shape) from a start to an end time
(epoch milliseconds; no end: up to now)."""

SHOWN = 50
"""The invocations one answer shows at most (a Map state of 10,000 iterations: its last 50)."""


def function_name(name_or_arn: str) -> str:
    """``NAME``, ``NAME:QUALIFIER``, ``ACCOUNT:function:NAME[:Q]`` or an ARN: the name."""
    return name_or_arn.split(":function:")[-1].split(":")[0]


@dataclass(frozen=True, slots=True)
class NotedInvocation:
    state: str
    function: str
    request_id: str


class InvocationLedger:
    """Which request id each Task state's Lambda invocation got, per execution (the
    ``limit`` most recent executions are kept)."""

    def __init__(self, limit: int = 2000) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._noted: OrderedDict[str, list[NotedInvocation]] = OrderedDict()

    def note(self, execution_arn: str, state: str, function: str, request_id: str) -> None:
        with self._lock:
            rows = self._noted.setdefault(execution_arn, [])
            self._noted.move_to_end(execution_arn)
            rows.append(NotedInvocation(state, function_name(function), request_id))
            while len(self._noted) > self.limit:
                self._noted.popitem(last=False)

    def noted(self, execution_arn: str, state: str) -> list[NotedInvocation]:
        with self._lock:
            return [n for n in self._noted.get(execution_arn, ()) if n.state == state]

    def integration(self, service: Any) -> NotingIntegration:
        """The Lambda Task integration over ``service`` (the endpoint's ``LambdaService``),
        noting each invocation's request id under its execution and state."""
        return NotingIntegration(self, service)


class NotingIntegration:
    """What the registry runs Lambda tasks with: the local runtime's integration, over a
    ``service`` whose invocations the ledger notes."""

    def __init__(self, ledger: InvocationLedger, service: Any) -> None:
        self.ledger, self.service = ledger, service

    def __call__(self, invocation: Any) -> Any:
        from stepkit.integrations.lambda_runtime import LambdaRuntimeIntegration

        noting: Any = _Noting(self.service, self.ledger, invocation)  # duck-typed as the runtime
        return LambdaRuntimeIntegration(noting)(invocation)


class _Noting:
    """``service`` as one Task attempt's integration calls it: its ``invoke`` notes the result's
    request id (a function's error too: its log lines are the ones worth reading)."""

    def __init__(self, service: Any, ledger: InvocationLedger, invocation: Any) -> None:
        self.service, self.ledger, self.invocation = service, ledger, invocation

    def invoke(self, name_or_arn: str, payload: bytes, **options: Any) -> Any:
        result = self.service.invoke(name_or_arn, payload, **options)
        self.ledger.note(self.invocation.execution_arn, self.invocation.state_name, name_or_arn, result.request_id)
        return result


def _millis(value: Any) -> int:
    return int((value.timestamp() if isinstance(value, datetime) else float(value)) * 1000)


@dataclass(slots=True)
class _StateCalls:
    functions: set[str]
    request_ids: dict[str, str]  # request id -> function ('' when the history does not say)
    attempts: int
    start_ms: int
    end_ms: int | None


def _state_calls(events: list[dict[str, Any]], state: str, running: bool) -> _StateCalls | None:
    """What the history says of ``state``'s Lambda calls; None when it never ran."""
    mine = [event for event, _, name in owned_events(events) if name == state]
    if not mine:
        return None
    scheduling = [e for e in mine if e["type"] in scheduled_kinds()]
    functions = {f for e in scheduling if (f := function_of(e))}
    single = next(iter(functions)) if len(functions) == 1 else ""
    return _StateCalls(
        functions=functions,
        request_ids=dict.fromkeys(lambda_request_ids(mine), single),
        attempts=sum(1 for e in scheduling if function_of(e)),
        start_ms=_millis(mine[0]["timestamp"]),
        end_ms=None if running else _millis(mine[-1]["timestamp"]),
    )


def task_logs(
    events: list[dict[str, Any]], state: str, running: bool, read_logs: LogReader,
    noted: Iterable[NotedInvocation] = (),
) -> dict[str, Any]:
    """``state``'s Lambda invocations in this execution with their log lines, newest first.

    ``invocations``: the last ``SHOWN`` found (each with ``function``); ``calls``: Lambda
    invocations the history scheduled for the state (retries included); ``unrecorded``: those
    whose request id neither the history nor the ledger knows; ``unlogged``: known request ids
    with no log lines (yet: a running invocation's lines are written when it ends).
    """
    calls = _state_calls(events, state, running)
    if calls is None:
        return {"state": state, "calls": 0, "invocations": [], "unrecorded": 0, "unlogged": 0}
    wanted = dict(calls.request_ids)
    for note in noted:
        wanted[note.request_id] = note.function
    by_function: dict[str, set[str]] = defaultdict(set)
    for request_id, function in wanted.items():
        for name in [function] if function else calls.functions:
            by_function[name].add(request_id)
    found: dict[str, tuple[str, Invocation]] = {}
    for function, ids in sorted(by_function.items()):
        # Lines are written when an invocation ends: a second's margin either side of the state.
        end = calls.end_ms + 1000 if calls.end_ms is not None else None
        lines = read_logs(function, calls.start_ms - 1000, end)
        for invocation in invocations(lines, limit=len(lines)):
            if invocation.requestId in ids:
                found[invocation.requestId] = (function, invocation)
    ordered = sorted(found.values(), key=lambda pair: pair[1].started, reverse=True)
    return {
        "state": state,
        "calls": calls.attempts,
        "invocations": [dict(inv.to_dict(), function=function) for function, inv in ordered[:SHOWN]],
        "unrecorded": max(0, calls.attempts - len(wanted)),
        "unlogged": len(wanted) - len(found),
    }

