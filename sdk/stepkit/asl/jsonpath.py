"""JSONPath as Step Functions evaluates it.

AWS evaluates paths with the Java Jayway JsonPath library (Jackson provider, default
options). This module reproduces its observable behaviour:

* **Definite** paths (only single properties and single indexes, plus Jayway's
  leaf multi-property "merge" ``$['a','b']``) yield one value or raise
  :class:`PathNotFoundError` carrying Jayway's message, which AWS puts verbatim into
  ``States.Runtime`` causes, e.g. ``No results for path: $['x']`` (the last key is
  missing) or ``Missing property in path $['x']`` (an intermediate key is missing).
* **Indefinite** paths (wildcards, slices, index unions, ``..``, filters) yield the list
  of matches in Jayway's order; a path that matches nothing yields ``[]``.
* Jayway functions such as ``.length()`` are not available on AWS: AWS looks them up
  as a property named ``length()``, so they never match. They are parsed that way here.
* Bracket names are taken literally (``$['a\\"b']`` names the key ``a\\"b``), as AWS does.

Plain paths (``$``, ``$.a.b``, ``$.a[0].b``, ``$['a b']``) are evaluated by a tight
hand-written loop; everything else goes through a walker that mirrors Jayway's token
semantics, with filter predicates (``[?(...)]``) compiled and evaluated by
``jsonpath_ng.ext``.

Values in messages are printed the way AWS's Java runtime does (:mod:`stepkit.asl.java_json`).
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable, Mapping
from typing import Any, cast

from stepkit.asl.java_json import java_class_name, java_to_string

__all__ = [
    "CompiledPath",
    "JSONPathSyntaxError",
    "PathNotFoundError",
    "compile_path",
    "is_valid_path",
]

#: The JsonProvider class Jayway names in its "not a json object" message. AWS parses
#: documents with Jackson (objects print as ``{k=v}`` in ``States.Format``).
_JSON_PROVIDER = "com.jayway.jsonpath.spi.json.JacksonJsonProvider"


class JSONPathSyntaxError(ValueError):
    """The text is not a JSONPath that Step Functions accepts."""


class PathNotFoundError(Exception):
    """A definite path did not match; ``detail`` is Jayway's message for why."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


# --------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------


class _Token(abc.ABC):
    """One step of a path, mirroring a Jayway ``PathToken``."""

    __slots__ = ()
    definite = True

    @abc.abstractmethod
    def fragment(self) -> str:
        """How Jayway prints this token in a path (``['a']``, ``[0]``, ``[*]``...)."""


class _Property(_Token):
    __slots__ = ("definite", "leaf", "names")

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.leaf = False  # fixed once the whole path is known
        self.definite = len(names) == 1

    def fragment(self) -> str:
        return "[" + ",".join(f"'{n}'" for n in self.names) + "]"


class _Index(_Token):
    __slots__ = ("definite", "indexes")

    def __init__(self, indexes: tuple[int, ...]) -> None:
        self.indexes = indexes
        self.definite = len(indexes) == 1

    def fragment(self) -> str:
        return "[" + ",".join(map(str, self.indexes)) + "]"


class _Slice(_Token):
    __slots__ = ("start", "stop")
    definite = False

    def __init__(self, start: int | None, stop: int | None) -> None:
        self.start = start
        self.stop = stop

    def fragment(self) -> str:
        return f"[{'' if self.start is None else self.start}:{'' if self.stop is None else self.stop}]"

    def indexes(self, length: int) -> range:
        """The indexes Jayway visits (``ArraySliceToken``; no Python-style clamping)."""
        if length == 0:
            return range(0)
        if self.stop is None:  # [from:]
            assert self.start is not None
            start = self.start + length if self.start < 0 else self.start
            return range(max(0, start), length)
        if self.start is None:  # [:to]
            stop = self.stop + length if self.stop < 0 else self.stop
            return range(0, min(length, stop))
        return range(self.start, min(length, self.stop))  # [from:to]


class _Wildcard(_Token):
    __slots__ = ()
    definite = False

    def fragment(self) -> str:
        return "[*]"


class _Scan(_Token):
    __slots__ = ()
    definite = False

    def fragment(self) -> str:
        return ".."


class _Filter(_Token):
    """``[?(<expr>)]``; the expression is compiled and evaluated by jsonpath_ng.ext."""

    __slots__ = ("_datum", "expressions", "text")
    definite = False

    def __init__(self, text: str) -> None:
        from jsonpath_ng import DatumInContext

        self.text = text
        self.expressions = _compile_filter(text)
        self._datum = DatumInContext

    def fragment(self) -> str:
        return "[?]"

    def accepts(self, candidate: Any, root: Any) -> bool:
        """Whether the predicate holds with ``@`` = ``candidate`` and ``$`` = ``root``."""
        datum = self._datum(candidate, context=self._datum(root))
        try:
            return all(expression.find(datum) for expression in self.expressions)
        except Exception:  # Jayway treats a predicate that cannot be evaluated as false
            return False


def _compile_filter(text: str) -> list[Any]:
    from jsonpath_ng import Child, Root
    from jsonpath_ng.ext import parse
    from jsonpath_ng.ext.filter import Filter

    try:
        parsed = parse("$" + text)
    except Exception as exc:  # the lexer and parser raise several unrelated types
        raise JSONPathSyntaxError(f"Invalid filter expression {text}: {exc}") from None
    if not (isinstance(parsed, Child) and isinstance(parsed.left, Root) and isinstance(parsed.right, Filter)):
        raise JSONPathSyntaxError(f"Invalid filter expression {text}")
    return list(parsed.right.expressions)


# --------------------------------------------------------------------------------------
# Parser (follows Jayway's PathCompiler)
# --------------------------------------------------------------------------------------

_WHITESPACE = " \t\r\n"


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    return pos


def _parse(text: str) -> list[_Token]:
    path = text.strip(_WHITESPACE)
    if not path or path[0] != "$":
        raise JSONPathSyntaxError(f"Path must start with '$': {text!r}")
    if path.endswith("."):
        raise JSONPathSyntaxError(f"Path must not end with a '.' or '..': {text!r}")
    tokens: list[_Token] = []
    pos = 1
    if pos < len(path) and path[pos] not in ".[":
        raise JSONPathSyntaxError(f"Illegal character at position {pos} expected '.' or '[': {text!r}")
    while pos < len(path):
        char = path[pos]
        if char == "[":
            pos = _parse_bracket(path, pos, tokens)
        elif char == ".":
            if path.startswith("..", pos):
                tokens.append(_Scan())
                pos += 2
            else:
                pos += 1
            if path[pos] == ".":
                raise JSONPathSyntaxError(f"Character '.' on position {pos} is not valid: {text!r}")
            if path[pos] == "[":
                continue
            if path[pos] == "*":
                tokens.append(_Wildcard())
                pos += 1
            else:
                pos = _parse_dot_property(path, pos, tokens)
        else:
            raise JSONPathSyntaxError(f"Could not parse token starting at position {pos}: {text!r}")
        if pos < len(path) and path[pos] not in ".[":
            raise JSONPathSyntaxError(f"Illegal character at position {pos} expected '.' or '[': {text!r}")
    for i, token in enumerate(tokens):
        if isinstance(token, _Property):
            token.leaf = i == len(tokens) - 1
            # Jayway merges several properties into one object when they end the path.
            token.definite = len(token.names) == 1 or token.leaf
    return tokens


def _parse_dot_property(path: str, pos: int, tokens: list[_Token]) -> int:
    end = pos
    while end < len(path) and path[end] not in ".[":
        if path[end] == " ":
            raise JSONPathSyntaxError(
                f"Use bracket notion ['my prop'] if your property contains blank characters. position: {pos}: {path!r}"
            )
        end += 1
    tokens.append(_Property((path[pos:end],)))
    return end


def _parse_bracket(path: str, pos: int, tokens: list[_Token]) -> int:
    inner = _skip_ws(path, pos + 1)
    if inner >= len(path):
        raise JSONPathSyntaxError(f"Unclosed '[' at position {pos}: {path!r}")
    char = path[inner]
    if char in "'\"":
        return _parse_bracket_properties(path, pos, inner, tokens)
    if char == "?":
        return _parse_filter(path, pos, inner, tokens)
    if char == "*":
        close = _skip_ws(path, inner + 1)
        if close >= len(path) or path[close] != "]":
            raise JSONPathSyntaxError(f"Expected wildcard token to end with ']' on position {inner + 1}: {path!r}")
        tokens.append(_Wildcard())
        return close + 1
    if char.isdigit() or char in "-:":
        return _parse_array_operation(path, pos, tokens)
    raise JSONPathSyntaxError(f"Could not parse token starting at position {pos}. Expected ?, ', 0-9, * : {path!r}")


def _parse_bracket_properties(path: str, pos: int, inner: int, tokens: list[_Token]) -> int:
    quote = path[inner]
    names: list[str] = []
    read = inner
    while True:
        # read is at an opening quote
        start = read + 1
        read = start
        escaped = False
        while read < len(path):
            if escaped:
                escaped = False
            elif path[read] == "\\":
                escaped = True
            elif path[read] == quote:
                break
            read += 1
        else:
            raise JSONPathSyntaxError(f"Property has not been closed - missing closing {quote}: {path!r}")
        # AWS takes the name literally: backslashes only stop a quote from closing it.
        names.append(path[start:read])
        read = _skip_ws(path, read + 1)
        if read < len(path) and path[read] == "]":
            tokens.append(_Property(tuple(names)))
            return read + 1
        if read < len(path) and path[read] == ",":
            read = _skip_ws(path, read + 1)
            if read < len(path) and path[read] == quote:
                continue
            raise JSONPathSyntaxError(f"Found empty property at index {read}: {path!r}")
        raise JSONPathSyntaxError(
            "Property must be separated by comma or Property must be terminated close square "
            f"bracket at index {read}: {path!r}"
        )


def _parse_array_operation(path: str, pos: int, tokens: list[_Token]) -> int:
    close = path.find("]", pos)
    if close == -1:
        raise JSONPathSyntaxError(f"Unclosed '[' at position {pos}: {path!r}")
    expression = path[pos + 1 : close].strip()
    if any(c not in "0123456789,-: " for c in expression):
        raise JSONPathSyntaxError(f"Could not parse token starting at position {pos}: {path!r}")
    if ":" in expression:
        # Java's String.split drops trailing empty parts, and a third part (a step) is
        # ignored by Jayway.
        parts = expression.split(":")
        while parts and parts[-1] == "":
            parts.pop()
        start = _parse_int(parts[0], expression) if parts and parts[0] != "" else None
        stop = _parse_int(parts[1], expression) if len(parts) > 1 and parts[1] != "" else None
        if start is None and stop is None:
            raise JSONPathSyntaxError(f"Failed to parse SliceOperation: {expression}")
        tokens.append(_Slice(start, stop))
    else:
        indexes = tuple(_parse_int(part.strip(), expression) for part in expression.split(","))
        tokens.append(_Index(indexes))
    return close + 1


def _parse_int(text: str, expression: str) -> int:
    body = text[1:] if text.startswith("-") else text
    if not body.isdigit():
        raise JSONPathSyntaxError(f"Failed to parse array operation: {expression}")
    return int(text)


def _parse_filter(path: str, pos: int, question: int, tokens: list[_Token]) -> int:
    open_paren = _skip_ws(path, question + 1)
    if open_paren >= len(path) or path[open_paren] != "(":
        raise JSONPathSyntaxError(f"Expected '(' after '[?' at position {question}: {path!r}")
    close_paren = _closing_paren(path, open_paren)
    close = _skip_ws(path, close_paren + 1)
    if close >= len(path) or path[close] != "]":
        raise JSONPathSyntaxError(f"Expected ']' to close the filter at position {close}: {path!r}")
    tokens.append(_Filter(f"[?{path[open_paren : close_paren + 1]}]"))
    return close + 1


def _closing_paren(path: str, open_paren: int) -> int:
    """Index of the ``)`` matching ``path[open_paren]``, skipping strings and regexes."""
    depth = 0
    i = open_paren
    while i < len(path):
        char = path[i]
        if char in "'\"/":
            i += 1
            while i < len(path) and path[i] != char:
                i += 2 if path[i] == "\\" else 1
            if i >= len(path):
                break
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise JSONPathSyntaxError(f"Filter starting at position {open_paren} is not closed: {path!r}")


# --------------------------------------------------------------------------------------
# The Jayway walker (used for indefinite paths and to explain definite-path misses)
# --------------------------------------------------------------------------------------


def _path_string(tokens: list[_Token]) -> str:
    return "$" + "".join(token.fragment() for token in tokens)


class _Walker:
    """Evaluates tokens against a document the way Jayway's ``PathToken``s do."""

    __slots__ = ("results", "root", "tokens", "upstream_definite")

    def __init__(self, tokens: list[_Token], upstream_definite: list[bool], root: Any) -> None:
        self.tokens = tokens
        self.upstream_definite = upstream_definite
        self.root = root
        self.results: list[Any] = []

    def emit(self, i: int, path: str, value: Any) -> None:
        if i == len(self.tokens) - 1:
            self.results.append(value)
        else:
            self.step(i + 1, path, value)

    def step(self, i: int, path: str, model: Any) -> None:
        token = self.tokens[i]
        if isinstance(token, _Property):
            self._property(i, token, path, model)
        elif isinstance(token, _Index | _Slice):
            if not self._check_array(i, token, path, model):
                return
            indexes = token.indexes if isinstance(token, _Index) else token.indexes(len(model))
            for index in indexes:
                self._array_index(i, index, path, model)
        elif isinstance(token, _Wildcard):
            if isinstance(model, Mapping):
                for key, value in model.items():
                    self.emit(i, f"{path}['{key}']", value)
            elif isinstance(model, list):
                for index, value in enumerate(model):
                    self.emit(i, f"{path}[{index}]", value)
        elif isinstance(token, _Filter):
            self._filter(i, token, path, model)
        else:
            self._walk(i, self._scan_predicate(i), path, model)

    def _property(self, i: int, token: _Property, path: str, model: Any) -> None:
        if not isinstance(model, Mapping):
            if self.upstream_definite[i]:
                raise PathNotFoundError(
                    f"Expected to find an object with property {token.fragment()} in path {path} "
                    f"but found '{java_class_name(model)}'. This is not a json object according "
                    f"to the JsonProvider: '{_JSON_PROVIDER}'."
                )
            return
        if len(token.names) > 1 and token.leaf:
            merged = {name: model[name] for name in token.names if name in model}
            self.results.append(merged)
            return
        for name in token.names:
            if name in model:
                self.emit(i, f"{path}['{name}']", model[name])
            elif not token.leaf and self.upstream_definite[i] and token.definite:
                raise PathNotFoundError(f"Missing property in path {path}['{name}']")

    def _check_array(self, i: int, token: _Token, path: str, model: Any) -> bool:
        if isinstance(model, list):
            return True
        if self.upstream_definite[i]:
            if model is None:
                raise PathNotFoundError(f"The path {path} is null")
            rest = "".join(t.fragment() for t in self.tokens[i:])
            raise PathNotFoundError(
                f"Filter: {rest} can only be applied to arrays. Current context is: {java_to_string(model)}"
            )
        return False

    def _array_index(self, i: int, index: int, path: str, model: list[Any]) -> None:
        effective = index + len(model) if index < 0 else index
        if 0 <= effective < len(model):
            self.emit(i, f"{path}[{index}]", model[effective])

    def _filter(self, i: int, token: _Filter, path: str, model: Any) -> None:
        if isinstance(model, Mapping):
            if token.accepts(model, self.root):
                self.emit(i, path, model)
        elif isinstance(model, list):
            for index, item in enumerate(model):
                if token.accepts(item, self.root):
                    self.emit(i, f"{path}[{index}]", item)
        elif self.upstream_definite[i]:
            raise PathNotFoundError(
                f"Filter: {token.fragment()} can not be applied to primitives. "
                f"Current context is: {java_to_string(model)}"
            )

    def _scan_predicate(self, i: int) -> Callable[[Any], bool]:
        target = self.tokens[i + 1]
        if isinstance(target, _Property):
            if not target.definite:
                return lambda model: isinstance(model, Mapping)
            names = target.names
            return lambda model: isinstance(model, Mapping) and all(name in model for name in names)
        if isinstance(target, _Index | _Slice):
            return lambda model: isinstance(model, list)
        if isinstance(target, _Wildcard):
            return lambda model: True
        if isinstance(target, _Filter):
            return lambda model: target.accepts(model, self.root)
        return lambda model: False

    def _walk(self, i: int, predicate: Callable[[Any], bool], path: str, model: Any) -> None:
        """Jayway's ``ScanPathToken.walk``: pre-order, the node itself before its children."""
        target = i + 1
        if isinstance(model, Mapping):
            if predicate(model):
                self.step(target, path, model)
            for key, value in model.items():
                self._walk(i, predicate, f"{path}['{key}']", value)
        elif isinstance(model, list):
            if predicate(model):
                if target == len(self.tokens) - 1:
                    self.step(target, path, model)
                else:
                    # Jayway hands every element to the token after the target here.
                    for index, value in enumerate(model):
                        self.step(target + 1, f"{path}[{index}]", value)
            for index, value in enumerate(model):
                self._walk(i, predicate, f"{path}[{index}]", value)


# --------------------------------------------------------------------------------------
# Compiled paths
# --------------------------------------------------------------------------------------


class CompiledPath:
    """A parsed JSONPath; :meth:`evaluate` is specialised for the shape of the path."""

    __slots__ = ("_plain", "_segments", "_string", "_tokens", "_upstream", "evaluate", "is_definite", "text")

    text: str
    is_definite: bool
    #: ``evaluate(data)``: the value (definite path) or the list of matches (indefinite).
    evaluate: Callable[[Any], Any]

    def __init__(self, text: str) -> None:
        self.text = text
        self._tokens = _parse(text)
        self._string = _path_string(self._tokens)
        upstream = []
        definite_so_far = True
        for token in self._tokens:
            upstream.append(definite_so_far)
            definite_so_far = definite_so_far and token.definite
        self._upstream = upstream
        self.is_definite = definite_so_far
        plain = all(
            (isinstance(t, _Property) and len(t.names) == 1) or (isinstance(t, _Index) and t.definite)
            for t in self._tokens
        )
        self._segments: tuple[str | int, ...] = ()
        self._plain = plain
        if not plain:
            self.evaluate = self._evaluate_definite if self.is_definite else self._evaluate_indefinite
            return
        self._segments = tuple(
            t.names[0] if isinstance(t, _Property) else cast(_Index, t).indexes[0] for t in self._tokens
        )
        if not self._segments:
            self.evaluate = _identity
        elif len(self._segments) == 1 and isinstance(self._segments[0], str):
            self.evaluate = self._evaluate_one_key
        elif all(isinstance(s, str) for s in self._segments):
            self.evaluate = self._evaluate_keys
        else:
            self.evaluate = self._evaluate_plain

    def __repr__(self) -> str:
        return f"CompiledPath({self.text!r})"

    @property
    def segments(self) -> tuple[str | int, ...] | None:
        """The single names and indexes of a path that names one node, ``None`` otherwise.

        ``None`` for paths with ``..``, ``*``, filters, slices or lists of names or indexes.
        """
        return self._segments if self._plain else None

    # -- fast paths for plain definite paths --------------------------------------------

    def _evaluate_one_key(self, data: Any) -> Any:
        try:
            return data[self._segments[0]]
        except (KeyError, TypeError, IndexError):
            raise self._explain_miss(data) from None

    def _evaluate_keys(self, data: Any) -> Any:
        current = data
        try:
            for key in self._segments:
                current = current[key]
        except (KeyError, TypeError, IndexError):
            raise self._explain_miss(data) from None
        return current

    def _evaluate_plain(self, data: Any) -> Any:
        current = data
        try:
            for segment in self._segments:
                # An int must only index a list: Python would also index strings.
                if segment.__class__ is int and current.__class__ is not list:
                    raise TypeError
                current = current[segment]
        except (KeyError, TypeError, IndexError):
            raise self._explain_miss(data) from None
        return current

    def _explain_miss(self, data: Any) -> PathNotFoundError:
        """Jayway's message for why this definite path does not match ``data``."""
        try:
            self._evaluate_definite(data)
        except PathNotFoundError as exc:
            return exc
        # Only reachable for non-JSON containers that index differently from JSON ones.
        return PathNotFoundError(f"No results for path: {self._string}")

    # -- the general walker ---------------------------------------------------------------

    def _evaluate_definite(self, data: Any) -> Any:
        walker = _Walker(self._tokens, self._upstream, data)
        if not self._tokens:
            return data
        walker.step(0, "$", data)
        if not walker.results:
            raise PathNotFoundError(f"No results for path: {self._string}")
        return walker.results[0]

    def _evaluate_indefinite(self, data: Any) -> list[Any]:
        walker = _Walker(self._tokens, self._upstream, data)
        try:
            walker.step(0, "$", data)
        except PathNotFoundError:
            # AWS answers [] when an indefinite path's definite prefix is missing.
            return []
        return walker.results


def _identity(data: Any) -> Any:
    return data


@functools.lru_cache(maxsize=4096)
def compile_path(text: str) -> CompiledPath:
    """Parse ``text`` (which starts with ``$``) once; raise :class:`JSONPathSyntaxError`."""
    return CompiledPath(text)


def is_valid_path(text: str) -> bool:
    """Whether ``text`` is a JSONPath Step Functions would accept."""
    try:
        compile_path(text)
    except JSONPathSyntaxError:
        return False
    return True
