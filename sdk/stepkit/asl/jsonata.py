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

from stepkit.asl.jsonata_errors import JsonataEvaluationError, JsonataSyntaxError, explain
from stepkit.asl.jsonata_functions import (
    NULL,
    array_with_nulls,
    is_function,
    js_string,
    step_functions_bindings,
    with_nulls,
)

__all__ = [
    "UNDEFINED",
    "CompiledTemplate",
    "Expression",
    "JsonataEvaluationError",
    "JsonataSyntaxError",
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


# --- the evaluator ---------------------------------------------------------------------------


class _Runner(Jsonata):
    """The jsonata-python evaluator, with JSONata 2.0.6's semantics restored.

    jsonata-python keeps per-evaluation state on the instance that evaluates (it finds it in
    ``Jsonata.CURRENT``), so each evaluation makes one (about a microsecond); expressions
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
        return (js_string(lhs) or "" if lhs is not None else "") + (js_string(rhs) or "" if rhs is not None else "")

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


_FUNCTIONS = Jsonata.Frame(Jsonata.static_frame)
for _name, _value in step_functions_bindings().items():
    _FUNCTIONS.bind(_name, _value)

# jsonata-python looks these two hooks up for every node it evaluates, walking the frame chain
# to the library's root each time; binding them to nothing stops the walk at once.
_HOOKS: Final = {"__evaluate_entry": None, "__evaluate_exit": None}
_ABSENT: Final = object()


class _Bindings(Jsonata.Frame):
    """The bindings one evaluation sees: ``$states``, the workflow variables, the functions.

    A variable is converted when an expression first reads it and kept for the rest of the
    scope, which a template shares among all its expressions. ``$states`` is bound as it is:
    what an expression reads from it is converted by :meth:`_Runner.evaluate_name`. ``$states``
    wins over a variable of the same name. ``now`` (seconds since the epoch) is the time
    ``$now()`` and ``$millis()`` report.
    """

    def __init__(self, states: Mapping[str, Any], variables: Mapping[str, Any] | None, now: float | None) -> None:
        self.bindings: dict[str, Any] = dict(_HOOKS)
        # What $now() and $millis() report, in milliseconds: the caller's clock (an
        # execution's, which a virtual clock moves), else real time; one value per evaluation.
        self.now_ms = int((time.time() if now is None else now) * 1000)
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

    def evaluate(
        self, states: Mapping[str, Any], variables: Mapping[str, Any] | None = None, *, now: float | None = None
    ) -> Any:
        """The expression's value, or :data:`UNDEFINED`.

        ``states`` is ``$states`` (``input``, ``context`` and, where they exist, ``result`` or
        ``errorOutput``); each workflow variable is ``$name``. Neither is modified. ``now``
        (seconds since the epoch; default: real time) is what ``$now()`` and ``$millis()`` report.

        Raises :class:`JsonataEvaluationError` when evaluation fails.
        """
        return self._run(_Bindings(states, variables, now), "")

    def _run(self, scope: _Bindings, path: str) -> Any:
        if self._simple is not None:
            result = _walk(scope, *self._simple)
            if result is not _MAP_OVER_ARRAY:
                return UNDEFINED if result is None or is_function(result) else _to_json(result)
        runner = _Runner()  # cheap (no parsing); holds this evaluation's state only
        current = Jsonata.CURRENT  # where jsonata-python's functions find the evaluator
        previous = getattr(current, "jsonata", None)
        current.jsonata = runner
        runner.timestamp = scope.now_ms
        frame = Jsonata.Frame(scope)
        frame.bindings.update(_HOOKS)
        try:
            result = runner.eval(self._ast, None, frame)
        except JException as error:
            code, message = explain(error)
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
        code, message = explain(error)
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


def _build(node: Any, scope: _Bindings) -> Any:
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


class CompiledTemplate:
    """A field value with expressions anywhere inside it (``Arguments``, ``Output``, ``Assign``,
    ``Items``, ``ItemSelector``...), compiled once.

    ``has_expressions`` is false for a plain JSON value, which evaluates to a copy of itself.
    """

    __slots__ = ("_root", "has_expressions")

    def __init__(self, root: Any) -> None:
        self._root = root
        self.has_expressions = _has_expressions(root)

    def evaluate(
        self, states: Mapping[str, Any], variables: Mapping[str, Any] | None = None, *, now: float | None = None
    ) -> Any:
        """The value with every expression replaced by what it evaluates to (``now`` as in
        :meth:`Expression.evaluate`: one time for all its expressions).

        An expression that returns nothing fails with a :class:`JsonataEvaluationError` whose
        ``undefined`` is true and whose ``path`` says where it sits, in an object (``/key``) or
        in an array (``[index]``) alike: JSON has no undefined, and AWS fails the state rather
        than drop the member. A template that is one expression fails the same way, at path
        ``""``, so ``error.at("Output")`` names the field itself.
        """
        return _build(self._root, _Bindings(states, variables, now))


def compile_template(value: Any) -> CompiledTemplate:
    """Compile a field value that may hold expressions at any depth.

    Raises :class:`JsonataSyntaxError`, with ``path`` set, for an expression that does not parse.
    """
    return CompiledTemplate(_compile_node(value, ""))
