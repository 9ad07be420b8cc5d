"""The 18 intrinsic functions of JSONPath states (``"key.$": "States.Format(...)"``).

:func:`compile_intrinsic` parses an invocation once into an :class:`Intrinsic`; its
:meth:`Intrinsic.evaluate` runs it against the state input (``$``), the context object
(``$$``) and the workflow variables (``$name``).

Arguments are single-quoted strings (escapes ``\\'``, ``\\{``, ``\\}``, ``\\\\``; any
other backslash is an error, as AWS documents), JSON numbers, ``true``, ``false``,
``null``, paths and nested invocations (at most 10 deep, AWS's limit).

Failures are ``States.IntrinsicFailure`` (bad argument count, type or value), except an
argument path that matches nothing, which is ``States.Runtime`` like every other path
that matches nothing (:class:`ArgumentPathNotFound` says which path). Both are
``StateEvaluationError``s, so the engine gives them AWS's prefix naming the state.

Values print as AWS's Java runtime prints them: ``States.JsonToString`` writes Jackson's
compact JSON (``1.0E20``), ``States.Format`` writes Java ``toString()`` (``{a=1}``).
``States.MathAdd`` rounds each argument half up (Java ``Math.round``), which the AWS
recordings show (``MathAdd(-0.5, 0.5)`` is ``1``).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import math
import random
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from stepkit.asl.errors import INTRINSIC_FAILURE, StateEvaluationError, StatesError
from stepkit.asl.java_json import java_json_dumps, java_to_string
from stepkit.asl.json_types import json_type_name
from stepkit.asl.jsonpath import (
    CompiledPath,
    JSONPathSyntaxError,
    PathNotFoundError,
    compile_path,
)

__all__ = [
    "FUNCTION_NAMES",
    "ArgumentPathNotFound",
    "Intrinsic",
    "IntrinsicSyntaxError",
    "compile_intrinsic",
    "is_intrinsic",
]

#: AWS allows up to 10 nested intrinsic functions within a field.
MAX_NESTING = 10
#: Input limit of States.Base64Encode, States.Base64Decode and States.Hash.
MAX_STRING_LENGTH = 10_000
#: States.ArrayRange may produce at most this many items.
MAX_RANGE_ITEMS = 1000

_HASH_ALGORITHMS = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


class IntrinsicSyntaxError(ValueError):
    """The text is not a valid intrinsic function invocation."""


class ArgumentPathNotFound(StateEvaluationError):
    """An argument's path matched nothing (``States.Runtime``).

    ``path`` is the argument as written (``$.x``, ``$$.Execution.Input.x``, ``$var.x``)
    so that the engine can name it, with the field, in its own cause text; ``reason`` is
    Jayway's message for the miss.
    """

    def __init__(self, path: str, reason: str, input_text: str) -> None:
        super().__init__(f"The JSONPath '{path}' could not be found in the input '{input_text}'")
        self.path = path
        self.reason = reason


def is_intrinsic(text: str) -> bool:
    """Whether ``text`` is written as an intrinsic call (``States.<Name>(``...)."""
    return _CALL_START.match(text) is not None


_CALL_START = re.compile(r"States\.([A-Za-z0-9]+)\(")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_ESCAPABLE = "'{}\\"
_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")

# --------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------

Variables = Mapping[str, Any] | None


class _Literal:
    __slots__ = ("format_chunks", "value")

    def __init__(self, value: Any, format_chunks: tuple[str, ...] | None = None) -> None:
        self.value = value
        #: For a string literal: the text around each unescaped ``{}`` (States.Format).
        self.format_chunks = format_chunks

    def evaluate(self, input: Any, context: Any, variables: Variables) -> Any:
        return self.value


class _PathArgument:
    """``$...`` (input), ``$$...`` (context object) or ``$name...`` (a variable)."""

    __slots__ = ("compiled", "is_context", "text", "variable")

    def __init__(self, text: str) -> None:
        self.text = text
        self.variable: str | None = None
        self.is_context = text.startswith("$$")
        if self.is_context:
            rest = text[2:]
        elif (match := _VARIABLE.match(text)) is not None:
            self.variable = match.group(1)
            rest = text[match.end() :]
        else:
            rest = text[1:]
        try:
            self.compiled: CompiledPath = compile_path("$" + rest)
        except JSONPathSyntaxError as exc:
            raise IntrinsicSyntaxError(f"Invalid path argument {text!r}: {exc}") from None

    def evaluate(self, input: Any, context: Any, variables: Variables) -> Any:
        if self.is_context:
            document = context
        elif self.variable is None:
            document = input
        else:
            if variables is None or self.variable not in variables:
                raise ArgumentPathNotFound(
                    self.text, f"The variable '{self.variable}' is not defined", java_json_dumps(input)
                )
            document = variables[self.variable]
        try:
            return self.compiled.evaluate(document)
        except PathNotFoundError as exc:
            raise ArgumentPathNotFound(self.text, exc.detail, java_json_dumps(input)) from None


_Argument = _Literal | _PathArgument  # nested calls are Intrinsic instances


# --------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str) -> IntrinsicSyntaxError:
        return IntrinsicSyntaxError(f"{message} at position {self.pos} in {self.text!r}")

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def parse(self) -> Intrinsic:
        call = self.call(1)
        if self.pos != len(self.text):
            raise self.error("Unexpected text after the closing ')'")
        return call

    def call(self, depth: int) -> Intrinsic:
        start = self.pos
        match = _CALL_START.match(self.text, self.pos)
        if match is None:
            raise self.error("Expected an intrinsic function call 'States.<Name>(...)'")
        name = match.group(1)
        if name not in _FUNCTIONS:
            raise self.error(f"Unknown intrinsic function 'States.{name}'")
        if depth > MAX_NESTING:
            raise self.error(f"Intrinsic functions may be nested at most {MAX_NESTING} deep")
        self.pos = match.end()
        arguments: list[_Argument | Intrinsic] = []
        self.skip_ws()
        if self.peek() == ")":
            self.pos += 1
        else:
            while True:
                self.skip_ws()
                arguments.append(self.argument(depth))
                self.skip_ws()
                char = self.peek()
                self.pos += 1
                if char == ")":
                    break
                if char != ",":
                    self.pos -= 1
                    raise self.error("Expected ',' or ')'")
        return Intrinsic(f"States.{name}", tuple(arguments), self.text[start : self.pos])

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def argument(self, depth: int) -> _Argument | Intrinsic:
        char = self.peek()
        if char == "'":
            return self.string()
        if char == "$":
            return self.path()
        if self.text.startswith("States.", self.pos):
            return self.call(depth + 1)
        number = _NUMBER.match(self.text, self.pos)
        if number is not None:
            self.pos = number.end()
            self.expect_argument_end()
            literal = number.group()
            if any(c in literal for c in ".eE"):
                return _Literal(float(literal))
            return _Literal(int(literal))
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                self.expect_argument_end()
                return _Literal(value)
        if char == "":
            raise self.error("Unexpected end of text, expected an argument")
        raise self.error(f"Unexpected character {char!r}, expected an argument")

    def expect_argument_end(self) -> None:
        save = self.pos
        self.skip_ws()
        if self.peek() not in (",", ")"):
            raise self.error("Expected ',' or ')' after the argument")
        self.pos = save

    def string(self) -> _Literal:
        self.pos += 1  # opening quote
        value: list[str] = []
        chunks: list[str] = []
        chunk: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise self.error("Unterminated string literal")
            char = self.text[self.pos]
            if char == "'":
                self.pos += 1
                break
            if char == "\\":
                escaped = self.text[self.pos + 1 : self.pos + 2]
                if escaped == "" or escaped not in _ESCAPABLE:
                    raise self.error("Invalid escape in string literal (only \\', \\{, \\}, \\\\ are allowed)")
                value.append(escaped)
                chunk.append(escaped)
                self.pos += 2
                continue
            if self.text.startswith("{}", self.pos):
                value.append("{}")
                chunks.append("".join(chunk))
                chunk = []
                self.pos += 2
                continue
            value.append(char)
            chunk.append(char)
            self.pos += 1
        chunks.append("".join(chunk))
        self.expect_argument_end()
        return _Literal("".join(value), tuple(chunks))

    def path(self) -> _PathArgument:
        start = self.pos
        brackets = 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in "'\"" and brackets:
                # A quoted name inside brackets may hold ',' and ')'; '\\' skips a character.
                self.pos += 1
                while self.pos < len(self.text) and self.text[self.pos] != char:
                    self.pos += 2 if self.text[self.pos] == "\\" else 1
                if self.pos >= len(self.text):
                    raise self.error("Unterminated quoted name in path")
            elif char == "[":
                brackets += 1
            elif char == "]":
                brackets -= 1
            elif brackets == 0 and char in ",)":
                break
            self.pos += 1
        text = self.text[start : self.pos].rstrip(" \t\r\n")
        return _PathArgument(text)


# --------------------------------------------------------------------------------------
# The functions
# --------------------------------------------------------------------------------------


def _failure(name: str, problem: str) -> StatesError:
    # An evaluation error of the state's field: the engine prefixes the state's name.
    return StateEvaluationError(f"Invalid arguments in {name}: {problem}", INTRINSIC_FAILURE)


def _describe(value: Any) -> str:
    return f"{json_type_name(value)} {java_json_dumps(value)}"


def _expect_arity(name: str, values: list[Any], low: int, high: int | None) -> None:
    count = len(values)
    if low <= count and (high is None or count <= high):
        return
    if high is None:
        expected = f"at least {low}"
    elif low == high:
        expected = str(low)
    else:
        expected = f"{low} to {high}"
    noun = "argument" if expected == "1" else "arguments"
    raise _failure(name, f"expected {expected} {noun} but received {count}")


def _expect_string(name: str, value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise _failure(name, f"{what} must be a string, but was {_describe(value)}")
    return value


def _expect_array(name: str, value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise _failure(name, f"{what} must be an array, but was {_describe(value)}")
    return value


def _expect_integer(name: str, value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _failure(name, f"{what} must be an integer, but was {_describe(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise _failure(name, f"{what} must be an integer, but was {_describe(value)}")
        return int(value)
    return value


def _java_round(value: Any, name: str, what: str) -> int:
    """Java's ``Math.round``: the nearest integer, halves rounded up (``-0.5`` -> ``0``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _failure(name, f"{what} must be a number, but was {_describe(value)}")
    if isinstance(value, int):
        return value
    floor = math.floor(value)
    return floor + 1 if value - floor >= 0.5 else floor


def _check_length(name: str, value: str, what: str) -> None:
    if len(value) > MAX_STRING_LENGTH:
        raise _failure(name, f"{what} must not be longer than {MAX_STRING_LENGTH} characters")


def _format(intrinsic: Intrinsic, values: list[Any]) -> str:
    name = intrinsic.name
    _expect_arity(name, values, 1, None)
    template = intrinsic.arguments[0]
    if isinstance(template, _Literal) and template.format_chunks is not None:
        chunks: tuple[str, ...] | list[str] = template.format_chunks
    else:
        chunks = _expect_string(name, values[0], "the first argument").split("{}")
    # Each {} takes the positionally-corresponding argument (AWS's documented rule); arguments
    # beyond the placeholders are left unused, as AWS runs them (a deployed AWS sample passes
    # more arguments than it has placeholders), while a placeholder without one fails.
    arguments = values[1 : len(chunks)]
    if len(chunks) - 1 > len(arguments):
        raise _failure(
            name,
            f"the format string has {len(chunks) - 1} placeholder(s) '{{}}' but {len(arguments)} value(s) were given",
        )
    parts = [chunks[0]]
    for argument, chunk in zip(arguments, chunks[1:], strict=True):
        parts.append(java_to_string(argument))
        parts.append(chunk)
    return "".join(parts)


def _reject_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not valid JSON")


def _string_to_json(intrinsic: Intrinsic, values: list[Any]) -> Any:
    name = intrinsic.name
    _expect_arity(name, values, 1, 1)
    text = _expect_string(name, values[0], "the argument")
    if not text.strip():
        return None  # AWS (Jackson) reads blank text as null
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise _failure(name, f"the string is not valid JSON ({exc}): {text}") from None


def _json_to_string(intrinsic: Intrinsic, values: list[Any]) -> str:
    _expect_arity(intrinsic.name, values, 1, 1)
    return java_json_dumps(values[0])


def _array(intrinsic: Intrinsic, values: list[Any]) -> list[Any]:
    return list(values)


def _array_partition(intrinsic: Intrinsic, values: list[Any]) -> list[list[Any]]:
    name = intrinsic.name
    _expect_arity(name, values, 2, 2)
    array = _expect_array(name, values[0], "the first argument")
    size = _expect_integer(name, values[1], "the chunk size")
    if size <= 0:
        raise _failure(name, f"the chunk size must be greater than 0, but was {size}")
    return [array[i : i + size] for i in range(0, len(array), size)]


def _json_key(value: Any) -> Any:
    """A hashable key under which two JSON values are equal exactly when Jackson's
    ``JsonNode.equals`` says so: ``1`` differs from ``1.0`` and from ``true``, object
    key order does not matter."""
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, int):
        return ("integer", value)
    if isinstance(value, float):
        return ("double", repr(value))
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, Mapping):
        return ("object", frozenset((k, _json_key(v)) for k, v in value.items()))
    return ("array", tuple(_json_key(v) for v in value))


def _array_contains(intrinsic: Intrinsic, values: list[Any]) -> bool:
    name = intrinsic.name
    _expect_arity(name, values, 2, 2)
    array = _expect_array(name, values[0], "the first argument")
    wanted = _json_key(values[1])
    return any(_json_key(item) == wanted for item in array)


def _array_range(intrinsic: Intrinsic, values: list[Any]) -> list[int]:
    name = intrinsic.name
    _expect_arity(name, values, 3, 3)
    start = _expect_integer(name, values[0], "the start")
    end = _expect_integer(name, values[1], "the end")
    step = _expect_integer(name, values[2], "the step")
    if step == 0:
        raise _failure(name, "the step must not be 0")
    items = range(start, end + (1 if step > 0 else -1), step)
    if len(items) > MAX_RANGE_ITEMS:
        raise _failure(name, f"the range would have {len(items)} items, more than the {MAX_RANGE_ITEMS} allowed")
    return list(items)


def _array_get_item(intrinsic: Intrinsic, values: list[Any]) -> Any:
    name = intrinsic.name
    _expect_arity(name, values, 2, 2)
    array = _expect_array(name, values[0], "the first argument")
    index = _expect_integer(name, values[1], "the index")
    if not 0 <= index < len(array):
        raise _failure(name, f"the index {index} is out of bounds for an array of length {len(array)}")
    return array[index]


def _array_length(intrinsic: Intrinsic, values: list[Any]) -> int:
    _expect_arity(intrinsic.name, values, 1, 1)
    return len(_expect_array(intrinsic.name, values[0], "the argument"))


def _array_unique(intrinsic: Intrinsic, values: list[Any]) -> list[Any]:
    _expect_arity(intrinsic.name, values, 1, 1)
    array = _expect_array(intrinsic.name, values[0], "the argument")
    seen: set[Any] = set()
    unique = []
    for item in array:
        key = _json_key(item)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _base64_encode(intrinsic: Intrinsic, values: list[Any]) -> str:
    name = intrinsic.name
    _expect_arity(name, values, 1, 1)
    text = _expect_string(name, values[0], "the argument")
    _check_length(name, text, "the input")
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


_BASE64_BODY = re.compile(r"[A-Za-z0-9+/]*")


def _base64_decode(intrinsic: Intrinsic, values: list[Any]) -> str:
    """Java's basic Base64 decoder: padding is optional but must be right when present,
    no whitespace; invalid UTF-8 becomes U+FFFD as in ``new String(bytes, UTF_8)``."""
    name = intrinsic.name
    _expect_arity(name, values, 1, 1)
    text = _expect_string(name, values[0], "the argument")
    _check_length(name, text, "the input")
    body = text.rstrip("=")
    padding = len(text) - len(body)
    valid = _BASE64_BODY.fullmatch(body) is not None and (
        (padding == 0 and len(body) % 4 != 1)
        or (padding == 1 and len(body) % 4 == 3)
        or (padding == 2 and len(body) % 4 == 2)
    )
    if not valid:
        raise _failure(name, f"the argument is not valid Base64: {text}")
    try:
        data = base64.b64decode(body + "=" * (-len(body) % 4))
    except binascii.Error as exc:
        raise _failure(name, f"the argument is not valid Base64 ({exc}): {text}") from None
    return data.decode("utf-8", errors="replace")


def _hash(intrinsic: Intrinsic, values: list[Any]) -> str:
    name = intrinsic.name
    _expect_arity(name, values, 2, 2)
    data = _expect_string(name, values[0], "the data")
    _check_length(name, data, "the data")
    algorithm = _expect_string(name, values[1], "the algorithm")
    if algorithm not in _HASH_ALGORITHMS:
        raise _failure(name, f"unsupported algorithm '{algorithm}'; use one of {', '.join(_HASH_ALGORITHMS)}")
    return hashlib.new(_HASH_ALGORITHMS[algorithm], data.encode("utf-8")).hexdigest()


def _json_merge(intrinsic: Intrinsic, values: list[Any]) -> dict[str, Any]:
    name = intrinsic.name
    _expect_arity(name, values, 3, 3)
    first, second, deep = values
    if not isinstance(first, Mapping):
        raise _failure(name, f"the first argument must be an object, but was {_describe(first)}")
    if not isinstance(second, Mapping):
        raise _failure(name, f"the second argument must be an object, but was {_describe(second)}")
    if not isinstance(deep, bool):
        raise _failure(name, f"the third argument must be a boolean, but was {_describe(deep)}")
    if deep:
        # AWS: "Step Functions only supports the shallow merging mode".
        raise _failure(name, "deep merging is not supported; the third argument must be false")
    merged = dict(first)
    merged.update(second)
    return merged


class _JavaRandom:
    """``java.util.Random`` (a 48-bit LCG), so that a seed always gives the same number."""

    _MULTIPLIER = 0x5DEECE66D
    _MASK = (1 << 48) - 1

    def __init__(self, seed: int) -> None:
        self._seed = (seed ^ self._MULTIPLIER) & self._MASK

    def _next31(self) -> int:
        self._seed = (self._seed * self._MULTIPLIER + 0xB) & self._MASK
        return self._seed >> 17

    def next_int(self, bound: int) -> int:
        bits = self._next31()
        if bound & (bound - 1) == 0:
            return (bound * bits) >> 31
        value = bits % bound
        while bits - value + bound - 1 >= 1 << 31:  # Java's int overflow check
            bits = self._next31()
            value = bits % bound
        return value


def _math_random(intrinsic: Intrinsic, values: list[Any]) -> int:
    """A random integer from ``start`` (inclusive) to ``end`` (exclusive)."""
    name = intrinsic.name
    _expect_arity(name, values, 2, 3)
    start = _java_round(values[0], name, "the start")
    end = _java_round(values[1], name, "the end")
    if start >= end:
        raise _failure(name, f"the start ({start}) must be less than the end ({end})")
    if len(values) == 3:
        seed = _java_round(values[2], name, "the seed")
        if end - start < 1 << 31:
            return start + _JavaRandom(seed).next_int(end - start)
        return start + random.Random(seed).randrange(end - start)
    return start + random.randrange(end - start)


def _math_add(intrinsic: Intrinsic, values: list[Any]) -> int:
    name = intrinsic.name
    _expect_arity(name, values, 2, 2)
    return _java_round(values[0], name, "the first argument") + _java_round(values[1], name, "the second argument")


def _string_split(intrinsic: Intrinsic, values: list[Any]) -> list[str]:
    """Java's ``StringTokenizer``: every character of the delimiter splits, and empty
    tokens are dropped (``',,a,'`` split on ``','`` is ``['a']``)."""
    name = intrinsic.name
    _expect_arity(name, values, 2, 2)
    text = _expect_string(name, values[0], "the first argument")
    delimiters = _expect_string(name, values[1], "the delimiter")
    if not delimiters:
        return [text] if text else []
    pattern = "[" + "".join(re.escape(c) for c in set(delimiters)) + "]+"
    return [token for token in re.split(pattern, text) if token]


def _uuid(intrinsic: Intrinsic, values: list[Any]) -> str:
    _expect_arity(intrinsic.name, values, 0, 0)
    return str(uuid.uuid4())


_FUNCTIONS: dict[str, Callable[[Intrinsic, list[Any]], Any]] = {
    "Format": _format,
    "StringToJson": _string_to_json,
    "JsonToString": _json_to_string,
    "Array": _array,
    "ArrayPartition": _array_partition,
    "ArrayContains": _array_contains,
    "ArrayRange": _array_range,
    "ArrayGetItem": _array_get_item,
    "ArrayLength": _array_length,
    "ArrayUnique": _array_unique,
    "Base64Encode": _base64_encode,
    "Base64Decode": _base64_decode,
    "Hash": _hash,
    "JsonMerge": _json_merge,
    "MathRandom": _math_random,
    "MathAdd": _math_add,
    "StringSplit": _string_split,
    "UUID": _uuid,
}

#: The intrinsic functions, as written in a definition.
FUNCTION_NAMES = frozenset(f"States.{name}" for name in _FUNCTIONS)


class Intrinsic:
    """A parsed intrinsic invocation; reusable and safe to share between executions."""

    __slots__ = ("_function", "arguments", "name", "text")

    def __init__(self, name: str, arguments: tuple[_Argument | Intrinsic, ...], text: str) -> None:
        self.name = name
        self.arguments = arguments
        self.text = text
        self._function = _FUNCTIONS[name.removeprefix("States.")]

    def __repr__(self) -> str:
        return f"Intrinsic({self.text!r})"

    def evaluate(self, input: Any, context: Any, variables: Variables = None) -> Any:
        """Run the invocation; raise :class:`StatesError` the way AWS fails it."""
        values = [argument.evaluate(input, context, variables) for argument in self.arguments]
        return self._function(self, values)


@functools.lru_cache(maxsize=2048)
def compile_intrinsic(text: str) -> Intrinsic:
    """Parse an invocation once; raise :class:`IntrinsicSyntaxError` if it is invalid."""
    return _Parser(text).parse()
