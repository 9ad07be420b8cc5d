"""Running Step Functions executions for the endpoint: each on its own thread, its history
streamed to the store as the engine records it, its record kept in step.

The supervisor launches (StartExecution), resumes (every execution recorded as RUNNING
when the endpoint starts: ``ExecutionRun.resume`` from its last recorded transition, so a
state that was in flight runs again, as AWS re-runs a task), stops (StopExecution closes
the history at once) and redrives executions, and persists their records and Map Runs.

Memory stays bounded however long an execution runs: the engine keeps no history list
(``keep_history=False``); every event goes to the SQLite ``history`` table, one committed
row at a time for a STANDARD execution (durable: a killed endpoint resumes from it), in
batches for an EXPRESS one (AWS keeps no durable record of those), and a page of
GetExecutionHistory reads only its own rows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from stepkit.endpoint.map_runs import MapRunDirectory
from stepkit.endpoint.protocol import AwsError
from stepkit.endpoint.sfn_records import TERMINAL, ExecutionRecord, json_text
from stepkit.endpoint.store import Store
from stepkit.endpoint.validation import parse_json_text
from stepkit.engine.clock import Clock
from stepkit.engine.execution import Execution, ExecutionRun
from stepkit.engine.history import HistoryEvent
from stepkit.engine.map_run import adopt_map_runs
from stepkit.engine.task_tokens import TaskTokens
from stepkit.runner import StateMachine

#: An EXPRESS execution's events are written this many at a time (one transaction each).
EXPRESS_BATCH = 2000
#: ``launch``'s input when the caller has none parsed: the record's text is parsed (a resume, a redrive).
_FROM_RECORD: Any = object()


class RunClock(Clock):
    """Real time whose sleeps (Wait states, retry back-off) end early when the execution is stopped."""

    def __init__(self) -> None:
        self.woken = threading.Event()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.woken.wait(seconds)


class ResumeFrom(NamedTuple):
    """A recorded execution to go on with: its top-level events in id order (an iterator
    over the store) and the id of its last event (``ExecutionRun.resume``)."""

    events: Iterator[HistoryEvent]
    last_event_id: int


class RunningExecution:
    """An execution being run on its own thread, and the events not yet written (EXPRESS)."""

    def __init__(self, clock: RunClock) -> None:
        self.run: ExecutionRun | None = None
        self.clock = clock
        self.thread: threading.Thread | None = None
        self.done = threading.Event()
        self.stopped = False
        self.lock = threading.Lock()
        self.unwritten: list[HistoryEvent] = []


class ExecutionSupervisor:
    """The executions of the endpoint (``executions``: every record by ARN) and the threads
    running them (``running``); ``compile`` gives the engine's machine of a revision."""

    def __init__(
        self,
        store: Store,
        compile: Callable[[dict[str, Any]], StateMachine],
        tokens: TaskTokens,
        lock: threading.RLock,
    ) -> None:
        self.store = store
        self.compile = compile
        self.tokens = tokens
        self.lock = lock
        self.executions: dict[str, ExecutionRecord] = {}
        self.running: dict[str, RunningExecution] = {}
        self.map_runs = MapRunDirectory(store, self._live_runs)
        self.closed = False

    def _live_runs(self) -> list[tuple[str, ExecutionRun]]:
        with self.lock:
            running = list(self.running.items())
        return [(arn, r.run) for arn, r in running if r.run is not None]

    # -- start-up and shut-down -----------------------------------------------------------
    def load(self) -> list[str]:
        """Read the records; returns the ARNs of the executions that were running (to resume)."""
        self.store.delete_express_events()
        self.map_runs.load()
        running = []
        for rec in self.store.all("execution"):
            execution = ExecutionRecord(**rec)
            self.executions[execution.arn] = execution
            if execution.status == "RUNNING":
                running.append(execution.arn)
        return running

    def resume_all(self, arns: list[str]) -> None:
        """Go on with the executions that were running: each from its last event and its
        top-level events (``recorded``), never reading the events of its Map iterations."""
        for arn in arns:
            execution = self.executions[arn]
            last = self.store.last_event(arn)
            if last is None:
                self.launch(execution)
            elif last.depth == 0 and last.event_type in TERMINAL:  # killed after the last event, before the record
                self._apply_terminal(execution, last)
                self.save(execution)
            else:
                self.launch(execution, resume=self.recorded(arn))

    def recorded(self, arn: str) -> ResumeFrom:
        """What ``ExecutionRun.resume`` needs of a stored history: its top-level events,
        streamed from the store, and the id of its last event."""
        return ResumeFrom(self.store.top_level_events(arn), self.store.last_event_id(arn))

    def close(self, timeout: float = 2.0) -> None:
        """Stop running executions without ending them: their records stay RUNNING (what the
        engine records from here on is dropped), so the next start resumes them."""
        self.closed = True
        with self.lock:
            running = list(self.running.items())
        for execution_arn, r in running:
            with r.lock:
                r.stopped = True
            if r.run is not None:
                r.run.stop("States.Aborted", "the endpoint is shutting down")
            r.clock.woken.set()
            self.tokens.release(execution_arn)
        for _, r in running:
            r.done.wait(timeout / max(len(running), 1))

    def wait_idle(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self.lock:
                running = list(self.running.values())
            if not running:
                return True
            for r in running:
                left = None if deadline is None else max(deadline - time.monotonic(), 0)
                if not r.done.wait(left):
                    return False

    # -- records --------------------------------------------------------------------------
    def save(self, execution: ExecutionRecord) -> None:
        if not execution.express:
            self.store.put("execution", execution.arn, execution.to_record())

    def add(self, execution: ExecutionRecord, input_value: Any) -> None:
        """Record a new execution and launch it on ``input_value`` (its input as StartExecution
        parsed it, so the text is not parsed again); a refused or failed launch leaves no record."""
        self.save(execution)  # stored first: a record that cannot be stored is never listed
        self.executions[execution.arn] = execution
        if self.closed:
            raise AwsError("ServiceUnavailable", "The endpoint is shutting down.", 503)
        try:
            self.launch(execution, input_value=input_value)
        except Exception:  # never keep a RUNNING record that nothing runs
            self.executions.pop(execution.arn, None)
            self.store.delete("execution", execution.arn)
            raise

    def forget(self, execution: ExecutionRecord) -> None:
        """Drop an EXPRESS execution's record and history (StartSyncExecution: AWS keeps none)."""
        with self.lock:
            self.executions.pop(execution.arn, None)
        self.store.delete_events(execution.arn)

    @staticmethod
    def _apply_terminal(execution: ExecutionRecord, event: HistoryEvent) -> None:
        details = event.details or {}
        execution.status = TERMINAL[event.event_type]
        execution.stop_date = event.timestamp
        if execution.status == "SUCCEEDED":
            execution.output = json_text(details.get("output"))
        else:
            execution.error, execution.cause = details.get("error"), details.get("cause")

    # -- history --------------------------------------------------------------------------
    def _write(self, execution: ExecutionRecord, running: RunningExecution, event: HistoryEvent) -> None:
        """Store one event (the caller holds ``running.lock``)."""
        if not execution.express:
            self.store.add_event(execution.arn, event)
            return
        running.unwritten.append(event)
        if len(running.unwritten) >= EXPRESS_BATCH or (event.depth == 0 and event.event_type in TERMINAL):
            self.store.add_events(execution.arn, running.unwritten)
            running.unwritten = []

    def _flush(self, arn: str) -> None:
        """Write what a running EXPRESS execution recorded and did not write yet."""
        running = self.running.get(arn)
        if running is not None and running.unwritten:
            with running.lock:
                self.store.add_events(arn, running.unwritten)
                running.unwritten = []

    def events(self, arn: str) -> list[HistoryEvent]:
        """An execution's whole history (a redrive's, the viewer's)."""
        self._flush(arn)
        return self.store.events(arn)

    def events_page(self, arn: str, limit: int, boundary: int | None, reverse: bool) -> list[HistoryEvent]:
        """One page of an execution's history: ``limit`` events after (before, when
        ``reverse``) the event id ``boundary``."""
        self._flush(arn)
        return self.store.events_page(arn, limit, boundary=boundary, reverse=reverse)

    def event_count(self, arn: str) -> int:
        self._flush(arn)
        return self.store.last_event_id(arn)

    def _listener(self, execution: ExecutionRecord, running: RunningExecution) -> Callable[[HistoryEvent], None]:
        def on_event(event: HistoryEvent) -> None:
            with running.lock:
                if running.stopped:  # StopExecution already closed the history
                    return
                self._write(execution, running, event)
                if event.event_type in TERMINAL and event.depth == 0:
                    self._apply_terminal(execution, event)
                    self.save(execution)

        return on_event

    def _close_history(self, execution: ExecutionRecord, running: RunningExecution, kind: str,
                       details: dict) -> None:
        """End an execution from outside the engine (StopExecution on a task that does not yield)."""
        with running.lock:
            if running.stopped or execution.status != "RUNNING":
                return
            running.stopped = True
            if running.unwritten:
                self.store.add_events(execution.arn, running.unwritten)
                running.unwritten = []
            last = self.store.last_event_id(execution.arn)
            event = HistoryEvent(last + 1, last, kind, time.time(), details)
            self.store.add_event(execution.arn, event)
            execution.status = TERMINAL[kind]
            execution.stop_date = event.timestamp
            execution.error, execution.cause = details.get("error"), details.get("cause")
            self.save(execution)

    # -- running --------------------------------------------------------------------------
    def _prepare(self, execution: ExecutionRecord, input_value: Any) -> RunningExecution:
        machine = self.compile(execution.revision)
        running = RunningExecution(RunClock())
        if input_value is _FROM_RECORD:  # a resume or redrive: the stored text, checked when it started
            input_value = parse_json_text(execution.input)
        running.run = machine.prepare(
            input_value, name=execution.name, clock=running.clock,
            listener=self._listener(execution, running), execution_arn=execution.arn,
            redrive_count=execution.redrive_count, keep_history=False,
        )
        return running

    def launch(
        self, execution: ExecutionRecord, *, input_value: Any = _FROM_RECORD, resume: ResumeFrom | None = None,
        redrive: bool = False,
    ) -> RunningExecution:
        running = self._prepare(execution, input_value)
        run = running.run
        assert run is not None
        with self.lock:
            self.running[execution.arn] = running

        def target() -> None:
            try:
                if resume is None:
                    result = run.start()
                elif redrive:
                    previous = self.map_runs.known(execution.arn)
                    if previous:
                        adopt_map_runs(run, previous)
                    result = run.resume(resume.events, redrive_count=execution.redrive_count,
                                        last_event_id=resume.last_event_id)
                else:
                    result = run.resume(resume.events, last_event_id=resume.last_event_id)
                self._finished(execution, running, result)
            except Exception as exc:  # an engine bug must not leave the execution RUNNING forever
                if not running.stopped and execution.status == "RUNNING":
                    self._close_history(execution, running, "ExecutionFailed",
                                        {"error": "States.Runtime", "cause": f"stepkit: {exc!r}"})
            finally:
                with self.lock:
                    self.running.pop(execution.arn, None)
                running.done.set()

        thread = threading.Thread(target=target, name=f"sfn-{execution.name}", daemon=True)
        running.thread = thread
        thread.start()
        return running

    def _finished(self, execution: ExecutionRecord, running: RunningExecution, result: Execution) -> None:
        assert running.run is not None
        self.map_runs.keep(execution.arn, running.run, persist=not execution.express)
        if running.stopped or execution.status != "RUNNING":
            return
        # The terminal event normally set these already; a resumed history that had ended did not.
        execution.status = result.status
        execution.stop_date = result.stop_date or time.time()
        if result.status == "SUCCEEDED":
            execution.output = json_text(result.output)
        else:
            execution.error, execution.cause = result.error, result.cause
        self.save(execution)

    def wait(self, execution: ExecutionRecord) -> None:
        """Until the execution ended (StartSyncExecution)."""
        running = self.running.get(execution.arn)
        if running is not None:
            running.done.wait()

    def stop(self, execution: ExecutionRecord, error: str | None, cause: str | None) -> None:
        """StopExecution: the history is closed now, as AWS does; the engine stops at its next
        transition (a Wait or a retry back-off ends at once) and what it records meanwhile
        is dropped."""
        if execution.status != "RUNNING":
            return
        running = self.running.get(execution.arn) or RunningExecution(RunClock())
        self._close_history(execution, running, "ExecutionAborted", {"error": error, "cause": cause})
        if running.run is not None:
            running.run.stop(error, cause)
            running.clock.woken.set()
            self.tokens.release(execution.arn)

    def redrive(self, execution: ExecutionRecord, refuse: Callable[[str], AwsError]) -> None:
        """RedriveExecution of a redrivable execution (``refuse`` words the error when it
        is running again by now)."""
        with self.lock:
            if execution.arn in self.running:
                raise refuse("Execution is RUNNING and cannot be redriven")
            recorded = self.recorded(execution.arn)
            execution.redrive_count += 1
            execution.redrive_date = time.time()
            execution.status = "RUNNING"
            execution.stop_date = None
            execution.error = execution.cause = None
            self.save(execution)
        self.launch(execution, resume=recorded, redrive=True)
