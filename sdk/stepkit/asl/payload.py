"""JSONPath-mode payload templates (``Parameters``, ``ResultSelector``, ``ItemSelector``,
``Assign``): keys ending in ``.$`` take their value from a path or an intrinsic function.

A template is compiled once into a tree of small evaluators; parts with nothing to
evaluate are kept as the literal value and returned as-is (values are immutable).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from stepkit.asl.errors import StateEvaluationError
from stepkit.asl.intrinsics import ArgumentPathNotFound, compile_intrinsic, is_intrinsic
from stepkit.asl.java_json import java_json_dumps
from stepkit.asl.jsonpath import PathNotFoundError
from stepkit.asl.references import compile_reference

Evaluator = Callable[[Any, Any, Mapping[str, Any] | None], Any]


def to_json(value: Any) -> str:
    """JSON text as AWS prints it in messages: compact, key order kept, numbers as
    Jackson writes them (AWS runs on the JVM)."""
    return java_json_dumps(value)


def _dynamic_value(field: str, text: Any) -> Evaluator:
    if not isinstance(text, str):
        raise ValueError(f"the value of '{field}' must be a string holding a path or an intrinsic function")
    if is_intrinsic(text):
        intrinsic = compile_intrinsic(text)

        def evaluate_intrinsic(data: Any, context: Any, variables: Mapping[str, Any] | None) -> Any:
            try:
                return intrinsic.evaluate(data, context, variables)
            except ArgumentPathNotFound as e:  # AWS names the field holding the call
                raise StateEvaluationError(
                    f"The JSONPath '{e.path}' specified for the field '{field}' could not be found "
                    f"in the input '{to_json(data)}'"
                ) from None

        return evaluate_intrinsic
    ref = compile_reference(text)

    def evaluate(data: Any, context: Any, variables: Mapping[str, Any] | None) -> Any:
        try:
            return ref.resolve(data, context, variables)
        except PathNotFoundError:
            raise StateEvaluationError(
                f"The JSONPath '{text}' specified for the field '{field}' could not be found "
                f"in the input '{to_json(data)}'"
            ) from None

    return evaluate


class Payload:
    """A compiled payload template."""

    __slots__ = ("_evaluate", "is_static", "template")

    def __init__(self, template: Any) -> None:
        self.template = template
        evaluate = _compile(template)
        self.is_static = evaluate is None
        self._evaluate = evaluate

    def evaluate(self, data: Any, context: Any, variables: Mapping[str, Any] | None = None) -> Any:
        if self._evaluate is None:
            return self.template
        return self._evaluate(data, context, variables)


def _compile(template: Any) -> Evaluator | None:
    """An evaluator for the template, or None when it is a literal."""
    if isinstance(template, dict):
        parts: list[tuple[str, Any, Evaluator | None]] = []
        dynamic = False
        for key, value in template.items():
            if key.endswith(".$"):
                parts.append((key[:-2], None, _dynamic_value(key, value)))
                dynamic = True
            else:
                sub = _compile(value)
                parts.append((key, value, sub))
                dynamic = dynamic or sub is not None
        if not dynamic:
            return None

        def evaluate_object(data: Any, context: Any, variables: Mapping[str, Any] | None) -> dict:
            return {
                key: (literal if sub is None else sub(data, context, variables))
                for key, literal, sub in parts
            }

        return evaluate_object
    if isinstance(template, list):
        items = [(value, _compile(value)) for value in template]
        if all(sub is None for _, sub in items):
            return None

        def evaluate_array(data: Any, context: Any, variables: Mapping[str, Any] | None) -> list:
            return [literal if sub is None else sub(data, context, variables) for literal, sub in items]

        return evaluate_array
    return None


def compile_payload(template: Any) -> Payload:
    return Payload(template)
