"""Request validation driven by botocore's input shapes, run before any handler.

Every operation of a service goes through :func:`check_input` once its request is parsed:
required members, types (and the range of Java's ``int``/``long``, which the AWS parsers
enforce), lengths, ranges, enums, the model's regular expressions, map keys, and text that
cannot be stored or sent on (lone UTF-16 surrogates). Blob members that arrive as base64 text
in a JSON body are decoded here, strictly. A handler therefore never sees a value of the wrong
type or one that would fail half-way through a change.

The wording follows AWS's (Coral's) ``ValidationException``: ``"N validation errors detected:
Value 'x' at 'path' failed to satisfy constraint: ..."``; a sensitive member's value is not
repeated in the message, as AWS does not repeat it.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.model import Shape

from stepkit.endpoint.errors import AwsError

_SURROGATE = re.compile("[\ud800-\udfff]")
_INT_RANGE = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
# Java's Unicode classes, as far as botocore's Lambda and Step Functions models use them.
_JAVA_CLASS = re.compile(r"\[((?:[^\]\\]|\\.)*?\\p\{[A-Za-z]+\}(?:[^\]\\]|\\.)*?)\]")
_UNICODE = {"L": r"[^\W\d_]", "N": r"[^\W_]", "Z": "[ \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]",
            "ASCII": r"[\x00-\x7f]"}
_JAVA_SINGLE = re.compile(r"\\p\{(?P<name>[A-Za-z]+)\}")

#: Builds the error for text a service cannot take: (operation, member path, value) → error.
BadText = Callable[[str, str, str], AwsError]


def validation_error(problems: list[str]) -> AwsError:
    n = len(problems)
    noun = "error" if n == 1 else "errors"
    return AwsError("ValidationException", f"{n} validation {noun} detected: " + "; ".join(problems))


def _default_bad_text(operation: str, path: str, value: str) -> AwsError:
    return validation_error([f"Value at '{path}' failed to satisfy constraint: Member must not contain unpaired "
                             "UTF-16 surrogate characters"])


@dataclass(frozen=True)
class InputRules:
    """What differs between services: the error of an unparseable or mistyped value (AWS JSON
    services answer ``SerializationException``; Lambda ``InvalidRequestContentException``),
    and the error of text that cannot be encoded."""

    type_error: str = "SerializationException"
    bad_text: BadText = _default_bad_text

    def mistyped(self, detail: str) -> AwsError:
        if self.type_error == "InvalidRequestContentException":
            return AwsError(self.type_error, "Could not parse request body into json: Could not parse payload into "
                            f"json: {detail}", 400)
        return AwsError(self.type_error, detail)


DEFAULT_RULES = InputRules()


@cache
def java_pattern(pattern: str) -> re.Pattern[str] | None:
    """A model's (Java) regular expression as a Python one; None if it cannot be translated."""

    def in_class(m: re.Match[str]) -> str:
        body = m.group(1)
        classes = [_UNICODE.get(c) for c in _JAVA_SINGLE.findall(body)]
        if None in classes:
            raise re.error("unknown Unicode class")
        rest = _JAVA_SINGLE.sub("", body)
        return "(?:" + "|".join([*([f"[{rest}]"] if rest else []), *classes]) + ")"  # type: ignore[list-item]

    def single(m: re.Match[str]) -> str:
        if m["name"] not in _UNICODE:
            raise re.error("unknown Unicode class")
        return _UNICODE[m["name"]]

    try:
        translated = _JAVA_SINGLE.sub(single, _JAVA_CLASS.sub(in_class, pattern))
        return re.compile(translated, re.DOTALL)
    except re.error:
        return None


def parse_json(text: str | bytes) -> Any:
    """``json.loads`` as AWS's parsers read JSON: NaN and Infinity are not JSON, and a document
    nested deeper than the parser goes is refused. Raises ValueError."""

    def refuse(name: str) -> Any:
        raise ValueError(f"Non-standard token '{name}'")

    try:
        return json.loads(text, parse_constant=refuse)
    except RecursionError:
        raise ValueError("The document is nested too deeply") from None


def lone_surrogate_in(value: Any) -> bool:
    """Whether a string (or a key) anywhere in a parsed JSON value holds a lone UTF-16 surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def parse_json_text(text: str | bytes) -> Any:
    """A member that holds JSON text (execution input, task output): parsed as :func:`parse_json`
    does, and refused if a string in it holds a lone surrogate (an escape such as ``"\\ud800"``,
    which the outer request cannot show), as nothing downstream can encode one."""
    value = parse_json(text)
    if lone_surrogate_in(value):
        raise ValueError("The text holds an unpaired UTF-16 surrogate")
    return value


def check_input(shape: Shape | None, params: Any, rules: InputRules = DEFAULT_RULES, operation: str = "") -> None:
    """Raise ValidationException (AWS's wording), the service's type error, or its error for text
    it cannot take. Base64 text of blob members is replaced by its bytes in ``params``."""
    if shape is None:
        return
    if not isinstance(params, dict):
        raise rules.mistyped("Start of structure or map found where not expected.")
    checker = _Checker(rules)
    checker.structure(shape, params, "")
    if checker.problems:
        raise validation_error(checker.problems)
    if checker.bad_text:
        path, value = checker.bad_text[0]
        raise rules.bad_text(operation, path, value)


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _describe(value: Any, sensitive: bool) -> str:
    if sensitive:
        return ""
    if value is None:
        return " null"
    if isinstance(value, str):
        return f" '{value}'"
    return f" '{json.dumps(value)}'"


class _Checker:
    def __init__(self, rules: InputRules) -> None:
        self.rules = rules
        self.problems: list[str] = []
        self.bad_text: list[tuple[str, str]] = []

    def fail(self, shape: Shape, value: Any, path: str, constraint: str) -> None:
        shown = _describe(value, bool(shape.metadata.get("sensitive")))
        self.problems.append(f"Value{shown} at '{path}' failed to satisfy constraint: {constraint}")

    def mistyped(self, shape: Shape, path: str) -> AwsError:
        return self.rules.mistyped(f"The value at '{path}' is not of the type the operation expects "
                                   f"({shape.type_name}).")

    def structure(self, shape: Shape, value: dict, path: str) -> None:
        for name in [k for k, v in value.items() if v is None]:  # JSON null: the member is not set
            del value[name]
        for name in shape.required_members:
            if name not in value:
                self.problems.append(f"Value null at '{path}{_lower_first(name)}' failed to satisfy constraint: "
                                     "Member must not be null")
        for name, member in shape.members.items():
            if name in value:
                value[name] = self.value(member, value[name], f"{path}{_lower_first(name)}")

    def value(self, shape: Shape, value: Any, path: str) -> Any:
        """Check one value; returns it (a blob's base64 text decoded)."""
        kind = shape.type_name
        if kind == "structure":
            if not isinstance(value, dict):
                raise self.mistyped(shape, path)
            self.structure(shape, value, path + ".")
        elif kind == "string":
            self.string(shape, value, path)
        elif kind in ("integer", "long", "float", "double"):
            self.number(shape, value, path)
        elif kind == "boolean":
            if not isinstance(value, bool):
                raise self.mistyped(shape, path)
        elif kind == "list":
            if not isinstance(value, list):
                raise self.mistyped(shape, path)
            self.length(shape, value, path)
            for i, item in enumerate(value):
                if item is None:  # AWS's wording for a null element of a list
                    self.problems.append(f"Value null at '{path}.{i + 1}.member' failed to satisfy constraint: "
                                         "Member must not be null")
                else:
                    value[i] = self.value(shape.member, item, f"{path}.{i + 1}.member")
        elif kind == "map":
            self.map(shape, value, path)
        elif kind == "timestamp":
            if not isinstance(value, int | float | str) or isinstance(value, bool):
                raise self.mistyped(shape, path)
        elif kind == "blob":
            return self.blob(shape, value, path)
        return value

    def string(self, shape: Shape, value: Any, path: str) -> None:
        for constraint in self.string_constraints(shape, value, path):
            self.fail(shape, value, path, constraint)

    def string_constraints(self, shape: Shape, value: Any, path: str) -> list[str]:
        """The constraints ``value`` breaks (a lone surrogate is noted apart: its error is the service's)."""
        if not isinstance(value, str):
            raise self.mistyped(shape, path)
        if _SURROGATE.search(value):
            self.bad_text.append((path, value))
            return []
        broken = self.length_constraints(shape, value)
        if shape.enum and value not in shape.enum:
            broken.append(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        pattern = shape.metadata.get("pattern")
        compiled = java_pattern(pattern) if pattern else None
        if compiled is not None and compiled.fullmatch(value) is None:
            broken.append(f"Member must satisfy regular expression pattern: {pattern}")
        return broken

    def number(self, shape: Shape, value: Any, path: str) -> None:
        kind = shape.type_name
        integral = kind in _INT_RANGE
        if isinstance(value, bool) or not isinstance(value, int if integral else int | float):
            raise self.mistyped(shape, path)
        low, high = _INT_RANGE.get(kind, (None, None))
        if low is not None and not low <= value <= high:  # type: ignore[operator]
            raise self.rules.mistyped(f"Numeric value ({value}) out of range of {kind} at '{path}'")
        meta = shape.metadata
        if "min" in meta and value < meta["min"]:
            self.fail(shape, value, path, f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            self.fail(shape, value, path, f"Member must have value less than or equal to {meta['max']}")

    def map(self, shape: Shape, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise self.mistyped(shape, path)
        self.length(shape, value, path)
        for key in list(value):  # AWS's wording: "Map keys/value must satisfy constraint: [...]"
            broken = self.string_constraints(shape.key, key, path)
            if broken:
                self.fail(shape, value, path, f"Map keys must satisfy constraint: [{', '.join(broken)}]")
            item = value[key]
            if item is None:
                continue
            if shape.value.type_name == "string":
                broken = self.string_constraints(shape.value, item, path)
                if broken:
                    self.fail(shape, value, path, f"Map value must satisfy constraint: [{', '.join(broken)}]")
            else:
                value[key] = self.value(shape.value, item, f"{path}.{key}")

    def blob(self, shape: Shape, value: Any, path: str) -> bytes:
        if isinstance(value, bytes):
            return value
        if not isinstance(value, str):
            raise self.mistyped(shape, path)
        try:
            return binascii.a2b_base64(value.encode("ascii"), strict_mode=True)
        except (UnicodeEncodeError, binascii.Error):
            raise self.rules.mistyped("Failed to decode VALUE_STRING as base64 (MIME-NO-LINEFEEDS): the value at "
                                      f"'{path}' is not base64") from None

    def length(self, shape: Shape, value: Any, path: str) -> None:
        for constraint in self.length_constraints(shape, value):
            self.fail(shape, value, path, constraint)

    @staticmethod
    def length_constraints(shape: Shape, value: Any) -> list[str]:
        meta = shape.metadata
        broken = []
        if "min" in meta and len(value) < meta["min"]:
            broken.append(f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            broken.append(f"Member must have length less than or equal to {meta['max']}")
        return broken
