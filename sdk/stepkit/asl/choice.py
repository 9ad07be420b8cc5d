"""Choice rules (JSONPath mode): each rule compiles once into a predicate."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from stepkit.asl.errors import StateEvaluationError
from stepkit.asl.jsonpath import PathNotFoundError
from stepkit.asl.references import compile_reference
from stepkit.asl.timestamps import parse_timestamp

Predicate = Callable[[Any, Any, Mapping[str, Any] | None], bool]


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _string_matches(pattern: str) -> Callable[[str], bool]:
    """``StringMatches``: ``*`` is any run of characters; ``\\*`` and ``\\\\`` are literal."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else re.escape(ch))
        i += 1
    regex = re.compile("".join(out), re.S)
    return lambda s: regex.fullmatch(s) is not None


# Comparison operators: (kind checker, comparator). The kind checker decides whether the
# variable (and the comparand, for *Path forms) has the operator's type; a value of
# another type never matches, as in AWS.
_KINDS: dict[str, Callable[[Any], bool]] = {
    "Boolean": lambda v: isinstance(v, bool),
    "Numeric": _is_number,
    "String": lambda v: isinstance(v, str),
    "Timestamp": lambda v: parse_timestamp(v) is not None,
}
_RELATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
}
COMPARISON_OPERATORS: dict[str, tuple[str, str, bool]] = {}
for _kind in ("Boolean", "Numeric", "String", "Timestamp"):
    for _rel in _RELATIONS:
        if _kind == "Boolean" and _rel != "Equals":
            continue
        COMPARISON_OPERATORS[f"{_kind}{_rel}"] = (_kind, _rel, False)
        COMPARISON_OPERATORS[f"{_kind}{_rel}Path"] = (_kind, _rel, True)
TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "IsNull": lambda v: v is None,
    "IsBoolean": _KINDS["Boolean"],
    "IsNumeric": _KINDS["Numeric"],
    "IsString": _KINDS["String"],
    "IsTimestamp": _KINDS["Timestamp"],
}
OPERATORS = frozenset(COMPARISON_OPERATORS) | frozenset(TYPE_TESTS) | {"IsPresent", "StringMatches"}


def _normalise(kind: str, value: Any) -> Any:
    return parse_timestamp(value) if kind == "Timestamp" else value


def compile_rule(rule: Mapping[str, Any]) -> Predicate:
    """Compile a Choice rule (top-level or nested) into a predicate over (input, context, vars)."""
    if "And" in rule:
        parts = [compile_rule(r) for r in rule["And"]]
        return lambda d, c, v: all(p(d, c, v) for p in parts)
    if "Or" in rule:
        parts = [compile_rule(r) for r in rule["Or"]]
        return lambda d, c, v: any(p(d, c, v) for p in parts)
    if "Not" in rule:
        inner = compile_rule(rule["Not"])
        return lambda d, c, v: not inner(d, c, v)
    variable_text = rule["Variable"]
    variable = compile_reference(variable_text)
    operator = next(k for k in rule if k in OPERATORS)
    operand = rule[operator]

    def read(data: Any, context: Any, variables: Mapping[str, Any] | None) -> Any:
        try:
            return variable.resolve(data, context, variables)
        except PathNotFoundError:
            raise StateEvaluationError(
                f"Invalid path '{variable_text}': The choice state's condition path references an invalid value."
            ) from None

    if operator == "IsPresent":
        expected = bool(operand)

        def is_present(data: Any, context: Any, variables: Mapping[str, Any] | None) -> bool:
            try:
                variable.resolve(data, context, variables)
            except PathNotFoundError:
                return not expected
            return expected

        return is_present
    if operator in TYPE_TESTS:
        test, expected = TYPE_TESTS[operator], bool(operand)
        return lambda d, c, v: test(read(d, c, v)) is expected
    if operator == "StringMatches":
        matches = _string_matches(operand)
        return lambda d, c, v: isinstance(value := read(d, c, v), str) and matches(value)
    kind, relation, by_path = COMPARISON_OPERATORS[operator]
    is_kind, compare = _KINDS[kind], _RELATIONS[relation]
    if by_path:
        comparand_ref = compile_reference(operand)

        def compare_path(data: Any, context: Any, variables: Mapping[str, Any] | None) -> bool:
            value = read(data, context, variables)
            try:
                other = comparand_ref.resolve(data, context, variables)
            except PathNotFoundError:
                raise StateEvaluationError(
                    f"Invalid path '{operand}': The choice state's condition path references an invalid value."
                ) from None
            if not (is_kind(value) and is_kind(other)):
                return False
            return compare(_normalise(kind, value), _normalise(kind, other))

        return compare_path
    constant = _normalise(kind, operand)

    def compare_constant(data: Any, context: Any, variables: Mapping[str, Any] | None) -> bool:
        value = read(data, context, variables)
        if not is_kind(value):
            return False
        return compare(_normalise(kind, value), constant)

    return compare_constant
