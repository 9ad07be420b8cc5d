"""JSONata as Step Functions runs it: ``{% ... %}`` expressions and templates that hold them.

An expression is parsed once (:func:`compile_expression`, memoised) and evaluated many times
with ``$states`` and the workflow variables bound. Evaluation runs on jsonata-python with the
corrections that make it answer what AWS answers:

* Step Functions' own functions and its disabled ``$eval`` (:mod:`.jsonata_functions`);
* values cross the boundary as JSON: a JSON ``null`` is JSONata's null (jsonata-python reads
  Python ``None`` as *undefined*; only what an expression reads is converted, so the cost does
  not grow with the size of ``$states``), results come back as plain ``dict``/``list``/``str``/
  ``int``/``float``/``bool``/``None``, a whole number as an ``int`` (``1+2`` is ``3``, ``3/2``
  is ``1.5``), and *undefined* as :data:`UNDEFINED`;
* arithmetic follows JavaScript, as JSONata does: ``1/0`` is infinite rather than a Python
  ``ZeroDivisionError`` and ``5.5 % 2`` is ``1.5``; a non-finite result comes back as AWS
  writes it, the string ``"Infinity"``, ``"-Infinity"`` or ``"NaN"``;
* errors read as AWS writes them: the JSONata code and JSONata's own message
  (``T0410: Argument 1 of function "sum" does not match function signature``), where
  jsonata-python's catalogue says ``Object`` for ``function`` and drops the quotes.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

from jsonata.functions import Functions
from jsonata.jexception import JException
from jsonata.jsonata import Jsonata
from jsonata.parser import Parser
from jsonata.regex_engine import default_regex_engine
from jsonata.utils import Utils

from stepkit.asl.jsonata_functions import (
    NULL,
    array_with_nulls,
    is_function,
    js_string,
    js_stringify,
    step_functions_bindings,
    with_nulls,
)

__all__ = [
    "UNDEFINED",
    "Expression",
    "JsonataEvaluationError",
    "JsonataSyntaxError",
    "Template",
    "compile_expression",
    "compile_template",
    "is_expression",
]


class _Undefined:
    """JSONata's *undefined*: what an expression that selects nothing evaluates to."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


#: What :meth:`Expression.evaluate` returns when JSONata yields nothing.
UNDEFINED: Final = _Undefined()

_OPEN, _CLOSE = "{%", "%}"


def is_expression(value: Any) -> bool:
    """Whether a field value is a JSONata expression.

    AWS: "the string must start with ``{%`` with no leading spaces, and must end with ``%}``
    with no trailing spaces"; ``" {% $x %} "`` is a plain string (the corpus's
    ``constant_not_jsonata`` cases keep it verbatim).
    """
    return isinstance(value, str) and len(value) >= 4 and value.startswith(_OPEN) and value.endswith(_CLOSE)


# --- errors ----------------------------------------------------------------------------------


class JsonataSyntaxError(ValueError):
    """An expression AWS refuses when the definition is created.

    ``str(error)`` is the message AWS reports after ``diagnostic``: for an expression that does
    not parse, ``INVALID_JSONATA_EXPRESSION: Unexpected end of expression``; for one that reads
    the (non-existent) context at its top level, ``UNSUPPORTED_JSONATA_EXPRESSION: Reference to
    'phone' at the top level is not supported.`` ``code`` is the JSONata code (``S0207``) when
    there is one, ``position`` the character offset in ``source`` (the text between the
    delimiters) and ``path`` where the expression sits inside a template (``/a/b[0]``, empty for
    a field that is the expression itself).
    """

    INVALID: Final = "INVALID_JSONATA_EXPRESSION"
    UNSUPPORTED: Final = "UNSUPPORTED_JSONATA_EXPRESSION"

    def __init__(
        self,
        message: str,
        *,
        source: str,
        code: str | None = None,
        position: int = -1,
        path: str = "",
        diagnostic: str = INVALID,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.source = source
        self.code = code
        self.position = position
        self.path = path
        self.diagnostic = diagnostic


class JsonataEvaluationError(Exception):
    """An expression that failed, or that returned nothing where a value is needed.

    :attr:`detail` is the text AWS puts after ``An error occurred while executing the state
    '<name>' (entered at the event id #<n>). `` in a ``States.QueryEvaluationError`` cause. AWS
    names the field the expression sits in, which only the engine knows: ``error.at("Output")``
    returns the same error located in that field. ``path`` is where the expression sits inside
    its template, relative to the field (``/result``, ``[2]/id``, empty for the field itself),
    so ``at("Output")`` of an error at ``/result`` names ``Output/result``.
    """

    #: ``kind`` values.
    FAILED: Final = "failed"
    UNDEFINED: Final = "undefined"
    INTERNAL: Final = "internal"

    def __init__(
        self,
        source: str,
        kind: str,
        *,
        code: str | None = None,
        message: str | None = None,
        path: str = "",
        field: str | None = None,
    ) -> None:
        self.source = source
        self.kind = kind
        self.code = code
        self.message = message
        self.path = path
        self.field = field
        super().__init__(self.detail)

    @property
    def undefined(self) -> bool:
        """The expression returned nothing (undefined)."""
        return self.kind == self.UNDEFINED

    @property
    def reason(self) -> str | None:
        """JSONata's part of the text: ``T1006: Attempted to invoke a non-function``."""
        if self.message is None:
            return None
        return f"{self.code}: {self.message}" if self.code else self.message

    @property
    def detail(self) -> str:
        where = f" specified for the field '{self.field}'" if self.field is not None else ""
        head = f"The JSONata expression '{self.source}'{where}"
        if self.kind == self.UNDEFINED:
            return f"{head} returned nothing (undefined)."
        if self.kind == self.INTERNAL:
            return f"{head} threw an internal error during evaluation."
        # AWS ends the sentence before a coded JSONata message and runs on into an uncoded one.
        separator = ". " if self.code else ": "
        return f"{head} threw an error during evaluation{separator}{self.reason}"

    def at(self, field: str) -> JsonataEvaluationError:
        """This error located in ``field`` (``Output``, ``Assign``, ``Choices[0]/Condition``)."""
        error = JsonataEvaluationError(
            self.source,
            self.kind,
            code=self.code,
            message=self.message,
            path=self.path,
            field=field + self.path,
        )
        error.__cause__ = self.__cause__
        return error


# JSONata 2.0.6's messages (jsonata-js ``errorCodes``): the texts AWS reports. ``{{x}}`` is
# replaced by ``JSON.stringify`` of the value, ``{{{x}}}`` by the value itself.
_MESSAGES: Final[dict[str, str]] = {
    "S0101": "String literal must be terminated by a matching quote",
    "S0102": "Number out of range: {{token}}",
    "S0103": "Unsupported escape sequence: \\{{token}}",
    "S0104": "The escape sequence \\u must be followed by 4 hex digits",
    "S0105": "Quoted property name must be terminated with a backquote (`)",
    "S0106": "Comment has no closing tag",
    "S0201": "Syntax error: {{token}}",
    "S0202": "Expected {{value}}, got {{token}}",
    "S0203": "Expected {{value}} before end of expression",
    "S0204": "Unknown operator: {{token}}",
    "S0205": "Unexpected token: {{token}}",
    "S0206": "Unknown expression type: {{token}}",
    "S0207": "Unexpected end of expression",
    "S0208": "Parameter {{value}} of function definition must be a variable name (start with $)",
    "S0209": "A predicate cannot follow a grouping expression in a step",
    "S0210": "Each step can only have one grouping expression",
    "S0211": "The symbol {{token}} cannot be used as a unary operator",
    "S0212": "The left side of := must be a variable name (start with $)",
    "S0213": "The literal value {{value}} cannot be used as a step within a path expression",
    "S0214": "The right side of {{token}} must be a variable name (start with $)",
    "S0215": "A context variable binding must precede any predicates on a step",
    "S0216": "A context variable binding must precede the 'order-by' clause on a step",
    "S0217": "The object representing the 'parent' cannot be derived from this expression",
    "S0301": "Empty regular expressions are not allowed",
    "S0302": "No terminating / in regular expression",
    "S0402": "Choice groups containing parameterized types are not supported",
    "S0401": "Type parameters can only be applied to functions and arrays",
    "S0500": "Attempted to evaluate an expression containing syntax error(s)",
    "T0410": "Argument {{index}} of function {{token}} does not match function signature",
    "T0411": "Context value is not a compatible type with argument {{index}} of function {{token}}",
    "T0412": "Argument {{index}} of function {{token}} must be an array of {{type}}",
    "D1001": "Number out of range: {{value}}",
    "D1002": "Cannot negate a non-numeric value: {{value}}",
    "T1003": "Key in object structure must evaluate to a string; got: {{value}}",
    "D1004": "Regular expression matches zero length string",
    "T1005": "Attempted to invoke a non-function. Did you mean ${{{token}}}?",
    "T1006": "Attempted to invoke a non-function",
    "T1007": "Attempted to partially apply a non-function. Did you mean ${{{token}}}?",
    "T1008": "Attempted to partially apply a non-function",
    "D1009": "Multiple key definitions evaluate to same key: {{value}}",
    "T1010": "The matcher function argument passed to function {{token}} does not return the correct object structure",
    "T2001": "The left side of the {{token}} operator must evaluate to a number",
    "T2002": "The right side of the {{token}} operator must evaluate to a number",
    "T2003": "The left side of the range operator (..) must evaluate to an integer",
    "T2004": "The right side of the range operator (..) must evaluate to an integer",
    "D2005": "The left side of := must be a variable name (start with $)",
    "T2006": "The right side of the function application operator ~> must be a function",
    "T2007": "Type mismatch when comparing values {{value}} and {{value2}} in order-by clause",
    "T2008": "The expressions within an order-by clause must evaluate to numeric or string values",
    "T2009": "The values {{value}} and {{value2}} either side of operator {{token}} must be of the same data type",
    "T2010": "The expressions either side of operator {{token}} must evaluate to numeric or string values",
    "T2011": "The insert/update clause of the transform expression must evaluate to an object: {{value}}",
    "T2012": "The delete clause of the transform expression must evaluate to a string or array of strings: {{value}}",
    "T2013": "The transform expression clones the input object using the $clone() function.  This has "
    "been overridden in the current scope by a non-function.",
    "D2014": "The size of the sequence allocated by the range operator (..) must not exceed 1e6.  "
    "Attempted to allocate {{value}}.",
    "D3001": "Attempting to invoke string function on Infinity or NaN",
    "D3010": "Second argument of replace function cannot be an empty string",
    "D3011": "Fourth argument of replace function must evaluate to a positive number",
    "D3012": "Attempted to replace a matched string with a non-string value",
    "D3020": "Third argument of split function must evaluate to a positive number",
    "D3030": "Unable to cast value to a number: {{value}}",
    "D3040": "Third argument of match function must evaluate to a positive number",
    "D3050": "The second argument of reduce function must be a function with at least two arguments",
    "D3060": "The sqrt function cannot be applied to a negative number: {{value}}",
    "D3061": "The power function has resulted in a value that cannot be represented as a JSON number: "
    "base={{value}}, exponent={{exp}}",
    "D3070": "The single argument form of the sort function can only be applied to an array of strings "
    "or an array of numbers.  Use the second argument to specify a comparison function",
    "D3080": "The picture string must only contain a maximum of two sub-pictures",
    "D3081": "The sub-picture must not contain more than one instance of the 'decimal-separator' character",
    "D3082": "The sub-picture must not contain more than one instance of the 'percent' character",
    "D3083": "The sub-picture must not contain more than one instance of the 'per-mille' character",
    "D3084": "The sub-picture must not contain both a 'percent' and a 'per-mille' character",
    "D3085": "The mantissa part of a sub-picture must contain at least one character that is either an "
    "'optional digit character' or a member of the 'decimal digit family'",
    "D3086": "The sub-picture must not contain a passive character that is preceded by an active "
    "character and that is followed by another active character",
    "D3087": "The sub-picture must not contain a 'grouping-separator' character that appears adjacent to "
    "a 'decimal-separator' character",
    "D3088": "The sub-picture must not contain a 'grouping-separator' at the end of the integer part",
    "D3089": "The sub-picture must not contain two adjacent instances of the 'grouping-separator' character",
    "D3090": "The integer part of the sub-picture must not contain a member of the 'decimal digit family' "
    "that is followed by an instance of the 'optional digit character'",
    "D3091": "The fractional part of the sub-picture must not contain an instance of the 'optional digit "
    "character' that is followed by a member of the 'decimal digit family'",
    "D3092": "A sub-picture that contains a 'percent' or 'per-mille' character must not contain a "
    "character treated as an 'exponent-separator'",
    "D3093": "The exponent part of the sub-picture must comprise only of one or more characters that are "
    "members of the 'decimal digit family'",
    "D3100": "The radix of the formatBase function must be between 2 and 36.  It was given {{value}}",
    "D3110": "The argument of the toMillis function must be an ISO 8601 formatted timestamp. Given {{value}}",
    "D3120": "Syntax error in expression passed to function eval: {{value}}",
    "D3121": "Dynamic error evaluating the expression passed to function eval: {{value}}",
    "D3130": "Formatting or parsing an integer as a sequence starting with {{value}} is not supported by "
    "this implementation",
    "D3131": "In a decimal digit pattern, all digits must be from the same decimal group",
    "D3132": "Unknown component specifier {{value}} in date/time picture string",
    "D3133": "The 'name' modifier can only be applied to months and days in the date/time picture "
    "string, not {{value}}",
    "D3134": "The timezone integer format specifier cannot have more than four digits",
    "D3135": "No matching closing bracket ']' in date/time picture string",
    "D3136": "The date/time picture string is missing specifiers required to parse the timestamp",
    "D3137": "{{{message}}}",
    "D3138": "The $single() function expected exactly 1 matching result.  Instead it matched more.",
    "D3139": "The $single() function expected exactly 1 matching result.  Instead it matched 0.",
    "D3140": "Malformed URL passed to ${{{functionName}}}(): {{value}}",
    "D3141": "{{{message}}}",
}

# Which of the message's values jsonata-python passes in a JException's ``current``,
# ``expected`` and ``extra`` slots, per code (read off the library's raise sites). A ``token``
# no slot carries is the name of the function being called, as in jsonata-js.
_SLOTS: Final[dict[str, tuple[str, ...]]] = {
    "S0102": ("token",),
    "S0201": ("token",),
    "S0202": ("value", "token"),
    "S0203": ("value", "token"),
    "S0204": ("token",),
    "S0205": ("token",),
    "S0206": ("token",),
    "S0208": ("value",),
    "S0211": ("token",),
    "S0213": ("value",),
    "S0214": ("token",),
    "S0217": ("token",),
    "T0410": ("index", "token"),
    "T0411": ("value", "index"),
    "T0412": ("index", "token", "type"),
    "D1001": ("value",),
    "D1002": ("token", "value"),
    "T1003": ("value",),
    "T1005": ("token",),
    "T1007": ("token",),
    "D1009": ("value",),
    "D1012": ("value",),
    "T2001": ("token", "value"),
    "T2002": ("token", "value"),
    "T2003": ("value",),
    "T2004": ("value",),
    "T2006": ("value",),
    "T2007": ("value", "value2"),
    "T2008": ("value", "value2"),
    "T2009": ("value", "value2", "token"),
    "T2010": ("token", "value"),
    "T2011": ("value",),
    "T2012": ("value",),
    "D2014": ("value",),
    "D3020": ("value",),
    "D3030": ("value",),
    "D3040": ("value",),
    "D3060": ("value",),
    "D3061": ("value", "exp"),
    "D3110": ("value",),
    "D3120": ("value",),
    "D3121": ("value",),
    "D3130": ("value",),
    "D3132": ("value",),
    "D3133": ("value",),
    "D3137": ("message",),
    "D3141": ("message",),
}

# Array element types in a signature, as jsonata-js names them in T0412.
_ARRAY_TYPES: Final = {
    "a": "arrays",
    "b": "booleans",
    "f": "functions",
    "n": "numbers",
    "o": "objects",
    "s": "strings",
}

# jsonata-python raises a few errors with the message in the code's place.
_CODES_OF_MESSAGES: Final = {
    "Second argument of replace function cannot be an empty string": "D3010",
    "Fourth argument of replace function must evaluate to a positive number": "D3011",
}

_TRIPLE = re.compile(r"\{\{\{(\w+)\}\}\}")
_DOUBLE = re.compile(r"\{\{(\w+)\}\}")


def _raw(value: Any) -> str:
    if value is None:
        return "undefined"
    if isinstance(value, str):
        return value
    return js_stringify(value) or "undefined"


def _json(value: Any) -> str:
    text = None if value is None else js_stringify(value)
    return "undefined" if text is None else text


def _explain(error: JException) -> tuple[str | None, str]:
    """The JSONata code and message jsonata-js would have written for a jsonata-python error."""
    code = error.error
    if code not in _MESSAGES:
        text = str(code)
        return _CODES_OF_MESSAGES.get(text), text
    slots = _SLOTS.get(code, ())
    fields = dict(zip(slots, (error.current, error.expected, error.extra), strict=False))
    if code == "S0301" and error.current is not None:  # the library's code for a bad escape
        code, fields = "S0103", {"token": error.current}
    elif code == "D3100":  # the library passes the radix in the location slot
        fields = {"value": error.location}
    elif code in ("T0410", "T0411", "T0412"):
        if not isinstance(fields.get("index"), int):
            fields.pop("index", None)
        if fields.get("type"):
            fields["type"] = _ARRAY_TYPES.get(str(fields["type"])[:1], fields["type"])
        else:
            fields.pop("type", None)
    if "token" not in fields and code != "D3137":
        fields["token"] = getattr(error, "stepkit_function", None)
    message = _TRIPLE.sub(lambda match: _raw(fields.get(match[1])), _MESSAGES[code])
    message = _DOUBLE.sub(lambda match: _json(fields.get(match[1])), message)
    return code, message


# --- the evaluator ---------------------------------------------------------------------------


class _Runner(Jsonata):
    """The jsonata-python evaluator, one per thread, with JSONata 2.0.6's semantics restored.

    jsonata-python keeps per-evaluation state on the instance that evaluates (it looks it up
    per thread), so one instance per thread evaluates every compiled expression; expressions
    themselves are only ASTs. It is built without ``Jsonata.__init__``, which parses an
    expression this instance never needs.
    """

    def __init__(self) -> None:
        self.parser = Jsonata.get_parser()
        self.errors = None
        self.ast = None
        self.environment = None
        self.input = None
        self.timestamp = 0
        self.validate_input = False
        self.output_convert_nulls = False
        self.regex_engine = default_regex_engine
        self.timeout = None
        self.stack = None

    def evaluate_numeric_expression(self, lhs: Any, rhs: Any, op: Any) -> Any:
        """JavaScript arithmetic: ``1/0`` is infinite and ``%`` keeps the fraction."""
        if lhs is not None and not Utils.is_numeric(lhs):
            raise JException("T2001", -1, op, lhs)
        if rhs is not None and not Utils.is_numeric(rhs):
            raise JException("T2002", -1, op, rhs)
        if lhs is None or rhs is None:
            return None
        left, right = float(lhs), float(rhs)
        if op == "+":
            result = left + right
        elif op == "-":
            result = left - right
        elif op == "*":
            result = left * right
        elif op == "/":
            if right == 0:
                result = math.nan if left == 0 else math.copysign(math.inf, left) * math.copysign(1.0, right)
            else:
                result = left / right
        else:
            result = math.fmod(left, right) if right != 0 else math.nan
        if math.isfinite(result) and result.is_integer() and abs(result) < 2.0**63:
            return int(result)
        return result

    def evaluate_path(self, expr: Any, input: Any, environment: Any) -> Any:
        simple = getattr(expr, _SIMPLE_PATH, None)
        if simple is not None:
            value = _walk(environment, *simple)
            if value is not _MAP_OVER_ARRAY:
                return array_with_nulls(value) if isinstance(value, list) else value
        return Jsonata.evaluate_path(self, expr, input, environment)

    def evaluate_name(self, expr: Any, input: Any, environment: Any) -> Any:
        result = Functions.lookup(input, str(expr.value))
        return array_with_nulls(result) if isinstance(result, list) else result

    def evaluate_wildcard(self, expr: Any, input: Any) -> Any:
        return array_with_nulls(Jsonata.evaluate_wildcard(self, expr, input))

    def evaluate_string_concat(self, lhs: Any, rhs: Any) -> str:
        return (js_string(lhs) if lhs is not None else "") + (js_string(rhs) if rhs is not None else "")

    def evaluate_function(self, expr: Any, input: Any, environment: Any, applyto_context: Any) -> Any:
        try:
            return Jsonata.evaluate_function(self, expr, input, environment, applyto_context)
        except JException as error:
            # jsonata-js names the called function in the message of an error raised without
            # one; the innermost call is the one that failed.
            if not hasattr(error, "stepkit_function"):
                procedure = expr.procedure
                name = procedure.steps[0].value if procedure.type == "path" else procedure.value
                error.stepkit_function = name
            raise

    def validate_arguments(self, signature: Any, args: Any, context: Any) -> Any:
        try:
            return Jsonata.validate_arguments(self, signature, args, context)
        except JException as error:
            argument = _mismatched_argument(signature, args) if error.error == "T0410" else None
            if argument is not None:
                error.current = argument
            raise

    def apply_inner(self, proc: Any, args: Any, input: Any, environment: Any) -> Any:
        # The library prints to stdout before failing on a call of a non-function.
        if proc is not None and not is_function(proc) and not isinstance(proc, Jsonata.JLambda):
            raise JException("T1006", -1)
        return Jsonata.apply_inner(self, proc, args, input, environment)


def _mismatched_argument(function: Any, args: Any) -> int | None:
    """The number of the first argument a signature refuses, counted as jsonata-js counts it.

    jsonata-python matches each growing prefix of the signature against all the arguments, so
    it blames argument 1 whatever the culprit; jsonata-js matches it against their start.
    """
    signature = function.signature if isinstance(function, (Jsonata.JFunction, Parser.Symbol)) else None
    if signature is None:
        return None
    supplied = "".join(signature.get_symbol(arg) for arg in args or ())
    pattern, matched = "^", 0
    for parameter in signature._params:
        pattern += parameter.regex
        match = re.match(pattern, supplied)
        if match is None:
            break
        matched = match.end()
    return matched + 1


_local = threading.local()


def _runner() -> _Runner:
    runner = getattr(_local, "runner", None)
    if runner is None:
        runner = _local.runner = _Runner()
    return runner


_FUNCTIONS = Jsonata.Frame(Jsonata.static_frame)
for _name, _value in step_functions_bindings().items():
    _FUNCTIONS.bind(_name, _value)

# jsonata-python looks these two hooks up for every node it evaluates, walking the frame chain
# to the library's root each time; binding them to nothing stops the walk at once.
_HOOKS: Final = {"__evaluate_entry": None, "__evaluate_exit": None}
_ABSENT: Final = object()


class _Scope(Jsonata.Frame):
    """The bindings one evaluation sees: ``$states``, the workflow variables, the functions.

    A variable is converted when an expression first reads it and kept for the rest of the
    scope, which a template shares among all its expressions. ``$states`` is bound as it is:
    what an expression reads from it is converted by :meth:`_Runner.evaluate_name`. ``$states``
    wins over a variable of the same name.
    """

    def __init__(self, states: Mapping[str, Any], variables: Mapping[str, Any] | None) -> None:
        self.bindings = dict(_HOOKS)
        self.parent = _FUNCTIONS
        self.is_parallel_call = False
        self._states = states
        self._variables = variables

    def lookup(self, name: str) -> Any:
        bindings = self.bindings
        value = bindings.get(name, _ABSENT)
        if value is not _ABSENT:
            return value
        if name == "states":
            states = self._states
            value = states if type(states) is dict else dict(states)
        else:
            raw = self._variables.get(name, _ABSENT) if self._variables else _ABSENT
            value = self.parent.lookup(name) if raw is _ABSENT else with_nulls(raw)
        bindings[name] = value
        return value


_LONG_LIMIT = 2**63


def _json_float(value: float) -> Any:
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < _LONG_LIMIT:
        return int(value)
    return value


def _to_json(value: Any) -> Any:
    """A JSONata value as plain JSON, the way AWS serialises it.

    A whole number is an ``int`` while it fits in a long and a ``float`` past that; a
    non-finite number is the string AWS writes for it; a function, which JSON cannot hold, is
    left out of an object and is ``null`` in an array (``JSON.stringify``'s rule).
    """
    kind = type(value)
    if kind is str or kind is bool:
        return value
    if kind is int:
        return value if -_LONG_LIMIT <= value < _LONG_LIMIT else float(value)
    if kind is float:
        return _json_float(value)
    if value is None or value is NULL:
        return None
    if isinstance(value, dict):
        return {str(key): _to_json(item) for key, item in value.items() if not is_function(item)}
    if isinstance(value, list):
        return [None if is_function(item) else _to_json(item) for item in value]
    return None


_STEP_EXTRAS: Final = (
    "predicate",
    "stages",
    "group",
    "focus",
    "index",
    "tuple",
    "ancestor",
    "seeking_parent",
    "slot",
)


def _plain(node: Any) -> bool:
    return not node.keep_array and not node.consarray and all(getattr(node, name) is None for name in _STEP_EXTRAS)


def _simple_path(ast: Any) -> tuple[str, tuple[str, ...]] | None:
    """``(variable, names)`` for ``$variable`` or ``$variable.name.name...``, else None.

    Most Step Functions expressions are that shape (``$states.input.orderId``). Walking it
    through objects needs no evaluator, which is several times faster than jsonata-python's
    general path evaluation; at the first array the evaluator takes over, since a step over an
    array maps over it.
    """
    if ast.type == "variable" and ast.value and _plain(ast):
        return str(ast.value), ()
    steps = ast.steps
    if ast.type != "path" or not steps or len(steps) < 2 or ast.keep_singleton_array or not _plain(ast):
        return None
    head, rest = steps[0], steps[1:]
    if head.type != "variable" or not head.value or not _plain(head):
        return None
    if any(step.type != "name" or not _plain(step) for step in rest):
        return None
    return str(head.value), tuple(str(step.value) for step in rest)


_MAP_OVER_ARRAY: Final = object()
# The attribute that marks a simple path inside a compiled AST with its ``(variable, names)``.
_SIMPLE_PATH: Final = "stepkit_simple_path"


def _mark_simple_paths(ast: Any) -> None:
    """Mark every simple path in an AST, so the evaluator walks it without the general machinery."""
    stack = [ast]
    while stack:
        node = stack.pop()
        if node.type == "path":
            simple = _simple_path(node)
            if simple is not None:
                setattr(node, _SIMPLE_PATH, simple)
        stack.extend(_children(node, _EVERY_SLOT))


def _walk(frame: Jsonata.Frame, variable: str, names: tuple[str, ...]) -> Any:
    """The value of a simple path, or :data:`_MAP_OVER_ARRAY` when it steps over an array."""
    value = frame.lookup(variable)
    for name in names:
        if isinstance(value, dict):
            member = value.get(name, _ABSENT)
            if member is _ABSENT:
                return None
            value = NULL if member is None else member
        elif isinstance(value, list):
            return _MAP_OVER_ARRAY
        else:
            return None
    return value


class Expression:
    """A compiled ``{% ... %}`` expression; immutable, safe to share between threads.

    ``source`` is the text between the delimiters, trimmed, as AWS quotes it in errors.
    """

    __slots__ = ("_ast", "_simple", "source", "text")

    def __init__(self, text: str, source: str, ast: Any) -> None:
        self.text = text
        self.source = source
        self._ast = ast
        self._simple = _simple_path(ast)

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    @property
    def syntax_tree(self) -> Any:
        """The parsed expression (jsonata-python's AST), for static analysis of what it reads."""
        return self._ast

    def evaluate(self, states: Mapping[str, Any], variables: Mapping[str, Any] | None = None) -> Any:
        """The expression's value, or :data:`UNDEFINED`.

        ``states`` is ``$states`` (``input``, ``context`` and, where they exist, ``result`` or
        ``errorOutput``); each workflow variable is ``$name``. Neither is modified.

        Raises :class:`JsonataEvaluationError` when evaluation fails.
        """
        return self._run(_Scope(states, variables), "")

    def _run(self, scope: _Scope, path: str) -> Any:
        if self._simple is not None:
            result = _walk(scope, *self._simple)
            if result is not _MAP_OVER_ARRAY:
                return UNDEFINED if result is None or is_function(result) else _to_json(result)
        runner = _runner()
        current = Jsonata.CURRENT  # where jsonata-python's functions find the evaluator
        previous = getattr(current, "jsonata", None)
        current.jsonata = runner
        runner.timestamp = int(time.time() * 1000)  # what $now() and $millis() report
        frame = Jsonata.Frame(scope)
        frame.bindings.update(_HOOKS)
        try:
            result = runner.eval(self._ast, None, frame)
        except JException as error:
            code, message = _explain(error)
            raise JsonataEvaluationError(
                self.source, JsonataEvaluationError.FAILED, code=code, message=message, path=path
            ) from error
        except Exception as error:
            raise JsonataEvaluationError(self.source, JsonataEvaluationError.INTERNAL, path=path) from error
        finally:
            if previous is not None:  # other jsonata-python users in this thread keep theirs
                current.jsonata = previous
        if result is None or is_function(result):
            return UNDEFINED
        return _to_json(result)


_NUMBER_LITERAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([Ee][-+]?[0-9]+)?")


def _syntax_error(error: Exception, source: str) -> JsonataSyntaxError:
    if isinstance(error, JException):
        if error.error == "S0102" and error.current is None:  # the library drops the literal
            literal = _NUMBER_LITERAL.match(source, max(error.location, 0))
            error.current = literal.group(0) if literal else None
        code, message = _explain(error)
        return JsonataSyntaxError(message, source=source, code=code, position=error.location)
    return JsonataSyntaxError(str(error), source=source)


# Where an expression's context is still the top level: the context AWS does not provide.
_TOP_LEVEL_SLOTS: Final = (
    "lhs",
    "rhs",
    "expressions",
    "arguments",
    "procedure",
    "condition",
    "then",
    "_else",
    "expression",
    "lhs_object",
)
# Every child, for the ``$$`` rule, which holds at any depth.
_ALL_SLOTS: Final = (*_TOP_LEVEL_SLOTS, "steps", "predicate", "stages", "group", "terms", "body", "expr")
_EVERY_SLOT: Final = (*_ALL_SLOTS, "pattern", "update", "delete")


def _children(node: Any, slots: tuple[str, ...]) -> list[Any]:
    found: list[Any] = []
    for slot in slots:
        value = getattr(node, slot, None)
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, Parser.Symbol):
                found.append(item)
            elif isinstance(item, (list, tuple)):
                stack.extend(reversed(item))
    return found


def _top_level_reference(node: Any) -> str | None:
    """The first ``$``, ``$$`` or field name an expression reads from the top-level context.

    AWS evaluates with no context item and refuses such an expression when the definition is
    created (ASL: "a JSONata expression MUST NOT reference "$" or unqualified field names at the
    top level", nor "$$" at all). Nested contexts, where a name is legitimate, are the steps of
    a path after its first, predicates, group-by and order-by clauses, function bodies and
    transforms.
    """
    kind = node.type
    if kind == "variable" and node.value == "$":
        return "$$"
    if kind in ("lambda", "transform"):
        return _nested_double_dollar(node)
    if kind == "name":
        return str(node.value)
    if kind == "variable" and node.value == "":
        return "$"
    if kind == "path":
        steps = node.steps or []
        head = _top_level_reference(steps[0]) if steps else None
        if head is not None:
            return head
        return _nested_double_dollar(node, skip_first_step=True)
    for child in _children(node, _TOP_LEVEL_SLOTS):
        found = _top_level_reference(child)
        if found is not None:
            return found
    return _nested_double_dollar(node, slots=("predicate", "stages", "group", "terms"))


def _nested_double_dollar(
    node: Any, *, skip_first_step: bool = False, slots: tuple[str, ...] = _ALL_SLOTS
) -> str | None:
    children = _children(node, slots)
    if skip_first_step and node.steps:
        children = [child for child in children if child is not node.steps[0]]
    for child in children:
        if child.type == "variable" and child.value == "$":
            return "$$"
        if _nested_double_dollar(child) is not None:
            return "$$"
    return None


@lru_cache(maxsize=8192)
def compile_expression(text: str) -> Expression:
    """Parse a ``{% ... %}`` string once; the same text returns the same :class:`Expression`.

    Raises :class:`JsonataSyntaxError` when the text is not an expression, does not parse, or
    reads the top-level context, all of which AWS refuses when the definition is created.
    """
    if not is_expression(text):
        raise JsonataSyntaxError("A JSONata expression must start with '{%' and end with '%}'", source=str(text))
    source = text[2:-2].strip()
    try:
        ast = Jsonata.get_parser().parse(source, default_regex_engine)
    except Exception as error:
        raise _syntax_error(error, source) from error
    errors = getattr(ast, "errors", None)
    if errors:
        raise _syntax_error(errors[0], source)
    reference = _top_level_reference(ast)
    if reference is not None:
        raise JsonataSyntaxError(
            f"Reference to '{reference}' at the top level is not supported.",
            source=source,
            diagnostic=JsonataSyntaxError.UNSUPPORTED,
        )
    _mark_simple_paths(ast)
    return Expression(text, source, ast)


# --- templates -------------------------------------------------------------------------------


class _Leaf:
    __slots__ = ("expression", "path")

    def __init__(self, expression: Expression, path: str) -> None:
        self.expression = expression
        self.path = path


class _Object:
    __slots__ = ("members",)

    def __init__(self, members: list[tuple[str, Any]]) -> None:
        self.members = members


class _Array:
    __slots__ = ("items",)

    def __init__(self, items: list[Any]) -> None:
        self.items = items


def _compile_node(value: Any, path: str) -> Any:
    if isinstance(value, str):
        if not is_expression(value):
            return value
        try:
            return _Leaf(compile_expression(value), path)
        except JsonataSyntaxError as error:
            raise JsonataSyntaxError(
                error.message,
                source=error.source,
                code=error.code,
                position=error.position,
                path=path,
                diagnostic=error.diagnostic,
            ) from error
    if isinstance(value, dict):
        return _Object([(key, _compile_node(item, f"{path}/{key}")) for key, item in value.items()])
    if isinstance(value, list):
        return _Array([_compile_node(item, f"{path}[{index}]") for index, item in enumerate(value)])
    return value


def _build(node: Any, scope: _Scope) -> Any:
    kind = type(node)
    if kind is _Leaf:
        value = node.expression._run(scope, node.path)
        if value is UNDEFINED:
            raise JsonataEvaluationError(node.expression.source, JsonataEvaluationError.UNDEFINED, path=node.path)
        return value
    if kind is _Object:
        return {key: _build(child, scope) for key, child in node.members}
    if kind is _Array:
        return [_build(child, scope) for child in node.items]
    return node


def _has_expressions(node: Any) -> bool:
    kind = type(node)
    if kind is _Leaf:
        return True
    if kind is _Object:
        return any(_has_expressions(child) for _, child in node.members)
    if kind is _Array:
        return any(_has_expressions(child) for child in node.items)
    return False


class Template:
    """A field value with expressions anywhere inside it (``Arguments``, ``Output``, ``Assign``,
    ``Items``, ``ItemSelector``...), compiled once.

    ``has_expressions`` is false for a plain JSON value, which evaluates to a copy of itself.
    """

    __slots__ = ("_root", "has_expressions")

    def __init__(self, root: Any) -> None:
        self._root = root
        self.has_expressions = _has_expressions(root)

    def evaluate(self, states: Mapping[str, Any], variables: Mapping[str, Any] | None = None) -> Any:
        """The value with every expression replaced by what it evaluates to.

        An expression that returns nothing fails with a :class:`JsonataEvaluationError` whose
        ``undefined`` is true and whose ``path`` says where it sits, in an object (``/key``) or
        in an array (``[index]``) alike: JSON has no undefined, and AWS fails the state rather
        than drop the member. A template that is one expression fails the same way, at path
        ``""``, so ``error.at("Output")`` names the field itself.
        """
        return _build(self._root, _Scope(states, variables))


def compile_template(value: Any) -> Template:
    """Compile a field value that may hold expressions at any depth.

    Raises :class:`JsonataSyntaxError`, with ``path`` set, for an expression that does not parse.
    """
    return Template(_compile_node(value, ""))
