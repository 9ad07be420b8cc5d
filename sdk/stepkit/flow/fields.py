"""How a builder argument maps to an ASL field, derived from :mod:`stepkit.asl.definition_model`.

The builder's parameters are the ASL field names in snake case (``ResultPath`` ->
``result_path``, ``CSVHeaderLocation`` -> ``csv_header_location``, ``And`` -> ``and_``).
The field list of each object is the definition model's: this module never lists a field,
so a field added to the model is a field the builder maps (and the unit tests check that
every builder signature offers exactly the model's fields).
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from pydantic import BaseModel

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z]|\d|\b)|[A-Z]?[a-z]+|[A-Z]+|\d+")


class _Unset:
    """An argument not given. ``None`` cannot mean that: ``ResultPath: null`` is ASL."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()


def snake(alias: str) -> str:
    """The builder parameter for an ASL field name."""
    name = "_".join(word.lower() for word in _WORD.findall(alias))
    return f"{name}_" if keyword.iskeyword(name) or name in {"pass"} else name


@cache
def aliases(model: type[BaseModel]) -> dict[str, str]:
    """Builder parameter -> ASL field name, in the model's field order (``Type`` left out)."""
    names = (info.alias or field for field, info in model.model_fields.items())
    return {snake(alias): alias for alias in names if alias != "Type"}


def to_asl_value(value: Any) -> Any:
    """A builder value as JSON: builder objects (branches, processors) become their ASL."""
    as_asl = getattr(value, "to_asl", None)
    if callable(as_asl):
        return as_asl()
    if isinstance(value, list):
        return [to_asl_value(item) for item in value]
    return value


def asl_object(model: type[BaseModel], arguments: dict[str, Any], *, head: dict[str, Any] | None = None) -> dict:
    """The ASL object of ``model`` from builder arguments; unset ones are left out."""
    fields = aliases(model)
    out: dict[str, Any] = dict(head or {})
    for name, value in arguments.items():
        if value is UNSET or name in ("self", "name"):
            continue
        if name not in fields:
            raise TypeError(f"{model.__name__.removesuffix('Schema')} has no field {name!r}")
        out[fields[name]] = to_asl_value(value)
    return out


def replace_strings(value: Any, table: Mapping[str, str]) -> Any:
    """``value`` (JSON) with every string that is a key of ``table`` replaced by its value."""
    if isinstance(value, str):
        return table.get(value, value)
    if isinstance(value, dict):
        return {k: replace_strings(v, table) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_strings(v, table) for v in value]
    return value
