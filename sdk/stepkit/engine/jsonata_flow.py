"""How a JSONata state's input becomes its output.

``$states.input`` is the raw state input, ``$states.context`` the context object,
``$states.result`` the task/Map/Parallel result and ``$states.errorOutput`` a caught
error. ``Arguments`` makes the effective input, ``Output`` the output (by default the
result, or the input for states without one), ``Assign`` the variables. Output and
Assign both see the variables as they were before the state; the assignment happens last.
"""

from __future__ import annotations

from typing import Any

from stepkit.asl import errors
from stepkit.asl.errors import StateEvaluationError, StatesError
from stepkit.asl.json_types import json_type_name
from stepkit.asl.jsonata import (
    UNDEFINED,
    JsonataEvaluationError,
    compile_expression,
    compile_template,
    is_expression,
)
from stepkit.asl.payload import to_json
from stepkit.asl.timestamps import parse_timestamp
from stepkit.engine.frame import Frame


def _failure(error: JsonataEvaluationError, field: str) -> StateEvaluationError:
    return StateEvaluationError(error.at(field).detail, errors.QUERY_EVALUATION_ERROR)


class JsonataField:
    """One field's template, evaluated with its name attached to any error."""

    __slots__ = ("field", "template")

    def __init__(self, field: str, value: Any) -> None:
        self.field = field
        self.template = compile_template(value)

    def evaluate(self, states: dict, frame: Frame) -> Any:
        try:
            return self.template.evaluate(states, frame.variables)
        except JsonataEvaluationError as e:
            raise _failure(e, self.field) from None


def _optional(definition: dict, key: str) -> JsonataField | None:
    return JsonataField(key, definition[key]) if key in definition else None


class _Assign:
    """``Assign``: each variable's template, evaluated before any is set."""

    def __init__(self, assign: dict) -> None:
        self.fields = {name: JsonataField(f"Assign/{name}", value) for name, value in assign.items()}

    def evaluate(self, states: dict, frame: Frame) -> dict[str, Any]:
        return {name: f.evaluate(states, frame) for name, f in self.fields.items()}


class JsonataFlow:
    """Input and output processing of one JSONata state, compiled once."""

    def __init__(self, definition: dict, state: Any) -> None:
        self.arguments = _optional(definition, "Arguments")
        self.output_field = _optional(definition, "Output")
        self.assign = _Assign(definition["Assign"]) if "Assign" in definition else None
        self.items_field = _optional(definition, "Items")
        self.item_selector = _optional(definition, "ItemSelector")
        self.is_identity = self.output_field is None and self.assign is None and self.arguments is None
        self.uses_context = "context" in repr(definition)

    # -- helpers -------------------------------------------------------------------------
    def states(self, frame: Frame, raw: Any, **extra: Any) -> dict[str, Any]:
        """``$states``; the context object is built only for states that read it."""
        if self.uses_context:
            return {"input": raw, "context": frame.context(), **extra}
        return {"input": raw, **extra}

    def _finish(self, frame: Frame, states: dict, default: Any) -> Any:
        output = default if self.output_field is None else self.output_field.evaluate(states, frame)
        if self.assign is not None:
            frame.assign(self.assign.evaluate(states, frame))
        return output

    def number(self, frame: Frame, raw: Any, value: Any, field: str) -> Any:
        """A numeric field that may be a literal or an expression (MaxConcurrency...)."""
        if not is_expression(value):
            return value
        expression = compile_expression(value)
        try:
            result = expression.evaluate(self.states(frame, raw), frame.variables)
        except JsonataEvaluationError as e:
            raise _failure(e, field) from None
        if result is UNDEFINED:
            raise _failure(JsonataEvaluationError(expression.source, JsonataEvaluationError.UNDEFINED), field)
        return result

    # -- the flow ------------------------------------------------------------------------
    def effective_input(self, frame: Frame, raw: Any) -> Any:
        if self.arguments is None:
            return raw
        return self.arguments.evaluate(self.states(frame, raw), frame)

    def output(self, frame: Frame, raw: Any, result: Any, *, select: bool = True) -> Any:
        return self._finish(frame, self.states(frame, raw, result=result), result)

    def pass_state_output(self, frame: Frame, raw: Any, state: Any) -> Any:
        return self._finish(frame, self.states(frame, raw), raw)

    def pass_through(self, frame: Frame, raw: Any) -> Any:
        return self._finish(frame, self.states(frame, raw), raw)

    def choose(self, frame: Frame, raw: Any, state: Any) -> tuple[Any, str | None]:
        states = self.states(frame, raw)
        for index, rule in enumerate(state.rules):
            if rule.matches(states, frame, index):
                output = raw if rule.output is None else rule.output.evaluate(states, frame)
                if rule.assign is not None:
                    frame.assign(rule.assign.evaluate(states, frame))
                return output, rule.next
        if state.default is None:
            raise StatesError(errors.NO_CHOICE_MATCHED, "No Matches!")
        return self._finish(frame, states, raw), state.default

    def wait(self, frame: Frame, raw: Any, state: Any) -> Any:
        clock = frame.run.clock
        if state.seconds is not None:
            seconds = self.number(frame, raw, state.seconds, "Seconds")
            if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
                raise StateEvaluationError(
                    f"The JSONata expression '{compile_expression(state.seconds).source}' specified for the "
                    f"field 'Seconds' returned an unexpected result type. Expected 'integer', but was "
                    f"'{json_type_name(seconds)}' for value: {to_json(seconds)}",
                    errors.QUERY_EVALUATION_ERROR,
                )
            delay = float(seconds)
        else:
            stamp = self.number(frame, raw, state.timestamp, "Timestamp")
            when = parse_timestamp(stamp)
            if when is None:
                raise StateEvaluationError(
                    "The Timestamp field does not reference a valid ISO-8601 extended offset date-time "
                    f"format string: {stamp if isinstance(stamp, str) else to_json(stamp)}",
                    errors.QUERY_EVALUATION_ERROR,
                )
            delay = max(0.0, when.timestamp() - clock.now())
        clock.sleep(delay)
        return self._finish(frame, self.states(frame, raw), raw)

    def fail(self, frame: Frame, raw: Any, state: Any) -> tuple[Any, Any]:
        error = self.number(frame, raw, state.error, "Error")
        cause = self.number(frame, raw, state.cause, "Cause")
        return error, cause

    # -- Map -----------------------------------------------------------------------------
    def map_input(self, frame: Frame, raw: Any) -> Any:
        return raw

    def items(self, frame: Frame, raw: Any, data: Any, state: Any) -> list[Any]:
        if self.items_field is None:
            if not isinstance(raw, list):
                raise StateEvaluationError(
                    f"Map state input must be an array but was: {to_json(raw)}", errors.QUERY_EVALUATION_ERROR
                )
            return raw
        items = self.items_field.evaluate(self.states(frame, raw), frame)
        if not isinstance(items, list):
            template = state.definition["Items"]
            source = compile_expression(template).source if is_expression(template) else to_json(template)
            raise StateEvaluationError(
                f"The JSONata expression '{source}' specified for the field 'Items' returned an unexpected "
                f"result type. Expected 'array', but was '{json_type_name(items)}' for value: {to_json(items)}",
                errors.QUERY_EVALUATION_ERROR,
            )
        return items

    def item_input(self, child: Frame, data: Any, item: Any, state: Any) -> Any:
        if self.item_selector is None:
            return item
        return self.item_selector.evaluate(self.states(child, data), child)

    def batch_input(self, frame: Frame, data: Any, batcher: dict) -> Any:
        if "BatchInput" not in batcher:
            return None
        return JsonataField("ItemBatcher/BatchInput", batcher["BatchInput"]).evaluate(self.states(frame, data), frame)


class JsonataChoiceRule:
    __slots__ = ("assign", "condition", "next", "output", "source")

    def __init__(self, rule: dict) -> None:
        self.source = rule["Condition"]
        self.condition = compile_expression(rule["Condition"]) if is_expression(rule["Condition"]) else None
        self.next: str = rule["Next"]
        self.output = _optional(rule, "Output")
        self.assign = _Assign(rule["Assign"]) if "Assign" in rule else None

    def matches(self, states: dict, frame: Frame, index: int) -> bool:
        if self.condition is None:
            value = self.source
        else:
            try:
                value = self.condition.evaluate(states, frame.variables)
            except JsonataEvaluationError as e:
                raise _failure(e, f"Choices[{index}]/Condition") from None
        if not isinstance(value, bool):
            source = self.condition.source if self.condition is not None else to_json(self.source)
            raise StateEvaluationError(
                f"The JSONata expression '{source}' specified for the field 'Condition' returned an unexpected "
                f"result type. Expected 'boolean', but was '{json_type_name(value)}' for value: "
                f"{'null' if value is UNDEFINED else to_json(value)}",
                errors.QUERY_EVALUATION_ERROR,
            )
        return value


def jsonata_choice_rule(rule: dict) -> JsonataChoiceRule:
    return JsonataChoiceRule(rule)


def jsonata_catch_output(catcher: dict) -> Any:
    output = _optional(catcher, "Output")
    assign = _Assign(catcher["Assign"]) if "Assign" in catcher else None

    def catch_output(frame: Frame, raw: Any, error_output: dict) -> Any:
        states = {"input": raw, "context": frame.context(), "errorOutput": error_output}
        value = error_output if output is None else output.evaluate(states, frame)
        if assign is not None:
            frame.assign(assign.evaluate(states, frame))
        return value

    return catch_output
