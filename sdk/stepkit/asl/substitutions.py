"""AWS definition substitutions: ``${Name}`` placeholders in a definition's text, replaced
before parsing (CloudFormation's ``DefinitionSubstitutions``, SAM's and CDK's too)."""

from __future__ import annotations

import re
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")


def placeholders(text: str) -> list[str]:
    """The distinct placeholder names in ``text``, in order of first appearance."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text)))


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


def function_arn_substitutions(function_names: list[str], arn_of: object) -> dict[str, str]:
    """``${TrainFunctionArn}``-style names for functions named ``train``, ``select_model``
    (CamelCase of the name + ``FunctionArn``), mapped to their ARNs."""
    out = {}
    for name in function_names:
        camel = "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\-]", name) if part)
        out[f"{camel}FunctionArn"] = arn_of(name)  # type: ignore[operator]
        out[f"{camel}FunctionName"] = name
    return out
