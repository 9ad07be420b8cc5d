"""Printing JSON values the way AWS's Java runtime does.

Step Functions runs on the JVM and parses documents with Jackson, so wherever AWS prints a
value (causes, ``States.JsonToString``, ``States.Format``, Jayway's messages) the text is
Jackson's or Java's, not Python's: doubles print as ``1.0E20``, control characters escape
as ``\\u001F``, maps print as ``{a=1}``. These helpers are shared by the JSONPath,
intrinsic-function and payload code of the ASL package.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = ["java_class_name", "java_double_to_string", "java_json_dumps", "java_to_string"]


def java_double_to_string(value: float) -> str:
    """Java's ``Double.toString``: ``1.0``, ``0.001``, ``1.0E-4``, ``1.0E7``, ``1.5E20``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    # repr() gives the shortest round-tripping digits, as Java (JDK 19+) does.
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    sci = len(digits) - 1 + exponent  # value == d.ddd x 10**sci
    prefix = "-" if sign else ""
    if -3 <= sci < 7:
        if sci >= 0:
            whole = digits[: sci + 1].ljust(sci + 1, "0")
            frac = digits[sci + 1 :] or "0"
        else:
            whole, frac = "0", "0" * (-sci - 1) + digits
        return f"{prefix}{whole}.{frac}"
    return f"{prefix}{digits[0]}.{digits[1:] or '0'}E{sci}"


def _jackson_escape_table() -> dict[int, str]:
    table = {c: f"\\u{c:04X}" for c in range(0x20)}
    table.update({0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"})
    table[ord('"')] = '\\"'
    table[ord("\\")] = "\\\\"
    return table


_JACKSON_ESCAPES = _jackson_escape_table()


def _dump_into(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append('"' + value.translate(_JACKSON_ESCAPES) + '"')
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(java_double_to_string(value))
    elif isinstance(value, Mapping):
        out.append("{")
        first = True
        for key, item in value.items():
            if not first:
                out.append(",")
            first = False
            out.append('"' + str(key).translate(_JACKSON_ESCAPES) + '":')
            _dump_into(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _dump_into(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not a JSON value")


def java_json_dumps(value: Any) -> str:
    """Compact JSON exactly as Jackson writes it (AWS's ``States.JsonToString``, causes).

    Differs from ``json.dumps(separators=(",", ":"))`` in doubles (``1.0E20``) and in the
    escapes for control characters (``\\u001F``, upper case).
    """
    out: list[str] = []
    _dump_into(value, out)
    return "".join(out)


def java_to_string(value: Any) -> str:
    """Java ``toString()`` of a Jackson-parsed value: ``{a=1, b=[x, null]}``.

    AWS uses it where it prints a value as text without JSON-encoding it, e.g. the
    arguments of ``States.Format`` and Jayway's "Current context is: ..." messages.
    """
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double_to_string(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}={java_to_string(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(java_to_string(v) for v in value) + "]"
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def java_class_name(value: Any) -> str:
    """The class Jackson would have parsed ``value`` into (for Jayway's messages)."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return "java.lang.String"
    if isinstance(value, bool):
        return "java.lang.Boolean"
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return "java.lang.Integer"
        return "java.lang.Long" if -(2**63) <= value < 2**63 else "java.math.BigInteger"
    if isinstance(value, float):
        return "java.lang.Double"
    if isinstance(value, Mapping):
        return "java.util.LinkedHashMap"
    return "java.util.ArrayList"
