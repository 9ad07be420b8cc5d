"""The Map state, inline and distributed: items from the input (or a reader), one run of
the item processor per item (or batch), bounded concurrency, tolerated failures."""

from __future__ import annotations

import concurrent.futures
import itertools
import math
from typing import TYPE_CHECKING, Any

from stepkit.asl import errors
from stepkit.asl.errors import StateEvaluationError, StatesError
from stepkit.asl.jsonpath import PathNotFoundError
from stepkit.asl.payload import to_json
from stepkit.asl.references import compile_reference
from stepkit.engine.frame import Frame
from stepkit.engine.states import Outcome, RecoverableState, mark_state_failed

if TYPE_CHECKING:
    from stepkit.engine.compiler import Compiler

#: Inline Map runs at most this many iterations at once when MaxConcurrency is 0 (unlimited).
DEFAULT_CONCURRENCY = 40


class _Setting:
    """A number given literally or through a *Path field (MaxConcurrency, Tolerated...)."""

    def __init__(self, definition: dict, key: str, default: float, *, integer: bool) -> None:
        self.key = key
        self.literal = definition.get(key, default)
        path = definition.get(f"{key}Path")
        self.path_text = path
        self.ref = compile_reference(path) if isinstance(path, str) else None
        self.integer = integer

    def value(self, frame: Frame, data: Any, flow: Any = None) -> float:
        if self.ref is None:
            if isinstance(self.literal, str) and flow is not None:  # a JSONata expression
                value = flow.number(frame, data, self.literal, self.key)
                number = _as_number(value, self.integer)
                if number is None:
                    raise StateEvaluationError(
                        f"The {self.key} field refers to value \"{to_json(value)}\" which is not a valid "
                        f"{'integer' if self.integer else 'float'}",
                        errors.QUERY_EVALUATION_ERROR,
                    )
                return number
            return self.literal
        try:
            value = self.ref.resolve(data, frame.context() if self.ref.is_context else None, frame.variables)
        except PathNotFoundError:
            raise StateEvaluationError(
                f"Invalid path '{self.path_text}' : No results for path: $['{self.path_text[2:]}']"
            ) from None
        number = _as_number(value, self.integer)
        if number is None:
            kind = "integer" if self.integer else "float"
            shown = value if isinstance(value, str) else to_json(value)
            raise StateEvaluationError(
                f'The {self.key}Path field refers to value "{shown}" which is not a valid {kind}: '
                f"{self.path_text}"
            )
        return number


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
        self.processor = compiler.program(processor_def, self.query_language)
        config = (processor_def or {}).get("ProcessorConfig") or {}
        self.distributed = config.get("Mode") == "DISTRIBUTED"
        self.blocking = self.processor.blocking
        self.max_concurrency = _Setting(definition, "MaxConcurrency", 0, integer=True)
        self.tolerated_count = _Setting(definition, "ToleratedFailureCount", 0, integer=True)
        self.tolerated_percentage = _Setting(definition, "ToleratedFailurePercentage", 0, integer=False)
        self.batcher = definition.get("ItemBatcher")
        self.item_reader = definition.get("ItemReader")
        self.label = definition.get("Label")

    def execute(self, frame: Frame, raw: Any) -> Outcome:
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
            concurrency = int(self.max_concurrency.value(frame, data, self.flow))
            if self.batcher is not None:
                items = self._batches(frame, data, items)
            run.record("MapStateStarted", frame, {"length": len(items)})
            tolerated = self._tolerance(frame, data)
            try:
                if self.distributed:
                    results = self._run_distributed(frame, data, items, concurrency, tolerated)
                else:
                    results = self._run_inline(frame, data, items, concurrency)
            except StatesError as err:
                raise mark_state_failed(err, "MapStateFailed") from None
            run.record("MapStateSucceeded", frame, None)
            return self.flow.output(frame, raw, results), self.next

        return self.recover(frame, raw, attempt)

    # -- settings ----------------------------------------------------------------------
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
        max_items = _Setting(batcher, "MaxItemsPerBatch", 0, integer=True).value(frame, data) or len(items) or 1
        max_bytes = _Setting(batcher, "MaxInputBytesPerBatch", 0, integer=True).value(frame, data)
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
    def _iteration(self, frame: Frame, data: Any, index: int, item: Any, *, events: bool) -> Any:
        run = frame.run
        child = frame.child(frame.prev, {"Index": index, "Value": item})
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

    def _run_inline(self, frame: Frame, data: Any, items: list[Any], concurrency: int) -> list[Any]:
        if not items:
            return []
        if concurrency == 1 or not self.blocking:
            return [self._iteration(frame, data, i, item, events=True) for i, item in enumerate(items)]
        workers = min(len(items), concurrency or DEFAULT_CONCURRENCY)
        return self._run_pooled(frame, data, items, workers, events=True)

    def _run_pooled(self, frame: Frame, data: Any, items: list[Any], workers: int, *, events: bool) -> list[Any]:
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
                    fut = pool.submit(self._iteration, frame, data, i, item, events=events)
                    pending.add(fut)
                    index_of[fut] = i
                while pending:
                    done, pending = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                    for fut in done:
                        results[index_of.pop(fut)] = fut.result()
                    for i, item in itertools.islice(source, len(done)):
                        fut = pool.submit(self._iteration, frame, data, i, item, events=events)
                        pending.add(fut)
                        index_of[fut] = i
            except StatesError:
                run.abort_children(list(pending))
                raise
        return results

    def _run_distributed(
        self, frame: Frame, data: Any, items: list[Any], concurrency: int, tolerated: tuple[int, float]
    ) -> list[Any]:
        """Each item (or batch) runs as a child execution: its events stay out of this
        history, failures up to the tolerated threshold are kept as failed results."""
        run = frame.run
        run.record("MapRunStarted", frame, {"mapRunArn": run.map_run_arn(self.name, self.label)})
        count, percentage = tolerated
        failures = 0
        results: list[Any] = []

        def child(index: int, item: Any) -> tuple[bool, Any]:
            try:
                return True, self._iteration(frame, data, index, item, events=False)
            except StatesError as err:
                return False, {"Error": err.error, "Cause": err.cause}

        workers = min(len(items), concurrency or DEFAULT_CONCURRENCY) if self.blocking else 1
        if workers <= 1:
            outcomes = [child(i, item) for i, item in enumerate(items)]
        else:
            with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
                outcomes = list(pool.map(lambda p: child(*p), enumerate(items)))
        for ok, value in outcomes:
            if not ok:
                failures += 1
            results.append(value)
        total = len(items)
        allowed = max(count, math.floor(total * percentage / 100)) if total else 0
        if failures > allowed or (failures and total and failures / total * 100 > percentage and failures > count):
            run.record("MapRunFailed", frame, {"error": errors.EXCEED_TOLERATED_FAILURE_THRESHOLD})
            raise StatesError(
                errors.EXCEED_TOLERATED_FAILURE_THRESHOLD,
                "The specified tolerated failure threshold was exceeded",
            )
        run.record("MapRunSucceeded", frame, None)
        return results
