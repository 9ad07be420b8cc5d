"""References in JSONPath-mode fields: ``$...`` (state input), ``$$...`` (context object)
and ``$name...`` (a workflow variable), compiled once per definition."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from stepkit.asl.jsonpath import CompiledPath, PathNotFoundError, compile_path

_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)(.*)", re.S)


class VariableNotFoundError(PathNotFoundError):
    """A ``$name`` reference to a variable that has not been assigned."""


class Reference:
    """One path reference, resolved against the input, the context object or a variable."""

    __slots__ = ("path", "text", "variable")

    def __init__(self, text: str) -> None:
        self.text = text
        self.variable: str | None = None
        if text.startswith("$$"):
            self.variable = "$$"
            self.path: CompiledPath = compile_path("$" + text[2:])
        elif (m := _VARIABLE.fullmatch(text)) is not None:
            self.variable = m.group(1)
            self.path = compile_path("$" + m.group(2))
        else:
            self.path = compile_path(text)

    @property
    def is_context(self) -> bool:
        return self.variable == "$$"

    def resolve(self, data: Any, context: Any, variables: Mapping[str, Any] | None) -> Any:
        """The referenced value; raises PathNotFoundError when nothing is there."""
        name = self.variable
        if name is None:
            return self.path.evaluate(data)
        if name == "$$":
            return self.path.evaluate(context)
        if variables is None or name not in variables:
            raise VariableNotFoundError(f"Undefined variable: ${name}")
        return self.path.evaluate(variables[name])


_CACHE: dict[str, Reference] = {}


def compile_reference(text: str) -> Reference:
    """Compile (once) a reference path; raises JSONPathSyntaxError for bad syntax."""
    ref = _CACHE.get(text)
    if ref is None:
        ref = _CACHE[text] = Reference(text)
    return ref
