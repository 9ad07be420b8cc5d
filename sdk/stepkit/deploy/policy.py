"""An IAM policy document being built: the statements every kind's provider adds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

VERSION = "2012-10-17"


@dataclass
class PolicyBuilder:
    """Statements keyed by their actions, so grants on many resources merge into one."""

    statements: dict[tuple[str, ...], set[str]] = field(default_factory=dict)
    conditions: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def allow(self, actions: list[str] | tuple[str, ...], resources: list[str] | tuple[str, ...] | str,
              condition: dict[str, Any] | None = None) -> None:
        key = tuple(sorted(set(actions)))
        if condition is not None:
            key = (*key, f"#condition{len(self.conditions)}")
            self.conditions[key] = condition
        resources = [resources] if isinstance(resources, str) else resources
        self.statements.setdefault(key, set()).update(resources)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def document(self) -> dict[str, Any]:
        statements = []
        for key in sorted(self.statements):
            actions = [a for a in key if not a.startswith("#")]
            resources = sorted(self.statements[key])
            if "*" in resources:
                resources = ["*"]
            statement: dict[str, Any] = {
                "Effect": "Allow",
                "Action": actions if len(actions) > 1 else actions[0],
                "Resource": resources if len(resources) > 1 else resources[0],
            }
            if key in self.conditions:
                statement["Condition"] = self.conditions[key]
            statements.append(statement)
        return {"Version": VERSION, "Statement": statements}


def trust_policy(service: str) -> dict[str, Any]:
    return {
        "Version": VERSION,
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
