"""Diagnostics of a state machine definition, in AWS ValidateStateMachineDefinition's terms.

The vocabulary shared by :mod:`stepkit.asl.validation` (which finds the problems) and its
callers (the CLI, the deployer, the endpoint's CreateStateMachine and
ValidateStateMachineDefinition): severities, AWS's diagnostic codes, one
:class:`Diagnostic` per problem, and CreateStateMachine's ``InvalidDefinition`` wording.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "DUPLICATE_STATE_NAME",
    "ERROR",
    "INVALID_JSONATA_EXPRESSION",
    "INVALID_JSON_DESCRIPTION",
    "INVALID_STATE_NAME",
    "MISSING_END_STATE",
    "MISSING_TRANSITION_TARGET",
    "NO_DOLLAR",
    "NO_PATH",
    "PASS_RESULT_IS_STATIC",
    "SCHEMA_VALIDATION_FAILED",
    "UNRESOLVED_PLACEHOLDER",
    "WARNING",
    "Diagnostic",
    "has_errors",
    "invalid_definition_message",
]

ERROR = "ERROR"
WARNING = "WARNING"

# AWS ValidateStateMachineDefinition diagnostic codes.
INVALID_JSON_DESCRIPTION = "INVALID_JSON_DESCRIPTION"
SCHEMA_VALIDATION_FAILED = "SCHEMA_VALIDATION_FAILED"
MISSING_END_STATE = "MISSING_END_STATE"
DUPLICATE_STATE_NAME = "DUPLICATE_STATE_NAME"
INVALID_STATE_NAME = "INVALID_STATE_NAME"
MISSING_TRANSITION_TARGET = "MISSING_TRANSITION_TARGET"
INVALID_JSONATA_EXPRESSION = "INVALID_JSONATA_EXPRESSION"
NO_DOLLAR = "NO_DOLLAR"
NO_PATH = "NO_PATH"
PASS_RESULT_IS_STATIC = "PASS_RESULT_IS_STATIC"
#: stepkit's own: a ``${Name}`` definition-substitution placeholder left without a value.
UNRESOLVED_PLACEHOLDER = "UNRESOLVED_PLACEHOLDER"


@dataclass(frozen=True)
class Diagnostic:
    """One problem: ``severity`` is "ERROR" or "WARNING"; ``location`` is empty where AWS
    gives none (a workflow without a terminal state, a definition that is no JSON object)."""

    severity: str
    code: str
    message: str
    location: str

    def to_dict(self) -> dict[str, str]:
        """The shape of one entry of ValidateStateMachineDefinition's ``diagnostics``."""
        out = {"severity": self.severity, "code": self.code, "message": self.message}
        if self.location:
            out["location"] = self.location
        return out


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    """True when a definition with these diagnostics cannot be created."""
    return any(d.severity == ERROR for d in diagnostics)


def invalid_definition_message(diagnostics: Iterable[Diagnostic]) -> str:
    """CreateStateMachine's ``InvalidDefinition`` message for these diagnostics' errors.

    AWS joins the errors with ", " inside one pair of quotes, each as ``CODE: message at
    location`` ("at null" when there is no location), e.g. ``Invalid State Machine
    Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3 at
    /States/pass1/Next, MISSING_TRANSITION_TARGET: State "pass2" is not reachable. at
    /States/pass2'``. A JSON syntax error's message already ends with its position.
    """
    parts = []
    for d in diagnostics:
        if d.severity != ERROR:
            continue
        if d.code == INVALID_JSON_DESCRIPTION:
            parts.append(f"{d.code}: {d.message}")
        else:
            parts.append(f"{d.code}: {d.message} at {d.location or 'null'}")
    return "Invalid State Machine Definition: '" + ", ".join(parts) + "'"
