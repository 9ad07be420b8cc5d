"""Map Runs: a Distributed Map's items (or batches) run as child executions.

Each child is an execution of its own (``ExecutionRun`` of the item processor) with its own
history (ExecutionStarted ... ExecutionSucceeded/Failed), its own ARN
(``arn:aws:states:REGION:ACCOUNT:execution:MACHINE/LABEL:NAME``, or ``...:express:...`` for
EXPRESS children) and a fresh variable scope: as AWS documents, a Distributed Map's child
workflows do not see the parent's variables (pass values in with ItemSelector).

What the local endpoint reads (``stepkit.endpoint.map_runs`` gives them AWS's shapes:
DescribeMapRun, ListMapRuns, ListExecutions with a ``mapRunArn``, DescribeExecution and
GetExecutionHistory of a child):

- ``ExecutionRun.map_runs`` maps each Map Run ARN started by an execution to its ``MapRun``
  (at any depth: inside inline Map/Parallel, and inside the children, whose nested Map Runs
  have the child's ARN as ``executionArn``);
- ``MapRun.update(...)`` is UpdateMapRun (it takes effect on a running Map Run);
- ``MapRun.executions(status)`` lists the children (``ChildExecution``, with its status,
  dates, input, output and ``history``); ``MapRun.find(arn)`` finds a child by ARN;
- ``MapRun.listener`` (settable) is called with ``(child, event)`` for every child event,
  and ``ExecutionRun``'s listener sees none of them: child histories are their own;
- ``MapRun.to_record()`` / ``MapRun.from_record()``: a JSON record (with the children and
  their histories) for a durable store, read back for Describe*/List* and for a redrive.

Dates are epoch seconds (floats). Redrive: ``adopt_map_runs(run, previous_map_runs)`` before
``run.resume(history, redrive_count=n)`` makes each failed Map Run of the previous run
re-run only its failed (and never started) children; ``redrive_execution`` does it all
in-process.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stepkit.asl import errors
from stepkit.asl.errors import StatesError
from stepkit.engine.frame import iso_millis
from stepkit.engine.history import HistoryEvent

if TYPE_CHECKING:
    from stepkit.engine.execution import Execution, ExecutionRun

#: Children run at most this many at once when MaxConcurrency is 0 (AWS allows 10,000
#: concurrent children; locally each is a thread).
DEFAULT_CONCURRENCY = 40
#: How often a waiting Map Run looks again at UpdateMapRun changes and StopExecution.
POLL_SECONDS = 0.05
#: A batch's input (BatchInput plus Items) stays within Step Functions' payload limit.
MAX_BATCH_BYTES = 256 * 1024

THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"
_FAILED = ("FAILED", "ABORTED", "TIMED_OUT")

ChildListener = Callable[["ChildExecution", HistoryEvent], None]


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def map_label(state_machine_arn: str, state_name: str, label: str | None) -> str:
    """The Map's label in its Map Run and child ARNs: ``Label``, or the name-based UUID
    Step Functions generates for a Map state without one."""
    if label:
        return label
    return str(uuid.uuid3(uuid.NAMESPACE_URL, f"{state_machine_arn}#{state_name}"))


@dataclass
class Unit:
    """One child's worth of work: an item, or a batch of them."""

    index: int
    input: Any
    items: int
    value: Any = None  # $$.Map.Item.Value in the child: the item (before ItemSelector), or the batch

    def result_record(self) -> dict[str, Any]:
        """A PENDING result file record: the input no child execution was started for."""
        return {"Input": _dumps(self.input), "InputDetails": {"Included": True}, "Status": "PENDING"}


class ChildExecution:
    """A child execution of a Map Run, as DescribeExecution and the result files show it.

    Once it ended, its input and output are kept as compact JSON text (parsed again on
    access), and its history only when the parent keeps child histories (the default; a
    run made with ``retain_child_histories=False`` keeps only failed children's, which a redrive
    needs, e.g. when the endpoint persists them through ``MapRun.listener``)."""

    __slots__ = (
        "_history",
        "_history_text",
        "_input",
        "_input_text",
        "_output",
        "_output_text",
        "arn",
        "cause",
        "error",
        "express",
        "index",
        "items",
        "map_run",
        "map_value",
        "name",
        "redrive_count",
        "redrive_date",
        "result_written",
        "run",
        "start_date",
        "status",
        "stop_date",
    )

    def __init__(
        self, map_run: MapRun, index: int, name: str, arn: str, input: Any, items: int, express: bool
    ) -> None:
        self.map_run = map_run
        self.index = index
        self.name = name
        self.arn = arn
        self._input: Any = input
        self._input_text: str | None = None
        self._output: Any = None
        self._output_text: str | None = None
        self.items = items
        self.express = express
        self.status = "PENDING"
        self.error: str | None = None
        self.cause: str | None = None
        self.start_date = 0.0
        self.stop_date: float | None = None
        self._history: list[HistoryEvent] = []
        self._history_text: str | None = None
        self.redrive_count = 0
        self.redrive_date: float | None = None
        self.result_written = False
        self.run: ExecutionRun | None = None
        self.map_value: Any = input

    @property
    def input(self) -> Any:
        return json.loads(self._input_text) if self._input_text is not None else self._input

    @property
    def output(self) -> Any:
        return json.loads(self._output_text) if self._output_text is not None else self._output

    @property
    def history(self) -> list[HistoryEvent]:
        """The child's events (kept as compact JSON once the child ended, rebuilt here)."""
        if self._history_text is not None:
            return [HistoryEvent.from_record(r) for r in json.loads(self._history_text)]
        return self._history

    @history.setter
    def history(self, events: list[HistoryEvent]) -> None:
        self._history, self._history_text = events, None

    @property
    def input_text(self) -> str:
        return self._input_text if self._input_text is not None else _dumps(self._input)

    @property
    def output_text(self) -> str:
        return self._output_text if self._output_text is not None else _dumps(self._output)

    def _ended(self, output: Any, keep_history: bool) -> None:
        self._input_text, self._input, self.map_value = _dumps(self._input), None, None
        self._output_text, self._output = (_dumps(output), None) if self.status == "SUCCEEDED" else (None, None)
        if not keep_history and self.status == "SUCCEEDED":
            self._history = []
        else:
            self._history_text = _dumps([e.to_record() for e in self._history])
            self._history = []

    def __repr__(self) -> str:
        return f"ChildExecution({self.index}, {self.status}, {self.arn})"

    @property
    def state_machine_arn(self) -> str:
        return self.map_run.state_machine_arn

    @property
    def redrivable(self) -> bool:
        return not self.express and self.status in _FAILED

    def redrive_status(self) -> tuple[str, str | None]:
        if self.express:
            return "NOT_REDRIVABLE", "Execution is of an EXPRESS state machine and cannot be redriven"
        if self.status in _FAILED:
            return "REDRIVABLE_BY_MAP_RUN", "Execution was started by a Map Run and can be redriven by the Map Run"
        return "NOT_REDRIVABLE", f"Execution is {self.status} and cannot be redriven"

    def result_record(self) -> dict[str, Any]:
        """The record ResultWriter writes for this child (``Transformation: NONE``)."""
        record: dict[str, Any] = {"ExecutionArn": self.arn, "Input": self.input_text}
        record["InputDetails"] = {"Included": True}
        record["Name"] = self.name
        if self.status == "SUCCEEDED":
            record["Output"] = self.output_text
            record["OutputDetails"] = {"Included": True}
        else:
            if self.error is not None:
                record["Error"] = self.error
            if self.cause is not None:
                record["Cause"] = self.cause
        status, reason = self.redrive_status()
        record["RedriveCount"] = self.redrive_count
        record["RedriveStatus"] = status
        if reason:
            record["RedriveStatusReason"] = reason
        record["StartDate"] = iso_millis(self.start_date)
        record["StateMachineArn"] = self.state_machine_arn
        record["Status"] = self.status
        if self.stop_date is not None:
            record["StopDate"] = iso_millis(self.stop_date)
        return record


class MapRun:
    """One Map Run: its settings (changeable while it runs), its children and its counts."""

    def __init__(
        self,
        *,
        arn: str,
        execution_arn: str,
        state_machine_arn: str,
        state_name: str,
        max_concurrency: int,
        tolerated_failure_count: int | None,
        tolerated_failure_percentage: float | None,
        start_date: float,
    ) -> None:
        self.arn = arn
        self.execution_arn = execution_arn
        self.state_machine_arn = state_machine_arn  # the children's: MACHINE/LABEL
        self.state_name = state_name
        self.status = "RUNNING"
        self.start_date = start_date
        self.stop_date: float | None = None
        self.max_concurrency = max_concurrency
        # None: not set in the definition (nor by UpdateMapRun); AWS shows 0.
        self.tolerated_failure_count = tolerated_failure_count
        self.tolerated_failure_percentage = tolerated_failure_percentage
        self.children: list[ChildExecution] = []
        self.pending: list[Unit] = []
        self.redrive_count = 0
        self.redrive_date: float | None = None
        self.read_complete = False  # every item was read (a reader failure leaves it False)
        self.total_items: int | None = None  # known once every item was read
        self.error: str | None = None
        self.cause: str | None = None
        self.listener: ChildListener | None = None
        self.changed = threading.Condition()
        self._by_arn: dict[str, ChildExecution] = {}
        self._lock = threading.Lock()
        self._failed_items = 0  # items of the children that ended FAILED, ABORTED or TIMED_OUT

    def executions(self, status: str | None = None) -> list[ChildExecution]:
        """The children, in item order; only those with ``status`` when given."""
        children = list(self.children)
        return children if status is None else [c for c in children if c.status == status]

    def find(self, execution_arn: str) -> ChildExecution | None:
        return self._by_arn.get(execution_arn)

    def update(
        self,
        *,
        max_concurrency: int | None = None,
        tolerated_failure_count: int | None = None,
        tolerated_failure_percentage: float | None = None,
    ) -> None:
        """UpdateMapRun: new settings, seen by a running Map Run at its next dispatch."""
        if max_concurrency is not None and (not isinstance(max_concurrency, int) or max_concurrency < 0):
            raise ValueError("maxConcurrency must be a non-negative integer")
        if tolerated_failure_count is not None and (
            not isinstance(tolerated_failure_count, int) or tolerated_failure_count < 0
        ):
            raise ValueError("toleratedFailureCount must be a non-negative integer")
        if tolerated_failure_percentage is not None and not 0 <= tolerated_failure_percentage <= 100:
            raise ValueError("toleratedFailurePercentage must be between 0 and 100")
        with self.changed:
            if max_concurrency is not None:
                self.max_concurrency = max_concurrency
            if tolerated_failure_count is not None:
                self.tolerated_failure_count = tolerated_failure_count
            if tolerated_failure_percentage is not None:
                self.tolerated_failure_percentage = float(tolerated_failure_percentage)
            self.changed.notify_all()

    # -- bookkeeping --------------------------------------------------------------------------
    def failed_items(self) -> int:
        return self._failed_items

    def _count_failed(self, items: int) -> None:
        with self._lock:
            self._failed_items += items

    def threshold_exceeded(self, *, total: int | None) -> bool:
        """Whether the failures so far exceed a tolerated threshold. The percentage is of
        all items, so it is judged only once their number is known (``total``)."""
        failed = self.failed_items()
        if not failed:
            return False
        count, percentage = self.tolerated_failure_count, self.tolerated_failure_percentage
        if count is None and percentage is None:
            return True
        if count is not None and failed > count:
            return True
        return bool(percentage is not None and total and failed * 100 / total > percentage)

    # -- durable records ----------------------------------------------------------------------
    _FIELDS = ("arn", "execution_arn", "state_machine_arn", "state_name", "status", "start_date", "stop_date",
               "max_concurrency", "tolerated_failure_count", "tolerated_failure_percentage", "redrive_count",
               "redrive_date", "read_complete", "total_items", "error", "cause")

    def to_record(self) -> dict[str, Any]:
        """A JSON-serialisable record of this Map Run and its children (``from_record``
        reads it back), for a durable store; histories are included as compact JSON."""
        record: dict[str, Any] = {name: getattr(self, name) for name in self._FIELDS}
        record["children"] = [
            {
                "index": c.index, "name": c.name, "arn": c.arn, "items": c.items, "express": c.express,
                "status": c.status, "input": c.input_text,
                "output": c.output_text if c.status == "SUCCEEDED" else None,
                "error": c.error, "cause": c.cause, "start_date": c.start_date, "stop_date": c.stop_date,
                "history": _dumps([e.to_record() for e in c.history]), "redrive_count": c.redrive_count,
                "redrive_date": c.redrive_date, "result_written": c.result_written,
            }
            for c in list(self.children)
        ]
        record["pending"] = [{"index": u.index, "input": _dumps(u.input), "items": u.items} for u in self.pending]
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> MapRun:
        map_run = cls(
            arn=record["arn"], execution_arn=record["execution_arn"], state_machine_arn=record["state_machine_arn"],
            state_name=record["state_name"], max_concurrency=record["max_concurrency"],
            tolerated_failure_count=record["tolerated_failure_count"],
            tolerated_failure_percentage=record["tolerated_failure_percentage"], start_date=record["start_date"],
        )
        for name in cls._FIELDS:
            setattr(map_run, name, record[name])
        for r in record["children"]:
            child = ChildExecution(map_run, r["index"], r["name"], r["arn"], None, r["items"], r["express"])
            child._input_text, child._output_text = r["input"], r["output"]
            child._history_text = r["history"]
            for name in ("status", "error", "cause", "start_date", "stop_date", "redrive_count", "redrive_date",
                         "result_written"):
                setattr(child, name, r[name])
            map_run._add(child)
            if child.status in _FAILED:
                map_run._failed_items += child.items
        map_run.pending = [Unit(u["index"], json.loads(u["input"]), u["items"]) for u in record["pending"]]
        return map_run

    def _add(self, child: ChildExecution) -> None:
        self.children.append(child)
        self._by_arn[child.arn] = child


def _aborted(run: ExecutionRun) -> StatesError:
    """The parent execution was stopped (StopExecution) while its Map Run ran."""
    from stepkit.engine.execution import ExecutionAborted

    return ExecutionAborted(*run.stop_reason)


class MapRunner:
    """Runs one Map Run of ``state`` (a DISTRIBUTED MapState) for one attempt of the state."""

    def __init__(
        self,
        state: Any,
        frame: Any,
        units: Iterator[Unit],
        map_run: MapRun,
        *,
        known_total: int | None,
        redrive: list[ChildExecution] | None = None,
    ) -> None:
        self.state = state
        self.frame = frame
        self.run = frame.run
        self.units = units
        self.map_run = map_run
        self.known_total = known_total
        self.redrive = redrive or []
        self.items_seen = 0

    # -- one child ----------------------------------------------------------------------------
    def _child_run(self, child: ChildExecution) -> ExecutionRun:
        from stepkit.engine.execution import ExecutionRun

        parent = self.run
        map_run = self.map_run
        listener = None
        if map_run.listener is not None:
            on_event = map_run.listener

            def listener(event: HistoryEvent) -> None:
                on_event(child, event)

        # A child's own Distributed Maps are listed with the top execution's Map Runs (their
        # executionArn is the child's), so that they can be found while they run.
        run = ExecutionRun(
            self.state.processor,
            input=child.input,
            name=child.name,
            state_machine_arn=map_run.state_machine_arn,
            resolver=parent.resolver,
            clock=parent.clock,
            tokens=parent.tokens,
            role_arn=parent.role_arn,
            listener=listener,
            express=child.express,
            execution_arn=child.arn,
            retain_child_histories=parent.retain_child_histories,
        )
        run.map_runs = parent.map_runs
        return run

    def _execute(self, child: ChildExecution, *, resume: bool = False) -> None:
        run = self._child_run(child)
        child.run = run
        child.status = "RUNNING"
        try:
            if resume:
                child.redrive_count += 1
                child.redrive_date = self.run.clock.now()
                result: Execution = run.resume(child.history, redrive_count=child.redrive_count)
            else:
                child.start_date = run.start_time
                child.history = run.history
                result = run.start(map_item={"Index": child.index, "Value": child.map_value})
        except Exception as exc:  # an engine fault fails this child, not the Map Run's thread
            child.status, child.error, child.cause = "FAILED", errors.RUNTIME, f"stepkit: {exc!r}"
            child.stop_date = self.run.clock.now()
            child._ended(None, True)
            self.map_run._count_failed(child.items)
            return
        finally:
            child.run = None
        child.history = result.history
        child.error, child.cause = result.error, result.cause
        child.stop_date = result.stop_date
        child.status = result.status
        child._ended(result.output, self.run.retain_child_histories)
        if child.status in _FAILED:
            self.map_run._count_failed(child.items)

    def _new_child(self, unit: Unit) -> ChildExecution:
        express = self.state.execution_type == "EXPRESS"
        from stepkit.engine.execution import derive_execution_arn

        name = str(uuid.uuid4())
        arn = derive_execution_arn(self.map_run.state_machine_arn, name, express=express)
        child = ChildExecution(self.map_run, unit.index, name, arn, unit.input, unit.items, express)
        if unit.value is not None:
            child.map_value = unit.value
        child.start_date = self.run.clock.now()
        self.map_run._add(child)
        return child

    # -- the run ------------------------------------------------------------------------------
    def _limit(self) -> int:
        if not self.state.blocking:
            return 1
        return self.map_run.max_concurrency or DEFAULT_CONCURRENCY

    def _total(self) -> int | None:
        if self.known_total is not None:
            return self.known_total
        return self.map_run.total_items

    def _stopped(self) -> bool:
        return self.run.stop_requested

    def execute(self) -> None:
        """Dispatch every unit (redriven children first) within the concurrency limit;
        returns when all ended, raises when the Map Run fails (after stopping the children
        still running and recording which units never started)."""
        map_run = self.map_run
        work: Iterator[ChildExecution | Unit] = itertools.chain(self.redrive, self.units)
        in_flight: dict[concurrent.futures.Future, ChildExecution] = {}
        failure: StatesError | None = None
        exhausted = False
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1024, thread_name_prefix="maprun") \
            if self.state.blocking else None
        try:
            while True:
                while not exhausted and failure is None and len(in_flight) < self._limit():
                    if self._stopped():
                        failure = _aborted(self.run)
                        break
                    try:
                        entry = next(work)
                    except StopIteration:
                        exhausted = True
                        map_run.read_complete = True
                        if map_run.total_items is None or self.known_total is None:
                            map_run.total_items = self.items_seen + sum(c.items for c in self.redrive)
                        break
                    except StatesError as err:  # the reader failed: what ran keeps its results
                        failure = err
                        break
                    if isinstance(entry, ChildExecution):  # a redrive's failed child
                        child = entry
                        map_run._count_failed(-child.items)
                        if child.express:  # an EXPRESS child cannot be redriven: a new one runs
                            map_run.children.remove(child)
                            child = self._new_child(Unit(child.index, child.input, child.items))
                            resume = False
                        else:
                            resume = True
                            child.status = "PENDING_REDRIVE"
                    else:
                        self.items_seen += entry.items
                        child, resume = self._new_child(entry), False
                    if pool is None:
                        self._execute(child, resume=resume)
                        if map_run.threshold_exceeded(total=self._total() if exhausted else self.known_total):
                            failure = StatesError(errors.EXCEED_TOLERATED_FAILURE_THRESHOLD, THRESHOLD_CAUSE)
                    else:
                        in_flight[pool.submit(self._execute, child, resume=resume)] = child
                if not in_flight:
                    break
                done, _ = concurrent.futures.wait(
                    in_flight, timeout=POLL_SECONDS, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for fut in done:
                    in_flight.pop(fut)
                    fut.result()
                if failure is None:
                    if self._stopped():
                        failure = _aborted(self.run)
                    elif map_run.threshold_exceeded(total=self._total() if exhausted else self.known_total):
                        failure = StatesError(errors.EXCEED_TOLERATED_FAILURE_THRESHOLD, THRESHOLD_CAUSE)
                if failure is not None and in_flight:
                    self._abort(in_flight)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        if failure is None and map_run.threshold_exceeded(total=self._total()):
            failure = StatesError(errors.EXCEED_TOLERATED_FAILURE_THRESHOLD, THRESHOLD_CAUSE)
        if failure is not None:
            if not exhausted and failure.error != errors.ITEM_READER_FAILED:
                self._keep_pending(work)
            raise failure

    def _abort(self, in_flight: dict[concurrent.futures.Future, ChildExecution]) -> None:
        """Stop the children still running (their executions end ABORTED) and wait for them."""
        for child in in_flight.values():
            run = child.run
            if run is not None:
                run.stop("States.Aborted", "The Map Run failed")
        concurrent.futures.wait(in_flight)
        for fut in list(in_flight):
            in_flight.pop(fut)
            fut.result()

    def _keep_pending(self, work: Iterator[ChildExecution | Unit]) -> None:
        """After a failure: what never started, for PENDING results and a later redrive."""
        try:
            for entry in work:
                if isinstance(entry, ChildExecution):
                    continue  # a redrive's failed child, still FAILED: the next redrive takes it again
                self.map_run.pending.append(entry)
        except StatesError:
            return
        self.map_run.read_complete = True


# -- redrive ------------------------------------------------------------------------------------
def adopt_map_runs(run: ExecutionRun, map_runs: Iterable[MapRun]) -> None:
    """Before ``run.resume(history, redrive_count=n)`` of a redriven execution: hand it the
    Map Runs of the execution it redrives. A Distributed Map state that runs again then
    redrives its failed Map Run (same ARN, MapRunRedriven event, redriveCount + 1): the
    children that succeeded keep their results and do not run again; failed STANDARD
    children are redriven (same ARN, their history goes on after ExecutionRedriven),
    failed EXPRESS ones and items that never started get new children."""
    for map_run in map_runs:
        run.map_runs[map_run.arn] = map_run
        if map_run.status in ("FAILED", "ABORTED"):
            run.redrive_map_runs.append(map_run)


def take_redrive(run: ExecutionRun, state_name: str) -> MapRun | None:
    """The failed Map Run of ``state_name`` this (redriven) run should redrive, if any."""
    for i, map_run in enumerate(run.redrive_map_runs):
        if map_run.state_name == state_name:
            return run.redrive_map_runs.pop(i)
    return None


def redrive_execution(previous: ExecutionRun, *, listener: Callable[[HistoryEvent], None] | None = None) -> Execution:
    """RedriveExecution in-process: a new run of ``previous`` (same ARN) resumed from its
    failed state, with ExecutionRedriven in its history, Distributed Map runs re-running
    only their failed children. Returns the redriven execution's result."""
    from stepkit.engine.execution import ExecutionRun

    express = ":express:" in previous.execution_arn
    if express:
        raise ValueError("an execution of an EXPRESS state machine cannot be redriven")
    run = ExecutionRun(
        previous.program,
        input=previous.input,
        name=previous.name,
        state_machine_arn=previous.state_machine_arn,
        resolver=previous.resolver,
        clock=previous.clock,
        tokens=previous.tokens,
        role_arn=previous.role_arn,
        listener=listener if listener is not None else previous.listener,
    )
    adopt_map_runs(run, previous.map_runs.values())
    count = int(previous.execution_context.get("RedriveCount", 0)) + 1
    return run.resume(list(previous.history), redrive_count=count)

