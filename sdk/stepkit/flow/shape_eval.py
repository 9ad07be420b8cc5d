"""ASL's data operations applied to shapes instead of values, for the type checker.

JSONPath paths select into a shape, ``ResultPath`` places one into another, templates
(``Parameters``, ``ResultSelector``, JSONata ``Arguments``/``Output``/``Assign``) build one,
and the common JSONata expressions (paths from ``$states`` and variables, constructors,
operators, a few functions) are evaluated on shapes. What is not modelled gives
:data:`~stepkit.flow.shapes.ANY`.
"""

from __future__ import annotations

import re
from typing import Any

from stepkit.asl.jsonata import JsonataSyntaxError, compile_expression, is_expression
from stepkit.asl.jsonpath import JSONPathSyntaxError
from stepkit.asl.reference_path import compile_reference_path
from stepkit.flow.shapes import (
    ANY,
    BOOLEAN,
    INTEGER,
    MISSING,
    NUMBER,
    STRING,
    AnyShape,
    Arr,
    Missing,
    Obj,
    Shape,
    Union,
    obj,
    of_value,
    union,
)

_VARIABLE_PATH = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)(.*)$")
#: What an intrinsic function returns (by its name after ``States.``).
_INTRINSICS: dict[str, Shape] = {
    "Format": STRING, "JsonToString": STRING, "Base64Encode": STRING, "Base64Decode": STRING, "Hash": STRING,
    "UUID": STRING, "MathAdd": INTEGER, "MathRandom": INTEGER, "ArrayLength": INTEGER, "ArrayContains": BOOLEAN,
    "Array": Arr(ANY), "ArrayPartition": Arr(ANY), "ArrayRange": Arr(INTEGER), "ArrayUnique": Arr(ANY),
}
#: What a JSONata function returns (by its name without ``$``).
_FUNCTIONS: dict[str, Shape] = {
    "count": INTEGER, "length": INTEGER, "string": STRING, "uppercase": STRING, "lowercase": STRING,
    "substring": STRING, "join": STRING, "trim": STRING, "sum": NUMBER, "max": NUMBER, "min": NUMBER,
    "abs": NUMBER, "round": NUMBER, "floor": NUMBER, "ceil": NUMBER, "number": NUMBER, "power": NUMBER,
    "sqrt": NUMBER, "average": NUMBER, "not": BOOLEAN, "boolean": BOOLEAN, "exists": BOOLEAN, "contains": BOOLEAN,
}
_NUMERIC = {"+", "-", "*", "/", "%"}
_BOOLEAN = {"=", "!=", "<", "<=", ">", ">=", "and", "or", "in"}


def _step(shape: Shape, segment: str | int) -> Shape:
    """The shape one name (or index) below ``shape``: MISSING where it cannot be there."""
    if isinstance(shape, AnyShape | Missing):
        return shape
    if isinstance(shape, Union):
        return union(*(_step(o, segment) for o in shape.options))
    if isinstance(segment, int):
        return shape.item if isinstance(shape, Arr) else MISSING
    if isinstance(shape, Obj):
        found = shape.get(segment)
        if found is None:
            return MISSING if shape.closed else ANY
        return found.shape if found.required else union(found.shape, MISSING)
    return MISSING


def select(path: str | None, shape: Shape, variables: dict[str, Shape]) -> Shape:
    """What the JSONPath ``path`` selects from a value of ``shape`` (``$var.x`` reads a variable)."""
    if path is None:
        return obj({})
    start = shape
    match = _VARIABLE_PATH.match(path)
    if match:
        start, path = variables.get(match.group(1), ANY), "$" + match.group(2)
    elif not path.startswith("$") or path.startswith("$$"):
        return ANY
    try:
        segments = compile_reference_path(path).segments
    except JSONPathSyntaxError:
        return ANY  # a wildcard, filter or slice: not followed
    for segment in segments:
        start = _step(start, segment)
    return start


def with_result(shape: Shape, path: str | None, result: Shape) -> Shape:
    """``shape`` with ``result`` placed at the reference path ``path`` (``ResultPath``)."""
    if path is None:
        return shape
    try:
        segments = compile_reference_path(path).segments
    except JSONPathSyntaxError:
        return ANY
    return _place(shape, segments, result)


def _place(shape: Shape, segments: tuple[str | int, ...], result: Shape) -> Shape:
    if not segments:
        return result
    head, rest = segments[0], segments[1:]
    if isinstance(head, int):
        return ANY
    if isinstance(shape, Obj):
        found = shape.get(head)
        return shape.with_field(head, _place(found.shape if found else obj({}), rest, result))
    if isinstance(shape, AnyShape):
        return Obj(obj({head: _place(ANY, rest, result)}).fields, closed=False)
    return ANY


def template_shape(value: Any, jsonata: bool, base: Shape, variables: dict[str, Shape],
                   states: dict[str, Shape] | None = None, *, context: Shape = ANY) -> Shape:
    """The shape a payload template builds. JSONata: ``{% %}`` strings are evaluated with
    ``states`` as ``$states``. JSONPath: ``key.$`` entries select from ``base`` (``$$`` from
    ``context``) or call an intrinsic."""
    if jsonata:
        if isinstance(value, str) and is_expression(value):
            return jsonata_shape(value, states or {}, variables)
        if isinstance(value, dict):
            built = {k: template_shape(v, True, base, variables, states) for k, v in value.items()}
            return obj({k: v for k, v in built.items() if not isinstance(v, Missing)})
        if isinstance(value, list):
            return Arr(union(*(template_shape(v, True, base, variables, states) for v in value))) if value else Arr(ANY)
        return of_value(value)
    if isinstance(value, dict):
        fields: dict[str, Shape] = {}
        for key, item in value.items():
            if key.endswith(".$") and isinstance(item, str):
                fields[key[:-2]] = _jsonpath_entry(item, base, variables, context)
            else:
                fields[key] = template_shape(item, False, base, variables, context=context)
        return obj(fields)
    if isinstance(value, list):
        return Arr(union(*(template_shape(v, False, base, variables, context=context) for v in value))) \
            if value else Arr(ANY)
    return of_value(value)


def _jsonpath_entry(text: str, base: Shape, variables: dict[str, Shape], context: Shape) -> Shape:
    if text.startswith("$$"):
        return select("$" + text[2:], context, {})
    if text.startswith("$"):
        return select(text, base, variables)
    if text.startswith("States."):
        return _INTRINSICS.get(text[len("States."):].split("(", 1)[0], ANY)
    return ANY


def jsonata_shape(text: str, states: dict[str, Shape], variables: dict[str, Shape]) -> Shape:
    """The shape of a ``{% ... %}`` expression's value."""
    try:
        tree = compile_expression(text).syntax_tree
    except JsonataSyntaxError:
        return ANY
    scope = {**variables, "states": obj(states, closed=False)}
    return _node(tree, scope)


def _node(node: Any, scope: dict[str, Shape]) -> Shape:
    kind = node.type
    if kind == "variable":
        return scope.get(node.value, ANY) if node.value and not _decorated(node) else ANY
    if kind == "path":
        return _path(node.steps, scope)
    if kind == "string":
        return STRING
    if kind == "number":
        return INTEGER if float(node.value).is_integer() else NUMBER
    if kind == "value":
        return of_value(node.value)
    if kind == "unary":
        return _unary(node, scope)
    if kind == "binary":
        return NUMBER if node.value in _NUMERIC else BOOLEAN if node.value in _BOOLEAN else \
            STRING if node.value == "&" else ANY
    if kind == "condition":
        otherwise = getattr(node, "_else", None)
        return union(_node(node.then, scope), _node(otherwise, scope) if otherwise is not None else MISSING)
    if kind == "function":
        procedure = node.procedure
        return _FUNCTIONS.get(procedure.value, ANY) if procedure.type == "variable" else ANY
    if kind == "block" and node.expressions:
        return _node(node.expressions[-1], scope)
    return ANY


def _decorated(node: Any) -> bool:
    """Whether a path step filters, indexes or groups (not followed by the checker)."""
    return bool(getattr(node, "stages", None) or getattr(node, "predicate", None) or getattr(node, "group", None)
                or getattr(node, "focus", None) or getattr(node, "index", None) or getattr(node, "keep_array", False))


def _path(steps: list[Any], scope: dict[str, Shape]) -> Shape:
    head, rest = steps[0], steps[1:]
    if head.type != "variable" or not head.value or _decorated(head):
        return ANY
    shape = scope.get(head.value, ANY)
    for step in rest:
        if step.type != "name" or _decorated(step) or isinstance(shape, Arr):
            return ANY  # a step over an array maps over it; filters and the like are not followed
        shape = _step(shape, str(step.value))
    return shape


def _unary(node: Any, scope: dict[str, Shape]) -> Shape:
    if node.value == "-":
        return NUMBER
    if node.value == "[":
        items = [_node(e, scope) for e in node.expressions or []]
        return Arr(union(*items)) if items else Arr(ANY)
    if node.value == "{":
        pairs = getattr(node, "lhs_object", None) or []
        if not all(key.type == "string" for key, _ in pairs):
            return ANY
        built = {str(key.value): _node(value, scope) for key, value in pairs}
        return obj({k: v for k, v in built.items() if not isinstance(v, Missing)})
    return ANY
