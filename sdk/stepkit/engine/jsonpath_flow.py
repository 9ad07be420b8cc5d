"""How a state's input becomes its output, per query language.

``JsonPathFlow``: InputPath -> Parameters -> (work) -> ResultSelector -> ResultPath ->
OutputPath, plus Assign. The JSONata flow lives in ``jsonata_flow``. A state asks its flow
for the effective input and for the output; it never looks at those fields itself.
"""

from __future__ import annotations

from typing import Any

from stepkit.asl import errors
from stepkit.asl.errors import StateEvaluationError, StatesError
from stepkit.asl.jsonpath import PathNotFoundError
from stepkit.asl.payload import compile_payload, to_json
from stepkit.asl.reference_path import compile_reference_path
from stepkit.asl.references import Reference, compile_reference
from stepkit.engine.frame import Frame
from stepkit.engine.item_reader import object_entries

_ABSENT = object()


def _path_field(definition: dict, key: str) -> Any:
    """A *Path field: _ABSENT when missing or "$" (identity), None for null, else a Reference."""
    text = definition.get(key, _ABSENT)
    if text is _ABSENT or text == "$":
        return _ABSENT
    if text is None:
        return None
    return compile_reference(text)


def resolve_path(ref: Reference, data: Any, frame: Frame) -> Any:
    """The value a path field references; AWS's "Invalid path" runtime error when none."""
    try:
        return ref.resolve(data, frame.context() if ref.is_context else None, frame.variables)
    except PathNotFoundError as e:
        raise StateEvaluationError(f"Invalid path '{ref.text}' : {e.detail}") from None


def _apply_path(path: Any, data: Any, frame: Frame) -> Any:
    if path is _ABSENT:
        return data
    if path is None:
        return {}
    return resolve_path(path, data, frame)


class JsonPathFlow:
    """Input and output processing of one JSONPath state, compiled once."""

    __slots__ = (
        "assign",
        "input_path",
        "is_identity",
        "item_selector",
        "items_path",
        "output_path",
        "parameters",
        "result_path",
        "result_selector",
        "uses_context",
    )

    def __init__(self, definition: dict, *, parameters_key: str | None = "Parameters") -> None:
        self.input_path = _path_field(definition, "InputPath")
        self.output_path = _path_field(definition, "OutputPath")
        params = definition.get(parameters_key) if parameters_key else None
        self.parameters = compile_payload(params) if params is not None else None
        selector = definition.get("ItemSelector", definition.get("Parameters")) if parameters_key is None else None
        self.item_selector = compile_payload(selector) if selector is not None else None
        self.items_path = _path_field(definition, "ItemsPath")
        selector = definition.get("ResultSelector")
        self.result_selector = compile_payload(selector) if selector is not None else None
        self.result_path = result_path_field(definition)
        assign = definition.get("Assign")
        self.assign = compile_payload(assign) if assign is not None else None
        self.uses_context = "$$" in repr(definition)
        self.is_identity = (
            self.input_path is _ABSENT
            and self.output_path is _ABSENT
            and self.parameters is None
            and self.result_selector is None
            and self.result_path is _ABSENT
            and self.assign is None
        )

    def _context(self, frame: Frame) -> Any:
        return frame.context() if self.uses_context else None

    def effective_input(self, frame: Frame, raw: Any) -> Any:
        data = _apply_path(self.input_path, raw, frame)
        if self.parameters is not None:
            data = self.parameters.evaluate(data, self._context(frame), frame.variables)
        return data

    def output(self, frame: Frame, raw: Any, result: Any, *, select: bool = True) -> Any:
        """The state output for ``result``; evaluates Assign (seeing the variables as they
        were before this state) and commits it last."""
        if select and self.result_selector is not None:
            result = self.result_selector.evaluate(result, self._context(frame), frame.variables)
        assigned = (
            self.assign.evaluate(result, self._context(frame), frame.variables)
            if self.assign is not None
            else None
        )
        output = _apply_path(self.output_path, place_result(self.result_path, raw, result), frame)
        if assigned:
            frame.assign(assigned)
        return output

    def pass_through(self, frame: Frame, raw: Any) -> Any:
        """Output of a state without a result (Choice, Wait, Succeed): InputPath then OutputPath."""
        data = _apply_path(self.input_path, raw, frame)
        if self.assign is not None:
            frame.assign(self.assign.evaluate(data, self._context(frame), frame.variables))
        return _apply_path(self.output_path, data, frame)

    def map_input(self, frame: Frame, raw: Any) -> Any:
        return _apply_path(self.input_path, raw, frame)

    def items(self, frame: Frame, raw: Any, data: Any, state: Any) -> list[Any]:
        items = data if self.items_path is _ABSENT else _apply_path(self.items_path, data, frame)
        if isinstance(items, dict):  # a JSON object: one iteration per key-value pair
            return object_entries(items)
        if not isinstance(items, list):
            raise StateEvaluationError(f"Map state input must be an array but was: {to_json(items)}")
        return items

    def item_input(self, child: Frame, data: Any, item: Any, state: Any) -> Any:
        if self.item_selector is None:
            return item
        return self.item_selector.evaluate(data, child.context(), child.variables)

    def batch_input(self, frame: Frame, data: Any, batcher: dict) -> Any:
        if "BatchInput" not in batcher:
            return None
        return compile_payload(batcher["BatchInput"]).evaluate(data, frame.context(), frame.variables)

    def pass_state_output(self, frame: Frame, raw: Any, state: Any) -> Any:
        data = self.effective_input(frame, raw)
        return self.output(frame, raw, state.result if state.has_result else data, select=False)

    def choose(self, frame: Frame, raw: Any, state: Any) -> tuple[Any, str | None]:
        data = _apply_path(self.input_path, raw, frame)
        context = self._context(frame)
        variables = frame.variables
        for rule in state.rules:
            if rule.matches(data, context, variables):
                if rule.assign is not None:
                    frame.assign(rule.assign.evaluate(data, context, variables))
                return _apply_path(self.output_path, data, frame), rule.next
        if state.default is None:
            raise StatesError(errors.NO_CHOICE_MATCHED, "No Matches!")
        if self.assign is not None:  # the state's own Assign goes with its Default
            frame.assign(self.assign.evaluate(data, context, variables))
        return _apply_path(self.output_path, data, frame), state.default

    def wait(self, frame: Frame, raw: Any, state: Any) -> Any:
        data = _apply_path(self.input_path, raw, frame)
        frame.run.clock.sleep(state.wait_seconds(frame, data))
        if self.assign is not None:
            frame.assign(self.assign.evaluate(data, self._context(frame), frame.variables))
        return _apply_path(self.output_path, data, frame)

    def fail(self, frame: Frame, raw: Any, state: Any) -> tuple[Any, Any]:
        error = state.error_path(frame, raw) if state.error_path is not None else state.error
        cause = state.cause_path(frame, raw) if state.cause_path is not None else state.cause
        return error, cause


def result_path_field(definition: dict) -> Any:
    """ResultPath (of a state or a catcher): _ABSENT for ``$`` or missing, None for null,
    else the compiled reference path."""
    if "ResultPath" not in definition or definition["ResultPath"] == "$":
        return _ABSENT
    if definition["ResultPath"] is None:
        return None
    return compile_reference_path(definition["ResultPath"])


def place_result(result_path: Any, raw: Any, result: Any) -> Any:
    """Where ResultPath puts a result: replaces the input, drops the result (null), or is
    set into the input at the path."""
    if result_path is _ABSENT:
        return result
    if result_path is None:
        return raw
    return result_path.set(raw, result)
