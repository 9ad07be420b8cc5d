"""The functions Step Functions adds to JSONata, and the few it answers differently.

AWS documents six functions of its own ("JSONata functions provided by Step Functions" in
"Transforming data with JSONata in Step Functions"): ``$partition``, ``$range``, ``$hash``,
``$random`` (which, unlike JSONata's, takes an optional seed), ``$uuid`` and ``$parse``. It
also documents that ``$eval`` "is not supported in Step Functions workflows".

AWS implements its six functions outside JSONata, so they validate their arguments their own
way: each checks its own arity and types and fails with the JSONata error codes written below
(``T0410``, ``T0412``, ``D3137``). Integer parameters are cut towards zero (AWS: "will
automatically round down any non-integer numbers"; a negative chunk size of -0.5 behaves as 0,
so the cut is towards zero, not a floor). The behaviour of the argument checks, the texts of
their errors and the seeded ``$random`` value were recorded against AWS by the Floci project
(github.com/floci-io/floci, ``JsonataEvaluator.java`` and issues #2668, #2736, #2737); the
shapes ``$range`` and ``$partition`` return are confirmed by this repository's conformance
corpus (``intrinsic_functions/test_array_jsonata.*``, ``test_parse_*``).

Besides those, this module corrects jsonata-python where it answers differently from JSONata
2.0.6 (the version AWS documents): ``$string`` (and with it the ``&`` operator) and ``$number``
on values Step Functions users see every day; ``$lookup``, ``$each`` and ``$sift`` on JSON nulls
(see :func:`array_with_nulls`); and every built-in's argument check on a null argument (see
:class:`NullAwareSignature`). The corrections are bindings seen only by stepkit's evaluations;
jsonata-python itself is left as it is.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random as _random
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Final

from jsonata.functions import Functions
from jsonata.jexception import JException
from jsonata.jsonata import Jsonata
from jsonata.parser import Parser
from jsonata.signature import Signature
from jsonata.utils import Utils

from stepkit.asl.jsonata_js import JS_BUILTINS

NULL = Utils.NULL_VALUE
_LONG_MIN = -(2**63)
_LONG_MAX = 2**63 - 1
_SAFE_INTEGER = 2**53


# --- JavaScript's renderings, which JSONata's texts and $string are written in ---------------


def js_number(value: float | int) -> str:
    """``Number.prototype.toString``: the shortest digits, in JavaScript's notation.

    JavaScript writes a number in full from 1e-6 up to (but excluding) 1e21 and in exponent
    notation outside that range (``1e+21``, ``1e-7``), where Python switches at other bounds.
    """
    if isinstance(value, int):
        if -_SAFE_INTEGER <= value <= _SAFE_INTEGER:
            return str(value)
        value = float(value)
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    text = repr(value)
    sign = ""
    if text[0] == "-":
        sign, text = "-", text[1:]
    mantissa, _, exponent_text = text.partition("e")
    exponent = int(exponent_text) if exponent_text else 0
    whole, _, fraction = mantissa.partition(".")
    if whole.strip("0"):
        digits = (whole + fraction).lstrip("0")
        point = len(whole.lstrip("0")) + exponent
    else:
        leading_zeros = len(fraction) - len(fraction.lstrip("0"))
        digits = fraction.lstrip("0")
        point = exponent - leading_zeros
    digits = digits.rstrip("0") or "0"
    count = len(digits)
    if count <= point <= 21:
        return sign + digits + "0" * (point - count)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    power = point - 1
    power_text = ("+" if power >= 0 else "-") + str(abs(power))
    if count == 1:
        return sign + digits + "e" + power_text
    return sign + digits[0] + "." + digits[1:] + "e" + power_text


def is_function(value: Any) -> bool:
    """Whether a JSONata value is a function (built-in, lambda or regex)."""
    return isinstance(value, (Jsonata.JFunctionCallable, Parser.Symbol, re.Pattern))


def js_stringify(
    value: Any,
    *,
    indent: str = "",
    number: Callable[[float | int], float | int] | None = None,
    function: Any = None,
) -> str | None:
    """``JSON.stringify`` of a JSONata value; ``None`` where JavaScript answers ``undefined``.

    ``number`` rewrites each number first (``$string`` rounds to 15 significant digits) and
    ``function`` is what a function is replaced by (``$string`` writes ``""``; plain
    ``JSON.stringify`` drops it, which ``None`` stands for here).
    """
    return _stringify(value, indent, "", number, function)


def _stringify(
    value: Any,
    indent: str,
    margin: str,
    number: Callable[[float | int], float | int] | None,
    function: Any,
) -> str | None:
    if value is None:
        return None
    if value is NULL:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        if number is not None:
            value = number(value)
        if isinstance(value, float) and not math.isfinite(value):
            return "null"
        return js_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if is_function(value):
        if function is None:
            return None
        return _stringify(function, indent, margin, number, None)
    inner = margin + indent
    if isinstance(value, dict):
        members = []
        for key, item in value.items():
            text = _stringify(item, indent, inner, number, function)
            if text is not None:
                separator = ": " if indent else ":"
                members.append(json.dumps(str(key), ensure_ascii=False) + separator + text)
        return _wrap("{", members, "}", indent, inner, margin)
    if isinstance(value, list):
        elements = []
        for item in value:
            text = _stringify(item, indent, inner, number, function)
            elements.append("null" if text is None else text)
        return _wrap("[", elements, "]", indent, inner, margin)
    return json.dumps(str(value), ensure_ascii=False)


def _wrap(opening: str, parts: list[str], closing: str, indent: str, inner: str, margin: str) -> str:
    if not parts:
        return opening + closing
    if not indent:
        return opening + ",".join(parts) + closing
    return opening + "\n" + inner + (",\n" + inner).join(parts) + "\n" + margin + closing


def _fifteen_digits(value: float | int) -> float | int:
    """``Number(value.toPrecision(15))``, which ``$string`` applies to every number."""
    if not Utils.is_numeric(value):  # raises D1001 on a non-finite number, as JSONata does
        return value
    rounded = float(format(float(value), ".15g"))
    return int(rounded) if rounded.is_integer() and abs(rounded) < _SAFE_INTEGER else rounded


def js_string(value: Any, prettify: Any = None) -> str | None:
    """JSONata 2.0.6's ``$string``: strings unchanged, everything else as JSON.

    Numbers are written the way JavaScript writes them after rounding to 15 significant
    digits, so ``$string(1e20)`` is ``"100000000000000000000"`` and ``$string([0.1+0.2])`` is
    ``"[0.3]"``; a function becomes ``""``; an infinite number fails with ``D3001``.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if is_function(value):
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        raise JException("D3001", -1, value)
    if isinstance(value, Utils.JList) and value.outer_wrapper:
        value = value[0]
    text = js_stringify(value, indent="  " if prettify else "", number=_fifteen_digits, function="")
    return "" if text is None else text


_DECIMAL_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([Ee][-+]?[0-9]+)?")
_RADIX_NUMBER = re.compile(r"0[xX][0-9A-Fa-f]+|0[oO][0-7]+|0[bB][01]+")


def js_number_of(value: Any) -> Any:
    """JSONata 2.0.6's ``$number``: a number, a decimal or 0x/0o/0b string, or a boolean.

    Anything else fails with ``D3030``; jsonata-python instead accepts what Python's
    ``float()`` accepts (``" 1 "``, ``"1_000"``, ``"inf"``) and fails with a Python error.
    """
    if value is None:
        return None
    if value is True:
        return 1
    if value is False:
        return 0
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        if _DECIMAL_NUMBER.fullmatch(value):
            number = float(value)
            if math.isfinite(number):
                return int(number) if number.is_integer() and abs(number) < 2.0**63 else number
        elif _RADIX_NUMBER.fullmatch(value):
            return int(value, 0)
    raise JException("D3030", -1, value)


# --- Step Functions' own functions -----------------------------------------------------------


def _signature_error(function: str, argument: int) -> JException:
    return JException("T0410", -1, argument, function)


def _invalid(message: str) -> JException:
    return JException("D3137", -1, message)


def _argument(arguments: Sequence[Any], index: int) -> Any:
    return arguments[index] if index < len(arguments) else None


def _reject_surplus(arguments: Sequence[Any], function: str, arity: int) -> None:
    """AWS names the first argument past the ones the function takes."""
    for index in range(arity, len(arguments)):
        if arguments[index] is not None:
            raise _signature_error(function, index + 1)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _to_long(value: float | int, function: str, argument: int) -> int:
    """The argument as AWS's Java code reads it: cut towards zero, saturated to a long."""
    if not _is_number(value):
        raise _signature_error(function, argument)
    if isinstance(value, float):
        if value != value:
            return 0
        if value >= 2.0**63:
            return _LONG_MAX
        if value <= -(2.0**63):
            return _LONG_MIN
    return max(_LONG_MIN, min(_LONG_MAX, int(value)))


def partition(arguments: Sequence[Any]) -> Any:
    """``$partition(array, chunkSize)``: the array cut into chunks of ``chunkSize`` items.

    Returns a plain array, never a sequence, so one chunk stays ``[[0]]``. A missing array, an
    empty one and a chunk size of 0 give nothing; a missing chunk size gives the whole array as
    one chunk; a negative one fails.
    """
    _reject_surplus(arguments, "partition", 2)
    array = _argument(arguments, 0)
    if array is None:
        return None
    if not isinstance(array, list):
        # AWS names no element type here ("must be an array of undefined"); the library's
        # constructor formats three values, so the type slot gets an empty one.
        raise JException("T0412", -1, 1, "partition", "")
    if not array:
        return None
    size_argument = _argument(arguments, 1)
    if size_argument is None:
        return [list(array)]
    size = _to_long(size_argument, "partition", 2)
    if size < 0:
        raise _invalid("Second argument must be zero or greater")
    if size == 0:
        return None
    items = list(array)
    return [items[start : start + size] for start in range(0, len(items), size)]


def range_(arguments: Sequence[Any]) -> Any:
    """``$range(start, end, step)``: ``start`` to ``end`` inclusive, ``step`` apart.

    The result is a JSONata sequence, so a range of one value is that value
    (``$range(1, 9, 9)`` is ``1`` on AWS). A missing or zero step, or one that points away
    from ``end``, gives nothing.
    """
    _reject_surplus(arguments, "range", 3)
    start = _to_long(_argument(arguments, 0), "range", 1)
    end = _to_long(_argument(arguments, 1), "range", 2)
    step_argument = _argument(arguments, 2)
    if step_argument is None:
        return None
    step = _to_long(step_argument, "range", 3)
    if step == 0 or (step > 0 and start > end) or (step < 0 and start < end):
        return None
    stop = end + (1 if step > 0 else -1)
    return Utils.create_sequence_from_iter(range(start, stop, step))


_HASH_ALGORITHMS = {
    "MD5": "md5",
    "SHA-1": "sha1",
    "SHA-256": "sha256",
    "SHA-384": "sha384",
    "SHA-512": "sha512",
}


def hash_(arguments: Sequence[Any]) -> Any:
    """``$hash(value, algorithm)``: the lowercase hex digest of the value's UTF-8 bytes.

    The algorithm name is case-sensitive; an unknown one fails with AWS's list of the five it
    accepts, written in the order AWS writes it.
    """
    _reject_surplus(arguments, "hash", 2)
    value = _argument(arguments, 0)
    if not isinstance(value, str):
        raise _signature_error("hash", 1)
    algorithm = _argument(arguments, 1)
    if algorithm is None:
        return None
    if not isinstance(algorithm, str):
        raise _signature_error("hash", 2)
    name = _HASH_ALGORITHMS.get(algorithm)
    if name is None:
        raise _invalid(f"Hash algorithm '{algorithm}' must be one of SHA-1, SHA-384, SHA-256, SHA-512, MD5")
    return hashlib.new(name, value.encode("utf-8")).hexdigest()


class JavaRandom:
    """``java.util.Random``: the 48-bit linear congruential generator, bit for bit.

    Evidence that AWS's seeded ``$random`` is ``new java.util.Random(seed).nextDouble()``: AWS
    documents only that the same seed returns the same number, and this repository's corpus
    wildcards every random value, so neither settles the algorithm. Floci measured AWS
    answering ``0.7275636800328681`` for ``$random(42)`` (``JsonataEvaluator.random``), which is
    exactly ``new Random(42).nextDouble()`` and what this class computes for seed 42.
    """

    _MULTIPLIER = 0x5DEECE66D
    _ADDEND = 0xB
    _MASK = (1 << 48) - 1

    def __init__(self, seed: int) -> None:
        self._seed = (seed ^ self._MULTIPLIER) & self._MASK

    def _next(self, bits: int) -> int:
        self._seed = (self._seed * self._MULTIPLIER + self._ADDEND) & self._MASK
        return self._seed >> (48 - bits)

    def next_double(self) -> float:
        return ((self._next(26) << 27) + self._next(27)) * 2.0**-53


def random(arguments: Sequence[Any]) -> Any:
    """``$random()`` or ``$random(seed)``: a number in [0, 1), reproducible under a seed."""
    _reject_surplus(arguments, "random", 1)
    seed = _argument(arguments, 0)
    if seed is None:
        return _random.random()
    return JavaRandom(_to_long(seed, "random", 1)).next_double()


def uuid_(arguments: Sequence[Any]) -> Any:
    """``$uuid()``: a random version 4 UUID; it takes no arguments."""
    _reject_surplus(arguments, "uuid", 0)
    return str(uuid.uuid4())


def _reject_constant(name: str) -> Any:
    """``NaN`` and ``Infinity``, which Python's JSON reader accepts and JSON does not."""
    raise ValueError(name)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def array_with_nulls(items: list[Any]) -> list[Any]:
    """An array with each JSON ``null`` in it, and in arrays nested in it, as JSONata's null.

    jsonata-python reads a Python ``None`` as *undefined*: inside an object it already reads a
    null member as null, but a null array element would vanish from ``$map``, ``$filter`` and
    path steps. The scans run in C, so an array without nulls costs next to nothing and is
    returned as is. A raw array (a plain ``list``, from the JSON data) is copied, never
    modified; a sequence the evaluation itself built is fixed in place.
    """
    if None not in items and list not in map(type, items):
        return items
    converted = [NULL if item is None else array_with_nulls(item) if type(item) is list else item for item in items]
    if type(items) is list:
        return converted
    items[:] = converted
    return items


def with_nulls(value: Any) -> Any:
    """A JSON value as JSONata must see it when bound to a variable (see :func:`array_with_nulls`)."""
    if value is None:
        return NULL
    if isinstance(value, list):
        return array_with_nulls(value)
    return value


def _members_with_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: with_nulls(item) for key, item in value.items()}
    return value


def lookup(value: Any, key: Any = None) -> Any:
    """``$lookup``, with JSON nulls in the array it may return read as JSONata's null."""
    result = Functions.lookup(value, key)
    return array_with_nulls(result) if isinstance(result, list) else result


def each(value: Any, function: Any = None) -> Any:
    """``$each``, passing a null member to the function as null rather than as nothing."""
    return Functions.each(_members_with_nulls(value), function)


def sift(value: Any, function: Any = None) -> Any:
    """``$sift``, passing a null member to the function as null rather than as nothing."""
    return Functions.sift(_members_with_nulls(value), function)


def parse(arguments: Sequence[Any]) -> Any:
    """``$parse(json)``: a JSON string as a value, AWS's replacement for ``$eval``.

    Strict JSON only: an empty string, a second document, a repeated key or ``NaN`` fail with
    ``D3137: Invalid JSON``.
    """
    _reject_surplus(arguments, "parse", 1)
    text = _argument(arguments, 0)
    if text is None:
        return None
    if not isinstance(text, str):
        raise _signature_error("parse", 1)
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_reject_constant)
    except ValueError:
        raise _invalid("Invalid JSON") from None
    return with_nulls(value)


_SYMBOLS: Final = {str: "s", bool: "b", int: "n", float: "n"}


class NullAwareSignature(Signature):
    """A function signature that tells a JSON null from a missing argument, as jsonata-js does.

    jsonata-python gives null the symbol of a missing argument, so ``$count(null)`` is 0
    where JSONata answers 1 (a null is a value, counted as a one-item array). The symbol is
    also computed without the library's per-call imports: checking ``$sum`` of an array calls
    this once per item.
    """

    def get_symbol(self, value: Any) -> str:
        symbol = _SYMBOLS.get(type(value))
        if symbol is not None:
            return symbol
        if value is None:
            return "m"
        if value is NULL:
            return "l"
        if isinstance(value, list):
            return "a"
        if isinstance(value, dict):
            return "o"
        if isinstance(value, (Jsonata.JFunctionCallable, re.Pattern)) or (
            isinstance(value, Parser.Symbol) and value._jsonata_lambda
        ):
            return "f"
        return "m"


def null_aware(function: Jsonata.JFunction) -> Jsonata.JFunction:
    """A copy of a built-in whose signature checks nulls as :class:`NullAwareSignature` does."""
    copy_ = copy.copy(function)
    signature = copy.copy(function.signature)
    signature.__class__ = NullAwareSignature
    copy_.signature = signature
    return copy_


class StepFunctionsFunction(Jsonata.JFunction):
    """A function that checks its own arguments, as AWS's functions do.

    The signature only tells JSONata's higher-order functions how many arguments to pass
    (none are required); validation and errors are the implementation's.
    """

    def __init__(self, name: str, implementation: Callable[[Sequence[Any]], Any], arity: int) -> None:
        super().__init__(None, "<" + "x?" * arity + ":x>")
        self.function_name = name
        self._implementation = implementation

    def validate(self, args: Any, context: Any) -> Any:
        return list(args) if args else []

    def call(self, input: Any, args: Sequence[Any] | None) -> Any:
        return self._implementation(args or [])


class BuiltinReplacement(Jsonata.JFunction):
    """A JSONata built-in re-implemented, keeping JSONata's own signature and its checks."""

    def __init__(self, implementation: Callable[..., Any], signature: str) -> None:
        super().__init__(None, None)
        self.signature = NullAwareSignature(signature, "")
        self._implementation = implementation

    def call(self, input: Any, args: Sequence[Any] | None) -> Any:
        return self._implementation(*(args or []))


def step_functions_bindings() -> dict[str, Any]:
    """Name to value for every function a Step Functions expression calls.

    JSONata's built-ins come first, with null-aware signatures; then what Step Functions adds,
    replaces or removes.
    """
    builtins = {
        name: null_aware(value)
        for name, value in Jsonata.static_frame.bindings.items()
        if isinstance(value, Jsonata.JFunction) and value.signature is not None
    }
    return builtins | {
        "partition": StepFunctionsFunction("partition", partition, 2),
        "range": StepFunctionsFunction("range", range_, 3),
        "hash": StepFunctionsFunction("hash", hash_, 2),
        "random": StepFunctionsFunction("random", random, 1),
        "uuid": StepFunctionsFunction("uuid", uuid_, 0),
        "parse": StepFunctionsFunction("parse", parse, 1),
        "string": BuiltinReplacement(js_string, "<x-b?:s>"),
        "number": BuiltinReplacement(js_number_of, "<(nsb)-:n>"),
        "lookup": BuiltinReplacement(lookup, "<x-s:x>"),
        "each": BuiltinReplacement(each, "<o-f:a>"),
        "sift": BuiltinReplacement(sift, "<o-f?:o>"),
        **{name: BuiltinReplacement(function, signature) for name, (function, signature) in JS_BUILTINS.items()},
        # "$eval is not supported in Step Functions workflows": bound to nothing, so a call
        # fails the way calling any non-function does (T1006), which is what AWS answers.
        "eval": None,
    }
