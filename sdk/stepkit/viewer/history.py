"""An execution's history (GetExecutionHistory's events, AWS's shape) read state by state.

Events of concurrent branches and Map iterations interleave, so each event is put in the
state it belongs to by following ``previousEventId``: a ``*StateEntered`` event opens a
state, every later event inherits the state of the event it follows, and the
``*StateExited`` event names its own. A state entered many times (a Map iteration's states,
a loop) is summed up: first entry to last exit, entries, attempts past the first (retries),
the last error, the last input and output.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

#: Events that start one attempt of a state's work; more of them than entries are retries.
_ATTEMPTS = {"LambdaFunctionScheduled", "TaskScheduled", "ActivityScheduled", "MapStateStarted",
             "ParallelStateStarted"}
_FAILURES = ("Failed", "TimedOut", "Aborted", "StartFailed", "ScheduleFailed", "SubmitFailed")


@dataclass
class StateRun:
    name: str
    type: str = ""
    status: str = "RUNNING"  # SUCCEEDED, FAILED, CAUGHT (failed then left by a Catch), RUNNING, ABORTED
    entered: float | None = None  # epoch seconds of the first entry
    exited: float | None = None  # of the last exit
    entries: int = 0
    exits: int = 0
    attempts: int = 0
    errors: int = 0
    error: str | None = None
    cause: str | None = None
    input: str | None = None
    output: str | None = None

    @property
    def retries(self) -> int:
        return max(0, self.attempts - self.entries)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["retries"] = self.retries
        out["durationMs"] = (round((self.exited - self.entered) * 1000) if self.exited is not None
                             and self.entered is not None else None)
        return out


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _details(event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if key[-12:] == "EventDetails" and isinstance(value, dict):
            return value
    return {}


def owned_events(
    events: Iterable[dict[str, Any]], owner: dict[int, str] | None = None,
) -> Iterator[tuple[dict[str, Any], dict[str, Any], str | None]]:
    """Each event with its details and the name of the state it belongs to (None: the
    execution's own events), following ``previousEventId`` as the module's docstring says.
    ``owner`` (event id -> state) carries on from the events read before."""
    owner = {} if owner is None else owner
    for event in events:
        kind: str = event["type"]
        details = _details(event)
        name = owner.get(event.get("previousEventId") or 0)
        if kind.endswith("StateEntered"):
            name = details.get("name")
        elif kind.endswith("StateExited"):
            name = details.get("name", name)
        if name is not None:
            owner[event["id"]] = name
        yield event, details, name


class StateRunFold:
    """``state_runs`` read on as events arrive: a running execution's page asks every second,
    and only the events since its last answer are read again."""

    def __init__(self) -> None:
        self.count = 0  # events read
        self.last_id = 0
        self._owner: dict[int, str] = {}
        self._runs: dict[str, StateRun] = {}

    def feed(self, events: Iterable[dict[str, Any]]) -> None:
        for event, details, name in owned_events(events, self._owner):
            self.count += 1
            self.last_id = event["id"]
            if name is not None:
                run = self._runs.setdefault(name, StateRun(name))
                _apply(run, event["type"], details, _epoch(event["timestamp"]))

    def runs(self, execution_status: str) -> list[StateRun]:
        """Each state's summary, in order of first entry; a state still running in an execution
        that is not is ABORTED."""
        if execution_status == "RUNNING":
            return [replace(run) for run in self._runs.values()]
        return [replace(run, status="ABORTED") if run.status == "RUNNING" else replace(run)
                for run in self._runs.values()]


def state_runs(events: list[dict[str, Any]], execution_status: str) -> list[StateRun]:
    """Each state's summary, in order of first entry."""
    fold = StateRunFold()
    fold.feed(events)
    return fold.runs(execution_status)


def _apply(run: StateRun, kind: str, details: dict[str, Any], when: float) -> None:
    """One event's effect. A failure makes the state FAILED until a retry's next attempt
    (RUNNING again) or an exit after it (a Catch led on: CAUGHT); other states' entries
    never hide a failure."""
    if kind.endswith("StateEntered"):
        run.type = kind.removesuffix("StateEntered")
        run.entries += 1
        run.entered = when if run.entered is None else run.entered
        run.input = details.get("input", run.input)
        if run.status == "SUCCEEDED":
            run.status = "RUNNING"
    elif kind.endswith("StateExited"):
        run.exits += 1
        run.exited = when
        run.output = details.get("output", run.output)
        if run.status == "FAILED":
            run.status = "CAUGHT"
        elif run.status == "RUNNING" and run.exits >= run.entries:
            run.status = "SUCCEEDED"
    elif kind in _ATTEMPTS:
        run.attempts += 1
        if run.status == "FAILED":
            run.status = "RUNNING"
    elif kind.endswith(_FAILURES):
        run.errors += 1
        run.error = details.get("error", run.error)
        run.cause = details.get("cause", run.cause)
        run.exited = when
        run.status = "FAILED"


def map_state_of_run(events: list[dict[str, Any]], map_run_arn: str) -> str | None:
    """The name of the Map state that started ``map_run_arn`` (its ``MapRunStarted`` event's
    state), which names the item processor its child executions run."""
    for event, details, name in owned_events(events):
        if event["type"] == "MapRunStarted" and details.get("mapRunArn") == map_run_arn:
            return name
    return None
