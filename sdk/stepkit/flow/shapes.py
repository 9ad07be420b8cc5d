"""What a workflow knows statically about a JSON value: its *shape*.

The type checker (:mod:`stepkit.flow.typecheck`) follows shapes through the states; this
module holds them, turns pydantic types into them, and judges whether a value of one shape
can satisfy another. Shapes are JSON's types, not Python's: a field typed ``int`` wants a
JSON integer, so a ``str`` flowing into it is reported even though pydantic's lax mode would
try to parse a numeric string. Where nothing is known the shape is :data:`ANY`, which
satisfies everything: the checker reports only what cannot work, never what it cannot see.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class AnyShape:
    """Nothing is known about the value."""

    def describe(self) -> str:
        return "anything"


@dataclass(frozen=True)
class Missing:
    """No value at all (a field or path that is not there); JSONata drops it from objects."""

    def describe(self) -> str:
        return "missing"


@dataclass(frozen=True)
class Scalar:
    kind: str  # string, number, integer, boolean, null

    def describe(self) -> str:
        return {"integer": "an integer", "null": "null"}.get(self.kind, f"a {self.kind}")


@dataclass(frozen=True)
class Arr:
    item: Shape

    def describe(self) -> str:
        return "an array"


@dataclass(frozen=True)
class Field:
    shape: Shape
    required: bool = True


@dataclass(frozen=True)
class Obj:
    """An object; ``closed`` when its keys are all known (a template, a model's dump)."""

    fields: tuple[tuple[str, Field], ...]
    closed: bool = True
    title: str = ""

    def get(self, name: str) -> Field | None:
        return next((f for n, f in self.fields if n == name), None)

    def with_field(self, name: str, shape: Shape) -> Obj:
        kept = tuple((n, f) for n, f in self.fields if n != name)
        return Obj((*kept, (name, Field(shape))), self.closed, self.title)

    def describe(self) -> str:
        return f"an object ({self.title})" if self.title else "an object"


@dataclass(frozen=True)
class Union:
    options: tuple[Shape, ...]

    def describe(self) -> str:
        return " or ".join(o.describe() for o in self.options)


Shape = AnyShape | Missing | Scalar | Arr | Obj | Union
ANY = AnyShape()
MISSING = Missing()
STRING, NUMBER, INTEGER, BOOLEAN, NULL = (Scalar(k) for k in ("string", "number", "integer", "boolean", "null"))


def obj(fields: dict[str, Shape], *, closed: bool = True, title: str = "") -> Obj:
    return Obj(tuple((n, Field(s)) for n, s in fields.items()), closed, title)


def union(*shapes: Shape) -> Shape:
    """The shape of a value that is one of ``shapes`` (flattened, without repeats)."""
    options: list[Shape] = []
    for shape in shapes:
        for option in shape.options if isinstance(shape, Union) else (shape,):
            if isinstance(option, AnyShape):
                return ANY
            if option not in options:
                options.append(option)
    return options[0] if len(options) == 1 else Union(tuple(options)) if options else ANY


def of_value(value: Any) -> Shape:
    """The shape of a literal JSON value."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, list):
        return Arr(union(*(of_value(v) for v in value)) if value else ANY)
    if isinstance(value, dict):
        return obj({k: of_value(v) for k, v in value.items()})
    return ANY


# --- pydantic types -> shapes ----------------------------------------------------------------

_SCALARS: dict[Any, Shape] = {str: STRING, int: INTEGER, float: NUMBER, bool: BOOLEAN, type(None): NULL}


def of_annotation(annotation: Any, *, dumped: bool, depth: int = 0) -> Shape:
    """The JSON shape of values of ``annotation``: what a model dumps (``dumped``: every field
    present) or what it accepts (fields with defaults optional, extra keys allowed)."""
    if depth > 8 or annotation is Any:
        return ANY
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = tuple(
            (info.alias or name if not dumped else name,
             Field(of_annotation(info.annotation, dumped=dumped, depth=depth + 1),
                   required=dumped or info.is_required()))
            for name, info in annotation.model_fields.items()
        )
        return Obj(fields, closed=dumped, title=annotation.__name__)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return union(*(of_annotation(a, dumped=dumped, depth=depth + 1) for a in args))
    if origin is typing.Literal:
        return union(*(of_value(a) for a in args))
    if origin is typing.Annotated:
        return of_annotation(args[0], dumped=dumped, depth=depth + 1)
    if origin in (list, tuple, set, frozenset) or annotation in (list, tuple, set):
        items = [a for a in args if a is not Ellipsis]
        return Arr(union(*(of_annotation(a, dumped=dumped, depth=depth + 1) for a in items)) if items else ANY)
    if origin is dict or annotation is dict:
        return Obj((), closed=False)
    return ANY


# --- can a value of one shape satisfy another? -----------------------------------------------


def _fits_scalar(value: Scalar, wanted: Scalar) -> bool:
    return value.kind == wanted.kind or (value.kind == "integer" and wanted.kind == "number") or \
        (value.kind == "number" and wanted.kind == "integer")  # a number may be whole


def mismatches(value: Shape, wanted: Shape, where: str = "") -> list[tuple[str, str]]:
    """``(field, why)`` for each way a value of shape ``value`` cannot satisfy ``wanted``.

    A union value fails when any of its cases fails (some path delivers it); a union wanted
    accepts what any of its cases accepts.
    """
    if isinstance(value, AnyShape) or isinstance(wanted, AnyShape):
        return []
    if isinstance(value, Union):
        failing = (mismatches(option, wanted, where) for option in value.options)
        return next((found for found in failing if found), [])
    if isinstance(wanted, Union):
        found = [mismatches(value, o, where) for o in wanted.options]
        return [] if any(not f for f in found) else [(where, f"is {value.describe()}, not {wanted.describe()}")]
    if isinstance(value, Missing):
        return [(where, "is missing")]
    if isinstance(wanted, Scalar):
        ok = isinstance(value, Scalar) and _fits_scalar(value, wanted)
        return [] if ok else [(where, f"is {value.describe()}, not {wanted.describe()}")]
    if isinstance(wanted, Arr):
        if not isinstance(value, Arr):
            return [(where, f"is {value.describe()}, not an array")]
        return mismatches(value.item, wanted.item, f"{where}[]")
    if isinstance(wanted, Obj):
        if not isinstance(value, Obj):
            return [(where, f"is {value.describe()}, not {wanted.describe()}")]
        return _object_mismatches(value, wanted, where)
    return []


def _object_mismatches(value: Obj, wanted: Obj, where: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for name, spec in wanted.fields:
        path = f"{where}.{name}" if where else name
        got = value.get(name)
        if got is not None and isinstance(got.shape, Missing):
            if spec.required:
                found.append((path, "is required but its path or expression selects nothing"))
            continue
        if got is None:
            if spec.required and value.closed:
                have = ", ".join(n for n, f in value.fields if not isinstance(f.shape, Missing)) or "no fields"
                found.append((path, f"is required but missing (the input has {have})"))
            continue
        found += mismatches(got.shape, spec.shape, path)
    return found
