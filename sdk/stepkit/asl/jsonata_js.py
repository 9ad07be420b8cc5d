"""JSONata built-ins re-implemented as jsonata-js 2.0.6 (the version AWS documents) writes them,
where jsonata-python answers differently.

Each difference was found by running the documented example of every built-in against both
implementations (``bench/jsonata_reference``); jsonata-js's answers are recorded in
``tests/unit/asl/data/jsonata_js_2_0_6.json``. The corrections:

* regular expressions: jsonata-js walks the matches itself (``evaluateRegex``): a match after
  the first that is empty fails with ``D1004`` (it would never progress); ``$split`` cuts at the
  matches and keeps no capture group (jsonata-python used Python's ``re.split``, which inserts
  the groups); the object a ``$replace`` function receives has ``match``, ``start``, ``end``
  and ``groups`` holding the capture groups only (jsonata-python put the whole match first);
  a string pattern's replacement is inserted as it is (``$1`` is only read for a regex);
* ``$base64encode``/``$base64decode`` work on Latin-1 ("binary") strings, as node's
  ``Buffer.from(str, 'binary')`` does, not on UTF-8;
* ``$power`` whose result is not a finite number fails with ``D3061`` (Python answered a
  complex number for a negative base and a fractional exponent);
* ``$toMillis`` without a picture refuses a string that is not ISO 8601 with ``D3110``;
* ``$formatNumber`` rounds half to even on the decimal digits (jsonata-js's ``$round``) before
  formatting: ``34.555`` to two places is ``34.56`` and ``0.125`` is ``0.12``.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from jsonata.functions import Functions
from jsonata.jexception import JException
from jsonata.utils import Utils

_NULL = Utils.NULL_VALUE


def _matches(pattern: re.Pattern[str], string: str) -> Iterator[re.Match[str]]:
    """The matches jsonata-js's regex closure yields: a later empty match is an error."""
    found = pattern.search(string, 0)
    while found is not None:
        yield found
        position = found.end()
        if position >= len(string):
            return
        found = pattern.search(string, position)
        if found is not None and found.group() == "":
            raise JException("D1004", -1, pattern.pattern)


def _groups(found: re.Match[str]) -> list[Any]:
    return [group for group in found.groups()]


def _check_string(value: Any) -> None:
    if value is _NULL:
        raise JException("T0410", -1)


def split(string: Any, separator: Any, limit: Any = None) -> Any:
    """``$split``: a string separator as JavaScript's ``split``, a regex cut at its matches."""
    if string is None:
        return None
    _check_string(string)
    if limit is not None and limit < 0:
        raise JException("D3020", -1, string)
    if limit is not None and limit == 0:
        return []
    if isinstance(separator, str):
        parts = list(string) if separator == "" else string.split(separator)
        return parts if limit is None else parts[: int(limit)]
    result: list[str] = []
    start = 0
    for count, found in enumerate(_matches(separator, string)):
        if limit is not None and count >= limit:
            return result
        result.append(string[start : found.start()])
        start = found.end()
    result.append(string[start:])
    return result


def match(string: Any, regex: Any, limit: Any = None) -> Any:
    """``$match``: each match with its index and its capture groups."""
    if string is None:
        return None
    _check_string(string)
    if limit is not None and limit < 0:
        raise JException("D3040", -1, limit)
    result = Utils.create_sequence()
    if limit is not None and limit == 0:
        return result
    for found in _matches(regex, string):
        if limit is not None and len(result) >= limit:
            break
        result.append({"match": found.group(), "index": found.start(), "groups": _groups(found)})
    return result


def contains(string: Any, token: Any) -> Any:
    """``$contains``: a substring, or a first match of a regex."""
    if string is None:
        return None
    _check_string(string)
    if isinstance(token, str):
        return token in string
    return token.search(string) is not None


def _substitute(replacement: str, found: re.Match[str]) -> str:
    """jsonata-js's ``$n`` rules: ``$$`` a dollar, ``$0`` the match, ``$n`` with as many
    digits as the group count has (fewer when that names no group), else a literal ``$``."""
    groups = _groups(found)
    out: list[str] = []
    position = 0
    index = replacement.find("$")
    while index != -1 and position < len(replacement):
        out.append(replacement[position:index])
        position = index + 1
        following = replacement[position : position + 1]
        if following == "$":
            out.append("$")
            position += 1
        elif following == "0":
            out.append(found.group())
            position += 1
        else:
            width = 1 if not groups else math.floor(math.log10(len(groups))) + 1
            digits = re.match(r"\d+", replacement[position : position + width])
            number = int(digits.group()) if digits else None
            if number is not None and width > 1 and number > len(groups):
                shorter = re.match(r"\d+", replacement[position : position + width - 1])
                number = int(shorter.group()) if shorter else None
            if number is None:
                out.append("$")
            else:
                if groups and 0 < number <= len(groups) and groups[number - 1] is not None:
                    out.append(groups[number - 1])
                position += len(str(number))
        index = replacement.find("$", position)
    out.append(replacement[position:])
    return "".join(out)


def replace(string: Any, pattern: Any, replacement: Any, limit: Any = None) -> Any:
    """``$replace`` with a string (inserted as it is) or a regex pattern."""
    if string is None:
        return None
    _check_string(string)
    if pattern == "":
        raise JException("D3010", -1)
    if limit is not None and limit < 0:
        raise JException("D3011", -1)
    if limit is not None and limit == 0:
        return string
    if isinstance(pattern, str):
        count = -1 if limit is None else math.ceil(limit)
        return string.replace(pattern, str(replacement), count)
    out: list[str] = []
    position = 0
    for count, found in enumerate(_matches(pattern, string)):
        if limit is not None and count >= limit:
            break
        out.append(string[position : found.start()])
        if isinstance(replacement, str):
            out.append(_substitute(replacement, found))
        else:
            argument = {"match": found.group(), "start": found.start(), "end": found.end(), "groups": _groups(found)}
            replaced = Functions.func_apply(replacement, [argument])
            if not isinstance(replaced, str):
                raise JException("D3012", -1)
            out.append(replaced)
        position = found.end()
    out.append(string[position:])
    return "".join(out)


def _latin1(string: str) -> bytes:
    """node's ``Buffer.from(string, 'binary')``: each UTF-16 unit's low byte."""
    units = string.encode("utf-16-le")
    return bytes(units[0::2])


def base64encode(string: Any) -> Any:
    if string is None:
        return None
    _check_string(string)
    return base64.b64encode(_latin1(string)).decode("ascii")


def base64decode(string: Any) -> Any:
    if string is None:
        return None
    _check_string(string)
    cleaned = re.sub(r"[^A-Za-z0-9+/]", "", string)  # node ignores what is not base64
    cleaned += "=" * (-len(cleaned) % 4)
    return base64.b64decode(cleaned).decode("latin-1")


def power(base: Any, exponent: Any) -> Any:
    if base is None:
        return None
    try:
        result = math.pow(base, exponent)
    except (ValueError, OverflowError):
        result = math.nan
    if not math.isfinite(result):
        raise JException("D3061", -1, base, exponent)
    return result


_ISO_8601 = re.compile(
    r"^\d{4}(-[01]\d)*(-[0-3]\d)*(T[0-2]\d:[0-5]\d:[0-5]\d)*(\.\d+)?([+-][0-2]\d:?[0-5]\d|Z)?$"
)


def to_millis(timestamp: Any, picture: Any = None) -> Any:
    if timestamp is None:
        return None
    if picture is None and not _ISO_8601.match(timestamp):
        raise JException("D3110", -1, timestamp)
    return Functions.datetime_to_millis(timestamp, picture)


def _fraction_digits(picture: str, value: float, options: Mapping[str, str]) -> tuple[int, int] | None:
    """(digits after the decimal separator, scale) of the sub-picture ``value`` uses, or None
    for an exponent picture (its mantissa is rounded, not the value)."""
    parts = picture.split(options.get("pattern-separator", ";"))
    sub = parts[0] if value >= 0 else parts[-1]
    zero = ord(options.get("zero-digit", "0"))
    digits = {chr(zero + n) for n in range(10)} | {options.get("digit", "#")}
    separator = options.get("decimal-separator", ".")
    exponent = options.get("exponent-separator", "e")
    if re.search(f"[{re.escape(''.join(digits))}]{re.escape(exponent)}", sub):
        return None
    scale = 100 if options.get("percent", "%") in sub else 1000 if options.get("per-mille", "‰") in sub else 1
    if separator not in sub:
        return 0, scale
    return sum(1 for ch in sub.split(separator, 1)[1] if ch in digits), scale


def format_number(value: Any, picture: Any, options: Any = None) -> Any:
    if value is not None and isinstance(picture, str) and math.isfinite(value):
        shape = _fraction_digits(picture, value, options or {})
        if shape is not None:
            places, scale = shape
            rounded = Functions.round(value * scale, places)
            value = rounded if scale == 1 else rounded / scale
    return Functions.format_number(value, picture, options)


#: name -> (implementation, JSONata 2.0.6 signature)
JS_BUILTINS: dict[str, tuple[Any, str]] = {
    "split": (split, "<s-(sf)n?:a<s>>"),
    "match": (match, "<s-f<s:o>n?:a<o>>"),
    "contains": (contains, "<s-(sf):b>"),
    "replace": (replace, "<s-(sf)(sf)n?:s>"),
    "base64encode": (base64encode, "<s-:s>"),
    "base64decode": (base64decode, "<s-:s>"),
    "power": (power, "<n-n:n>"),
    "toMillis": (to_millis, "<s-s?:n>"),
    "formatNumber": (format_number, "<n-so?:s>"),
}
