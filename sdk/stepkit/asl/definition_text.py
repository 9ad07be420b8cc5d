"""Definition text parsed the way AWS parses it (Jackson), with Jackson's error wording.

AWS reads a definition with Jackson: ``NaN`` and ``Infinity`` are refused, a syntax
error's message quotes at most 500 characters of the source with its line and column, and
keys given twice are allowed by the parser but reported by the validator — so each parsed
object remembers them (:attr:`JsonObject.duplicate_keys`).
"""

from __future__ import annotations

import json
from typing import Any

from stepkit.asl.diagnostics import ERROR, INVALID_JSON_DESCRIPTION, Diagnostic

__all__ = ["JsonObject", "parse_definition_json"]

#: Jackson, which AWS parses definitions with, quotes at most this much of the source.
_SOURCE_QUOTE_LIMIT = 500


class JsonObject(dict[str, Any]):
    """A parsed JSON object that remembers the keys it held more than once."""

    duplicate_keys: tuple[str, ...] = ()


def _object_hook(pairs: list[tuple[str, Any]]) -> JsonObject:
    obj = JsonObject()
    duplicates = []
    for key, value in pairs:
        if key in obj:
            duplicates.append(key)
        obj[key] = value
    obj.duplicate_keys = tuple(duplicates)
    return obj


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"Non-standard token '{name}'")


def parse_definition_json(text: str) -> tuple[Any, Diagnostic | None]:
    """The parsed value, or ``None`` and the INVALID_JSON_DESCRIPTION diagnostic AWS gives."""
    try:
        return json.loads(text, object_pairs_hook=_object_hook, parse_constant=_refuse_constant), None
    except json.JSONDecodeError as exc:
        reason, line, column = exc.msg, exc.lineno, exc.colno
    except ValueError as exc:
        reason, line, column = str(exc), 1, 1
    except RecursionError:
        reason, line, column = "The definition is nested too deeply", 1, 1
    quoted = text[:_SOURCE_QUOTE_LIMIT].replace('"', '\\"')
    if len(text) > _SOURCE_QUOTE_LIMIT:
        quoted += f'"[truncated {len(text) - _SOURCE_QUOTE_LIMIT} chars]'
    else:
        quoted += '"'
    where = f'[Source: (String)"{quoted}; line: {line}, column: {column}]'
    return None, Diagnostic(ERROR, INVALID_JSON_DESCRIPTION, f"{reason}\n at {where}", where)
