"""The Map state, inline and distributed: items from the input (or a reader), one run of
the item processor per item (or batch), bounded concurrency, tolerated failures."""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from stepkit.asl import errors
from stepkit.asl.errors import StateEvaluationError, StatesError
from stepkit.asl.json_types import json_type_name
from stepkit.asl.jsonata import compile_expression
from stepkit.asl.payload import compile_payload, to_json
from stepkit.asl.references import compile_reference
from stepkit.engine.frame import Frame
from stepkit.engine.item_reader import STATE_DATA, ObjectEntries, ReaderSettings, S3ItemSource, limited, map_item
from stepkit.engine.jsonpath_flow import resolve_path
from stepkit.engine.map_run import (
    _FAILED,
    MAX_BATCH_BYTES,
    ChildExecution,
    MapRun,
    MapRunner,
    Unit,
    map_label,
    take_redrive,
)
from stepkit.engine.result_writer import WriterSettings
from stepkit.engine.states import Outcome, RecoverableState, check_result_size, mark_state_failed

if TYPE_CHECKING:
    from stepkit.engine.compiler import Compiler

#: Inline Map runs at most this many iterations at once when MaxConcurrency is 0 (unlimited).
DEFAULT_CONCURRENCY = 40


class _Setting:
    """A number given literally, through a *Path field or, in a JSONata state, as an expression
    (MaxConcurrency, ToleratedFailure..., MaxItems, the ItemBatcher's limits)."""

    def __init__(
        self, definition: dict, key: str, default: float, *, integer: bool, maximum: float | None = None
    ) -> None:
        self.key = key
        self.literal = definition.get(key, default)
        path = definition.get(f"{key}Path")
        self.path_text = path
        self.ref = compile_reference(path) if isinstance(path, str) else None
        self.integer = integer
        self.maximum = maximum

    def value(self, frame: Frame, data: Any, flow: Any = None) -> float:
        if self.ref is None:
            if isinstance(self.literal, str) and flow is not None:  # a JSONata expression
                return self._jsonata_value(frame, data, flow)
            return self.literal
        value = resolve_path(self.ref, data, frame)
        number = _as_number(value, self.integer)
        if number is None:
            kind = "integer" if self.integer else "float"
            shown = value if isinstance(value, str) else to_json(value)
            raise StateEvaluationError(
                f'The {self.key}Path field refers to value "{shown}" which is not a valid {kind}: '
                f"{self.path_text}"
            )
        return number

    def _jsonata_value(self, frame: Frame, data: Any, flow: Any) -> float:
        """The spec's rule for a JSONata-valued field: the expression evaluates to a number
        (an integer for the integer fields) within the field's range, as a literal must be;
        anything else fails the state with States.QueryEvaluationError."""
        value = flow.number(frame, data, self.literal, self.key)
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or (self.integer and not float(value).is_integer()):
            raise StateEvaluationError(
                f"The JSONata expression '{compile_expression(self.literal).source}' specified for the field "
                f"'{self.key}' returned an unexpected result type. Expected "
                f"'{'integer' if self.integer else 'number'}', but was '{json_type_name(value)}' for value: "
                f"{to_json(value)}",
                errors.QUERY_EVALUATION_ERROR,
            )
        problem = _range_problem(self.key, value, self.maximum)
        if problem is not None:
            raise StateEvaluationError(problem, errors.QUERY_EVALUATION_ERROR)
        return int(value) if self.integer else float(value)


def _range_problem(key: str, value: float, maximum: float | None) -> str | None:
    """AWS's text for a setting below 0 (or above its maximum), or None when it is in range."""
    if value >= 0 and (maximum is None or value <= maximum):
        return None
    if key == "ToleratedFailurePercentage":
        return "ToleratedFailurePercentage must be between 0 and 100."
    if key == "ToleratedFailureCount":
        return "ToleratedFailureCount cannot be negative."
    if key == "MaxConcurrency":
        return f"Expected non-negative integer for MaxConcurrency, got '{to_json(value)}' instead."
    return f"The {key} field must not be negative, but was {to_json(value)}."


def _as_number(value: Any, integer: bool) -> float | None:
    """A *Path value as a number: numbers, and strings that spell one, as AWS accepts."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = int(value) if integer else float(value)
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    if integer:
        return int(value) if float(value).is_integer() else None
    return float(value)


class MapState(RecoverableState):
    type_name = "Map"
    entered_event = "MapStateEntered"
    exited_event = "MapStateExited"

    def __init__(self, name: str, definition: dict, compiler: Compiler) -> None:
        super().__init__(name, definition, compiler)
        processor_def = definition.get("ItemProcessor") or definition.get("Iterator")
        where = "ItemProcessor" if "ItemProcessor" in definition else "Iterator"
        self.processor = compiler.program(processor_def, where)
        config = (processor_def or {}).get("ProcessorConfig") or {}
        self.distributed = config.get("Mode") == "DISTRIBUTED"
        self.execution_type = config.get("ExecutionType", "STANDARD")
        self.blocking = self.processor.blocking
        self.max_concurrency = _Setting(definition, "MaxConcurrency", 0, integer=True)
        self.tolerated_count = _Setting(definition, "ToleratedFailureCount", 0, integer=True)
        self.tolerated_percentage = _Setting(
            definition, "ToleratedFailurePercentage", 0, integer=False, maximum=100
        )
        self.tolerance_given = (
            any(k in definition for k in ("ToleratedFailureCount", "ToleratedFailureCountPath")),
            any(k in definition for k in ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath")),
        )
        self.batcher = definition.get("ItemBatcher")
        self.item_reader = definition.get("ItemReader")
        self.label = definition.get("Label")
        self.reader_config = ReaderSettings((self.item_reader or {}).get("ReaderConfig"))
        reader_settings = (self.item_reader or {}).get("ReaderConfig") or {}
        self.max_items = _Setting(reader_settings, "MaxItems", 0, integer=True)
        self.reader_parameters = _template(self.item_reader, self.query_language, "ItemReader")
        self.result_writer = definition.get("ResultWriter")
        self.writer = WriterSettings(self.result_writer) if self.result_writer is not None else None
        self.writer_parameters = _template(self.result_writer, self.query_language, "ResultWriter")
        if self.batcher is not None:
            self.batch_items = _Setting(self.batcher, "MaxItemsPerBatch", 0, integer=True)
            self.batch_bytes = _Setting(self.batcher, "MaxInputBytesPerBatch", 0, integer=True)

    def execute(self, frame: Frame, raw: Any) -> Outcome:
        if self.distributed:
            return self.recover(frame, raw, lambda: self._distributed(frame, raw))

        def attempt() -> Outcome:
            # AWS's order, as its histories show: the items (a failure here is a
            # MapStateFailed), MaxConcurrency, MapStateStarted, then the tolerated
            # failure settings (failures of those two fail the state with no event).
            run = frame.run
            try:
                data = self.flow.map_input(frame, raw)
                items = self.flow.items(frame, raw, data, self)
            except StatesError as err:
                raise mark_state_failed(err, "MapStateFailed") from None
            concurrency = self._concurrency(frame, data)
            keyed = isinstance(items, ObjectEntries)
            if self.batcher is not None:
                items, keyed = self._batches(frame, data, items), False
            run.record("MapStateStarted", frame, {"length": len(items)})
            self._tolerance(frame, data)
            try:
                results = self._run_inline(frame, data, items, concurrency, keyed)
            except StatesError as err:
                raise mark_state_failed(err, "MapStateFailed") from None
            run.record("MapStateSucceeded", frame, None)
            return self.flow.output(frame, raw, results), self.next

        return self.recover(frame, raw, attempt)

    # -- settings ----------------------------------------------------------------------
    def _concurrency(self, frame: Frame, data: Any) -> int:
        concurrency = int(self.max_concurrency.value(frame, data, self.flow))
        if concurrency < 0:  # from MaxConcurrencyPath (AWS: States.Runtime)
            raise StateEvaluationError(_range_problem("MaxConcurrency", concurrency, None) or "")
        return concurrency

    def _tolerance(self, frame: Frame, data: Any) -> tuple[int, float]:
        count = self.tolerated_count.value(frame, data, self.flow)
        percentage = self.tolerated_percentage.value(frame, data, self.flow)
        if count < 0:
            raise StateEvaluationError("ToleratedFailureCount cannot be negative.")
        if not 0 <= percentage <= 100:
            raise StateEvaluationError("ToleratedFailurePercentage must be between 0 and 100.")
        return int(count), float(percentage)

    def _batches(self, frame: Frame, data: Any, items: list[Any]) -> list[Any]:
        batcher = self.batcher
        max_items = self.batch_items.value(frame, data, self.flow) or len(items) or 1
        max_bytes = self.batch_bytes.value(frame, data, self.flow)
        batch_input = self.flow.batch_input(frame, data, batcher)
        batches: list[Any] = []
        current: list[Any] = []
        size = 0
        for item in items:
            item_size = len(to_json(item).encode()) if max_bytes else 0
            if current and (len(current) >= max_items or (max_bytes and size + item_size > max_bytes)):
                batches.append(current)
                current, size = [], 0
            current.append(item)
            size += item_size
        if current:
            batches.append(current)
        out = []
        for batch in batches:
            entry: dict[str, Any] = {}
            if batch_input is not None:
                entry["BatchInput"] = batch_input
            entry["Items"] = batch
            out.append(entry)
        return out

    # -- iterations --------------------------------------------------------------------
    def _iteration(self, frame: Frame, data: Any, index: int, item: Any, *, events: bool, keyed: bool = False) -> Any:
        run = frame.run
        child = frame.child(frame.prev, map_item(index, item, STATE_DATA, keyed))
        child.state_name = self.name
        child.entered_id = frame.entered_id
        child.entered_time = frame.entered_time
        details = {"name": self.name, "index": index}
        if events:
            run.record("MapIterationStarted", child, details)
        item_input = self.flow.item_input(child, data, item, self)
        try:
            output = run.run_program(self.processor, item_input, child, record=events)
        except StatesError:
            if events:
                run.record("MapIterationFailed", child, details)
            raise
        if events:
            run.record("MapIterationSucceeded", child, details)
        return output

    def _run_inline(self, frame: Frame, data: Any, items: list[Any], concurrency: int, keyed: bool) -> list[Any]:
        if not items:
            return []
        if concurrency == 1 or not self.blocking:
            return [self._iteration(frame, data, i, item, events=True, keyed=keyed) for i, item in enumerate(items)]
        workers = min(len(items), concurrency or DEFAULT_CONCURRENCY)
        return self._run_pooled(frame, data, items, workers, events=True, keyed=keyed)

    def _run_pooled(
        self, frame: Frame, data: Any, items: list[Any], workers: int, *, events: bool, keyed: bool = False
    ) -> list[Any]:
        """Iterations on a bounded pool; at most ``workers`` items are in flight, so a huge
        item list never becomes a huge list of futures."""
        results: list[Any] = [None] * len(items)
        run = frame.run
        pending: set[concurrent.futures.Future] = set()
        index_of: dict[concurrent.futures.Future, int] = {}
        source = enumerate(items)
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            try:
                for i, item in itertools.islice(source, workers):
                    fut = pool.submit(self._iteration, frame, data, i, item, events=events, keyed=keyed)
                    pending.add(fut)
                    index_of[fut] = i
                while pending:
                    done, pending = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                    for fut in done:
                        results[index_of.pop(fut)] = fut.result()
                    for i, item in itertools.islice(source, len(done)):
                        fut = pool.submit(self._iteration, frame, data, i, item, events=events, keyed=keyed)
                        pending.add(fut)
                        index_of[fut] = i
            except StatesError:
                run.abort_children(list(pending))
                raise
        return results

    # -- distributed -------------------------------------------------------------------------
    def _distributed(self, frame: Frame, raw: Any) -> Outcome:
        """A Map Run: items from the input or the ItemReader, each item (or batch) a child
        execution; then the results in the output or written by the ResultWriter."""
        run = frame.run
        try:
            data = self.flow.map_input(frame, raw)
            source, known_total = self._item_source(frame, raw, data)
        except StatesError as err:
            raise mark_state_failed(err, "MapStateFailed") from None
        concurrency = self._concurrency(frame, data)
        batching = self._batching(frame, data) if self.batcher is not None else None
        run.record("MapStateStarted", frame, {"length": known_total or 0})
        tolerance = self._tolerance(frame, data)
        writer_params = self.writer_parameters(frame, raw, data) if self.writer and self.writer.exports else None
        map_run, units, redrive = self._start_map_run(frame, data, source, batching, concurrency, tolerance)
        from stepkit.engine.execution import ExecutionAborted  # (execution imports the compiler)

        runner = MapRunner(self, frame, units, map_run, known_total=known_total, redrive=redrive)
        try:
            runner.execute()
        except ExecutionAborted:
            map_run.status, map_run.stop_date = "ABORTED", run.clock.now()
            raise
        except StatesError as err:
            raise self._map_run_failed(frame, map_run, err, writer_params) from None
        try:
            if writer_params is not None:
                result: Any = self._write(run, writer_params, map_run)
            else:
                children = sorted(map_run.children, key=lambda c: c.index)
                result = list((self.writer or WriterSettings(None)).transform(children))
        except StatesError as err:
            raise self._map_run_failed(frame, map_run, err) from None
        map_run.status, map_run.stop_date = "SUCCEEDED", run.clock.now()
        run.record("MapRunSucceeded", frame, None)
        output = self.flow.output(frame, raw, result)
        try:  # the results stay in the state output: within Step Functions' payload limit
            check_result_size(output, self.name)
        except StatesError as err:
            raise mark_state_failed(err, "MapStateFailed") from None
        run.record("MapStateSucceeded", frame, None)
        return output, self.next

    def _item_source(
        self, frame: Frame, raw: Any, data: Any
    ) -> tuple[Callable[[], Iterator[tuple[Any, str, bool]]], int | None]:
        """A function giving each item with its ``$$.Map.Item.Source`` and whether it is a
        key-value pair of an object (the items of the input, or those the ItemReader reads,
        lazily), and how many there are when known."""
        if self.item_reader is None:
            items: list[Any] = self.flow.items(frame, raw, data, self)
            keyed = isinstance(items, ObjectEntries)
            return (lambda: ((item, STATE_DATA, keyed) for item in items)), len(items)
        reader_params = self.reader_parameters(frame, raw, data)
        max_items = int(self.max_items.value(frame, data, self.flow))
        if max_items < 0:
            raise StateEvaluationError(f"The MaxItems field must not be negative, but was {max_items}.")
        run = frame.run

        def read() -> Iterator[tuple[Any, str, bool]]:
            action = str((self.item_reader or {}).get("Resource", "")).rsplit(":", 1)[-1]
            reader = S3ItemSource(_s3(run, errors.ITEM_READER_FAILED), action, reader_params or {}, self.reader_config)
            return ((item, reader.current_source, reader.keyed) for item in limited(reader.items(), max_items))

        return read, None

    def _start_map_run(
        self,
        frame: Frame,
        data: Any,
        source: Callable[[], Iterator[Any]],
        batching: tuple[int, int, Any] | None,
        concurrency: int,
        tolerance: tuple[int, float],
    ) -> tuple[MapRun, Iterator[Unit], list[ChildExecution]]:
        """A new Map Run (MapRunStarted) with all its units, or, in a redriven execution, the
        failed Map Run again (MapRunRedriven) with the units it had not finished."""
        run = frame.run
        map_run = take_redrive(run, self.name)
        if map_run is None:
            sm_arn = run.state_machine_arn
            label = map_label(sm_arn, self.name, self.label)
            count, percentage = tolerance
            map_run = MapRun(
                arn=f"{sm_arn.replace(':stateMachine:', ':mapRun:', 1)}/{label}:{uuid.uuid4()}",
                execution_arn=run.execution_arn,
                state_machine_arn=f"{sm_arn}/{label}",
                state_name=self.name,
                max_concurrency=concurrency,
                tolerated_failure_count=count if self.tolerance_given[0] else None,
                tolerated_failure_percentage=percentage if self.tolerance_given[1] else None,
                start_date=run.clock.now(),
            )
            run.map_runs[map_run.arn] = map_run
            run.record("MapRunStarted", frame, {"mapRunArn": map_run.arn})
            return map_run, self._units(frame, data, source, batching), []
        map_run.redrive_count += 1
        map_run.redrive_date = run.clock.now()
        map_run.status, map_run.stop_date, map_run.error, map_run.cause = "RUNNING", None, None, None
        run.map_runs[map_run.arn] = map_run
        run.record("MapRunRedriven", frame, {"mapRunArn": map_run.arn, "redriveCount": map_run.redrive_count})
        redrive = [c for c in map_run.children if c.redrivable or (c.express and c.status in _FAILED)]
        pending, map_run.pending = map_run.pending, []
        units: Iterator[Unit] = iter(pending)
        if not map_run.read_complete:
            next_index = 1 + max([c.index for c in map_run.children] + [u.index for u in pending], default=-1)
            rest = (u for u in self._units(frame, data, source, batching) if u.index >= next_index)
            units = itertools.chain(units, rest)
        return map_run, units, redrive

    def _map_run_failed(
        self, frame: Frame, map_run: MapRun, err: StatesError, writer_params: Any = None
    ) -> StatesError:
        """Mark the Map Run failed (MapRunFailed); the state's failure to raise. With
        ``writer_params``, what ran keeps its results, exported as for a success."""
        map_run.status, map_run.stop_date = "FAILED", frame.run.clock.now()
        map_run.error, map_run.cause = err.error, err.cause
        if writer_params is not None:
            with contextlib.suppress(StatesError):
                self._write(frame.run, writer_params, map_run)
        frame.run.record("MapRunFailed", frame, {"error": err.error, "cause": err.cause})
        return mark_state_failed(err, "MapStateFailed")

    def _write(self, run: Any, params: Any, map_run: MapRun) -> dict[str, Any]:
        assert self.writer is not None
        if not isinstance(params, dict):
            raise StatesError(errors.RESULT_WRITER_FAILED, "The ResultWriter's Parameters must be an object.")
        map_run.children.sort(key=lambda c: c.index)
        client = _s3(run, errors.RESULT_WRITER_FAILED)
        return self.writer.write(client, params.get("Bucket"), params.get("Prefix"), map_run)

    def _batching(self, frame: Frame, data: Any) -> tuple[int, int, Any]:
        max_items = int(self.batch_items.value(frame, data, self.flow))
        max_bytes = int(self.batch_bytes.value(frame, data, self.flow))
        if max_items < 0 or max_bytes < 0:
            raise StateEvaluationError("MaxItemsPerBatch and MaxInputBytesPerBatch must not be negative.")
        if max_bytes > MAX_BATCH_BYTES:
            raise StateEvaluationError(
                f"MaxInputBytesPerBatch must be at most {MAX_BATCH_BYTES} bytes, but was {max_bytes}."
            )
        return max_items, max_bytes or MAX_BATCH_BYTES, self.flow.batch_input(frame, data, self.batcher)

    def _units(
        self, frame: Frame, data: Any, source: Callable[[], Iterator[Any]], batching: tuple[int, int, Any] | None
    ) -> Iterator[Unit]:
        """The children's inputs, lazily: each item through the ItemSelector (which sees
        ``$$.Map.Item`` and the parent's variables), then grouped by the ItemBatcher."""
        selector = self.flow.item_selector is not None

        def selected() -> Iterator[tuple[int, Any, Any]]:
            for index, (item, origin, keyed) in enumerate(source()):
                value = item
                if selector:
                    child = frame.child(frame.prev, map_item(index, item, origin, keyed))
                    child.state_name = self.name
                    child.entered_id = frame.entered_id
                    child.entered_time = frame.entered_time
                    item = self.flow.item_input(child, data, item, self)
                yield index, item, value

        if batching is None:
            for index, item, value in selected():
                yield Unit(index, item, 1, value if selector else None)
            return
        max_items, max_bytes, batch_input = batching
        envelope: dict[str, Any] = {} if batch_input is None else {"BatchInput": batch_input}
        overhead = len(to_json({**envelope, "Items": []}).encode())
        batch: list[Any] = []
        size = overhead
        number = 0

        def unit() -> Unit:
            return Unit(number, {**envelope, "Items": batch}, len(batch))

        for index, item, _ in selected():
            item_size = len(to_json(item).encode())
            if overhead + item_size > max_bytes:
                raise StatesError(
                    errors.ITEM_READER_FAILED,
                    f"The item at index {index} is {item_size} bytes: a batch holding it would exceed "
                    f"MaxInputBytesPerBatch ({max_bytes} bytes).",
                )
            if batch and (len(batch) >= (max_items or len(batch) + 1) or size + item_size + 1 > max_bytes):
                yield unit()
                number += 1
                batch, size = [], overhead
            size += item_size + (1 if batch else 0)
            batch.append(item)
        if batch:
            yield unit()


def _s3(run: Any, error: str) -> Any:
    """The execution's S3 client (its resolver makes it); failing to make one fails the
    reader or the writer."""
    try:
        return run.resolver.client("s3")
    except Exception as exc:
        raise StatesError(error, f"Cannot make an S3 client: {type(exc).__name__}: {exc}") from None


def _template(definition: dict | None, query_language: str, field: str) -> Callable[[Frame, Any, Any], Any]:
    """An ItemReader's or ResultWriter's ``Parameters`` (JSONPath, over the effective input)
    or ``Arguments`` (JSONata, over ``$states.input``), evaluated when the Map starts."""
    definition = definition or {}
    if query_language == "JSONata":
        from stepkit.engine.jsonata_flow import JsonataField

        if "Arguments" not in definition:
            return lambda frame, raw, data: {}
        args = JsonataField(f"{field}/Arguments", definition["Arguments"])
        return lambda frame, raw, data: args.evaluate({"input": raw, "context": frame.context()}, frame)
    if "Parameters" not in definition:
        return lambda frame, raw, data: {}
    params = compile_payload(definition["Parameters"])
    return lambda frame, raw, data: params.evaluate(data, frame.context(), frame.variables)
