"""JSONata's errors as AWS words them: a syntax error in a definition, an evaluation that
fails or returns nothing, and the JSONata code and message jsonata-js would have written for
an error jsonata-python raises (:func:`explain`)."""

from __future__ import annotations

import re
from typing import Any, Final

from jsonata.jexception import JException

from stepkit.asl.jsonata_functions import js_stringify


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


def explain(error: JException) -> tuple[str | None, str]:
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
