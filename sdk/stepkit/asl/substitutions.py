"""AWS definition substitutions: ``${Name}`` placeholders in a definition's text, replaced
before parsing (CloudFormation's ``DefinitionSubstitutions``, SAM's and CDK's too).

The one grammar of a placeholder: ``${`` a name of letters, digits and ``_ . : -`` ``}``
(``${TrainFunctionArn}``, ``${env:TOKEN}``). Substitution, validation and the definition
model all find placeholders with :data:`PLACEHOLDER`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")


def placeholders(text: str) -> list[str]:
    """The distinct placeholder names in ``text``, in order of first appearance."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text)))


def has_placeholder(value: Any) -> bool:
    """True for a string holding a placeholder."""
    return isinstance(value, str) and PLACEHOLDER.search(value) is not None


class UnresolvedSubstitution(KeyError):
    def __init__(self, names: list[str]) -> None:
        super().__init__(names)
        self.names = names

    def __str__(self) -> str:
        return "no value for the definition substitution(s): " + ", ".join(f"${{{n}}}" for n in self.names)


def substitute(text: str, values: Mapping[str, str]) -> str:
    """``text`` with every ``${Name}`` replaced; raises UnresolvedSubstitution naming each
    placeholder that has no value (all of them at once)."""
    missing = [name for name in placeholders(text) if name not in values]
    if missing:
        raise UnresolvedSubstitution(missing)
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)


def substitute_known(text: str, values: Mapping[str, str]) -> str:
    """``text`` with the placeholders that have a value replaced, the others left in place."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def quote_bare_placeholders(text: str) -> str:
    """Put placeholders that stand outside JSON strings (``"MaxConcurrency": ${N}``) in
    quotes, so that a definition whose numbers come from substitutions still parses."""
    out: list[str] = []
    in_string = escaped = False
    position = 0
    while position < len(text):
        char = text[position]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "$":
            placeholder = PLACEHOLDER.match(text, position)
            if placeholder is not None:
                out.append(json.dumps(placeholder.group(0)))
                position = placeholder.end()
                continue
        out.append(char)
        position += 1
    return "".join(out)
