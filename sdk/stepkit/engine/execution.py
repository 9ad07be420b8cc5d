"""One execution: the transition loop, the history, the integrations it may call."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from stepkit.asl import errors
from stepkit.asl.errors import StateEvaluationError, StatesError
from stepkit.engine.clock import Clock
from stepkit.engine.compiler import Program
from stepkit.engine.frame import Frame, iso_millis
from stepkit.engine.history import EventSink, HistoryEvent
from stepkit.engine.states import MAX_PAYLOAD_BYTES, payload_size, qualify
from stepkit.engine.task_tokens import TaskTokens
from stepkit.engine.tasks import Integration, TaskResolver, TaskResource

EventListener = EventSink
_EXECUTION_ENDS = frozenset({"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"})


#: AWS's hard quota of events in a STANDARD execution's history ("Avoid reaching the history
#: quota": event 25,000 is the ExecutionSucceeded, or else an ExecutionFailed). EXPRESS
#: executions keep no such history and have no such quota.
HISTORY_LIMIT = 25_000
#: What AWS records in that ExecutionFailed (recorded against AWS: floci-io/floci#2734,
#: loads/ardere#86).
HISTORY_LIMIT_CAUSE = "The execution reached the maximum number of history events ({limit})."


def derive_execution_arn(state_machine_arn: str, name: str, *, express: bool) -> str:
    """The ARN of execution ``name`` of a machine (or of a Map Run's ``MACHINE/LABEL``):
    ``...:execution:MACHINE:NAME``, or ``...:express:MACHINE:NAME:ID`` (a new ID each time)
    for an EXPRESS execution."""
    if express:
        return f"{state_machine_arn.replace(':stateMachine:', ':express:', 1)}:{name}:{uuid.uuid4()}"
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


class ExecutionAborted(StatesError):
    """The execution was stopped from outside (StopExecution)."""


class HistoryLimitReached(StatesError):
    """The history reached its quota: the execution has failed (States.Runtime, which no
    Retry or Catch takes); every branch still running stops at its next event."""


@dataclass
class Execution:
    """The result of an execution, as DescribeExecution and GetExecutionHistory show it."""

    execution_arn: str
    name: str
    state_machine_arn: str
    status: str
    input: Any
    output: Any = None
    error: str | None = None
    cause: str | None = None
    start_date: float = 0.0
    stop_date: float | None = None
    history: list[HistoryEvent] = field(default_factory=list)

    @property
    def event_types(self) -> list[str]:
        return [e.event_type for e in self.history]

    def events(self) -> list[dict[str, Any]]:
        """The history in AWS's GetExecutionHistory shape."""
        return [e.to_aws() for e in self.history]


@dataclass
class _ResumePoint:
    """What resuming needs of a recorded history, gathered in one pass that keeps nothing
    else: the ExecutionStarted, the last event id, the variables the top-level states
    assigned, the last top-level state event, the last Execution* event after the start and
    how many ExecutionRedriven there were."""

    started: HistoryEvent
    last_id: int
    variables: dict[str, Any] = field(default_factory=dict)
    last_transition: HistoryEvent | None = None
    last_execution_event: HistoryEvent | None = None
    redrives: int = 0

    @classmethod
    def scan(cls, events: Iterable[HistoryEvent], last_event_id: int = 0) -> _ResumePoint:
        stream = iter(events)
        started = next(stream, None)
        if started is None or started.event_type != "ExecutionStarted":
            raise ValueError("a history to resume starts with ExecutionStarted")
        point = cls(started, max(started.event_id, last_event_id))
        for event in stream:
            point.last_id = max(point.last_id, event.event_id)
            if event.depth != 0:
                continue
            kind = event.event_type
            if kind.startswith("Execution"):
                point.last_execution_event = event
                point.redrives += kind == "ExecutionRedriven"
            elif kind.endswith("StateExited"):
                point.variables.update((event.details or {}).get("assignedVariables") or {})
                point.last_transition = event
            elif kind.endswith("StateEntered"):
                point.last_transition = event
        return point


class ExecutionRun:
    def __init__(
        self,
        program: Program,
        *,
        input: Any,
        name: str,
        state_machine_arn: str,
        resolver: TaskResolver,
        clock: Clock,
        tokens: TaskTokens,
        role_arn: str = "arn:aws:iam::123456789012:role/stepkit",
        listener: EventListener | None = None,
        express: bool = False,
        unlimited_history: bool = False,
        execution_arn: str | None = None,
        redrive_count: int = 0,
        retain_child_histories: bool = True,
        keep_history: bool = True,
    ) -> None:
        """``resolver`` answers which integration runs each Task (and makes AWS clients).
        ``unlimited_history``: no 25,000-event quota on a STANDARD execution (a local run
        that AWS would fail); an EXPRESS execution has none anyway.

        ``execution_arn``: the ARN the caller already gave the execution (the endpoint's
        record, a Map Run's child); by default ``derive_execution_arn`` derives it.
        ``redrive_count``: ``$$.Execution.RedriveCount`` of an execution redriven before.
        ``retain_child_histories``: whether Distributed Map children that succeeded keep
        their history once they ended (failed ones always do: a redrive needs it).
        ``keep_history``: False streams every event to ``listener`` (the sink) only, and
        the run holds no list of them, so a long execution runs in bounded memory."""
        self.program = program
        self.input = input
        self.name = name
        self.state_machine_arn = state_machine_arn
        sm_name = state_machine_arn.rsplit(":", 1)[-1]
        self.execution_arn = execution_arn or derive_execution_arn(state_machine_arn, name, express=express)
        self.retain_child_histories = retain_child_histories
        self.keep_history = keep_history
        self.resolver = resolver
        self.clock = clock
        self._now = clock.now
        self.tokens = tokens
        self.listener = listener
        self.history: list[HistoryEvent] = []
        self._ids = itertools.count(1)
        self.history_limit = None if express or unlimited_history else HISTORY_LIMIT
        self._limit_reached: HistoryLimitReached | None = None
        self._limit_recorded = threading.Event()
        self._stop = threading.Event()
        self._stop_reason: tuple[str | None, str | None] = (None, None)
        self.start_time = clock.now()
        self.execution_context = {
            "Id": self.execution_arn,
            "Input": input,
            "StartTime": iso_millis(self.start_time),
            "Name": name,
            "RoleArn": role_arn,
        }
        if not express:  # Express workflows cannot be redriven
            self.execution_context["RedriveCount"] = redrive_count
        self.state_machine_context = {"Id": state_machine_arn, "Name": sm_name}
        self.role_arn = role_arn
        # Distributed Map: the Map Runs this execution started, by ARN (``map_run.MapRun``),
        # and those of the execution it redrives that are still to redrive.
        self.map_runs: dict[str, Any] = {}
        self.redrive_map_runs: list[Any] = []

    # -- history -----------------------------------------------------------------------
    def record(self, event_type: str, frame: Frame | None, details: dict | None) -> int:
        """Append one event (the hot path of every transition: kept lean)."""
        if frame is not None and frame.silent:
            return frame.prev
        event_id = next(self._ids)
        limit = self.history_limit
        if limit is not None and event_id >= limit and (event_id > limit or event_type not in _EXECUTION_ENDS):
            self._fail_at_limit(event_id)
        if frame is None:
            event = HistoryEvent(event_id, 0, event_type, self._now(), details, 0)
        else:
            event = HistoryEvent(event_id, frame.prev, event_type, self._now(), details, frame.depth)
            frame.prev = event_id
        self._append(event)
        return event_id

    def _append(self, event: HistoryEvent) -> None:
        if self.keep_history:
            self.history.append(event)
        if self.listener is not None:
            self.listener(event)

    def _fail_at_limit(self, event_id: int) -> None:
        """The event the quota falls on is the ExecutionFailed (AWS: id 25,000, previous
        24,999); whatever tries to record after it stops with the same error."""
        if event_id == self.history_limit:
            limit = self.history_limit
            err = HistoryLimitReached(errors.RUNTIME, HISTORY_LIMIT_CAUSE.format(limit=limit))
            self._limit_reached = err
            details = {"error": err.error, "cause": err.cause}
            try:
                self._append(HistoryEvent(event_id, event_id - 1, "ExecutionFailed", self._now(), details, 0))
            finally:  # even if a listener fails, no other branch waits for ever
                self._limit_recorded.set()
                self._stop.set()  # the other branches stop at their next transition
                self.tokens.release(self.execution_arn)
        self._limit_recorded.wait()  # another thread may still be recording the failure
        raise cast(HistoryLimitReached, self._limit_reached)  # set before _limit_recorded is

    # -- integrations ------------------------------------------------------------------
    def integration_for(self, state_name: str, resource: TaskResource) -> tuple[Integration, bool]:
        """The handler of a Task; ``mocked`` is true when a MockConfigFile answers it."""
        return self.resolver.integration_for(state_name, resource)

    def map_run_arn(self, state_name: str, label: str | None) -> str:
        sm = self.state_machine_arn.replace(":stateMachine:", ":mapRun:", 1)
        return f"{sm}/{label or state_name}:{uuid.uuid4()}"

    # -- control -----------------------------------------------------------------------
    def stop(self, error: str | None = None, cause: str | None = None) -> None:
        """Abort at the next transition; a task waiting for its callback is released now."""
        self._stop_reason = (error, cause)
        self._stop.set()
        self.tokens.release(self.execution_arn)

    @property
    def stop_requested(self) -> bool:
        """Whether the execution was stopped (or failed at its history quota)."""
        return self._stop.is_set()

    @property
    def stop_reason(self) -> tuple[str | None, str | None]:
        """The error and cause ``stop`` was given."""
        return self._stop_reason

    def abort_children(self, futures: list) -> None:
        for fut in futures:
            fut.cancel()

    # -- the loop ----------------------------------------------------------------------
    def run_program(
        self, program: Program, data: Any, frame: Frame, *, record: bool = True, start_at: str | None = None
    ) -> Any:
        """Run a (sub-)machine from its StartAt (or ``start_at``) to an end; returns its output."""
        if not record:
            frame.silent = True
        states = program.states
        name: str | None = start_at or program.start_at
        clock = self.clock
        stop = self._stop
        while name is not None:
            if stop.is_set():
                raise ExecutionAborted(*self._stop_reason)
            state = states[name]
            frame.state_name = name
            frame.retry_count = state.initial_retry_count
            frame.entered_time = clock.now()
            frame.entered_id = self.record(state.entered_event, frame, {"name": name, "input": data})
            try:
                data, next_name = state.execute(frame, data)
            except StateEvaluationError as e:
                raise qualify(e, frame) from None
            if state.exited_event:
                details = {"name": name, "output": data, "_next": next_name}
                if frame.assigned is not None:
                    details["assignedVariables"] = frame.assigned
                    frame.assigned = None
                self.record(state.exited_event, frame, details)
            name = next_name
        return data

    def start(self, *, map_item: dict[str, Any] | None = None) -> Execution:
        """Run the execution to its end (in this thread) and return its result.

        ``map_item``: ``$$.Map.Item`` (Index and Value) of a Distributed Map child, as the
        item processor's states see it."""
        self.record(
            "ExecutionStarted",
            None,
            {"input": self.input, "roleArn": self.role_arn, "stateMachineArn": self.state_machine_arn},
        )
        frame = Frame(self, {}, 1)
        if map_item is not None:
            frame.map_item = map_item
        return self._finish(frame, None, self.input)

    def resume(
        self, events: Iterable[HistoryEvent], *, redrive_count: int | None = None, last_event_id: int = 0
    ) -> Execution:
        """Go on with an execution recorded earlier (by a process that died) from its last
        top-level transition: a state that was entered but not exited runs again from its
        input, as AWS re-runs an in-flight task; variables come back from the recorded
        assignments. An execution whose history already ended is returned as it ended.

        ``events``: the history in id order, consumed once (an iterator will do: only the
        running facts of ``_ResumePoint`` are kept). Only the top-level (depth 0) events are
        needed, with ``last_event_id`` the id of the history's last event, which may be one
        of a Map iteration: the endpoint reads just those rows. With ``keep_history`` the
        events become ``history``, so they must be the whole history.

        ``redrive_count``: redrive a failed execution (RedriveExecution, or a Map Run
        redriving a child): the ends of earlier runs are passed over, ExecutionRedriven is
        recorded first and ``$$.Execution.RedriveCount`` is ``redrive_count``. Without it,
        a history whose last word is an ExecutionRedriven (a redriven execution that was
        running when its process died) goes on the same way, recording nothing new."""
        if self.keep_history:
            events = self.history[:] = list(events)
        point = _ResumePoint.scan(events, last_event_id)
        self._ids = itertools.count(point.last_id + 1)
        self.start_time = point.started.timestamp
        self.execution_context["StartTime"] = iso_millis(self.start_time)
        ended = point.last_execution_event
        if redrive_count is None and ended is not None and ended.event_type in _EXECUTION_ENDS:
            return self._ended(ended)
        frame = Frame(self, point.variables, point.last_id)
        if redrive_count is not None:
            self.execution_context["RedriveCount"] = redrive_count
            frame.prev = self.record("ExecutionRedriven", None, {"redriveCount": redrive_count})
        elif point.redrives:
            self.execution_context["RedriveCount"] = point.redrives
        last = point.last_transition
        if last is None:
            return self._finish(frame, None, self.input)
        details = last.details or {}
        if last.event_type.endswith("StateEntered"):
            return self._finish(frame, details["name"], details["input"])
        if details.get("_next") is None:
            return self._finish(frame, "", details["output"])
        return self._finish(frame, details["_next"], details["output"])

    def _ended(self, event: HistoryEvent) -> Execution:
        details = event.details or {}
        status = {"ExecutionSucceeded": "SUCCEEDED", "ExecutionAborted": "ABORTED", "ExecutionTimedOut": "TIMED_OUT"}
        return Execution(
            execution_arn=self.execution_arn,
            name=self.name,
            state_machine_arn=self.state_machine_arn,
            status=status.get(event.event_type, "FAILED"),
            input=self.input,
            output=details.get("output"),
            error=details.get("error"),
            cause=details.get("cause"),
            start_date=self.start_time,
            stop_date=event.timestamp,
            history=self.history,
        )

    def _finish(self, frame: Frame, start_at: str | None, data: Any) -> Execution:
        """Run from ``start_at`` (None: StartAt; "": nothing left to run) to the end."""
        result = Execution(
            execution_arn=self.execution_arn,
            name=self.name,
            state_machine_arn=self.state_machine_arn,
            status="RUNNING",
            input=self.input,
            start_date=self.start_time,
            history=self.history,
        )
        try:
            output = data if start_at == "" else self.run_program(self.program, data, frame, start_at=start_at)
            if payload_size(output) > MAX_PAYLOAD_BYTES:
                raise StatesError(
                    errors.DATA_LIMIT_EXCEEDED,
                    "The state/task 'execution' returned a result with a size exceeding the maximum "
                    "number of bytes service limit.",
                )
        except StatesError as err:
            if self._limit_reached is not None:  # its ExecutionFailed is recorded already
                result.status = "FAILED"
                result.error, result.cause = self._limit_reached.error, self._limit_reached.cause
            elif not (isinstance(err, ExecutionAborted) or self._stop.is_set()):
                result.status = "FAILED"
                result.error, result.cause = err.error, err.cause
                self.record("ExecutionFailed", frame, {"error": err.error, "cause": err.cause})
            else:  # stopped: whatever the stop interrupted (a released callback task...) ends as ABORTED
                result.status = "ABORTED"
                result.error, result.cause = self._stop_reason
                self.record("ExecutionAborted", frame, {"error": result.error, "cause": result.cause})
        else:
            if self._limit_reached is not None:  # a Map tolerated the failure of its iterations
                result.status = "FAILED"
                result.error, result.cause = self._limit_reached.error, self._limit_reached.cause
            else:
                result.status = "SUCCEEDED"
                result.output = output
                self.record("ExecutionSucceeded", frame, {"output": output})
        result.stop_date = self.clock.now()
        return result
