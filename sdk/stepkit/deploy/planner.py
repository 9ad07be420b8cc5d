"""The plan: what deploy would create, update, replace or delete, and why. Reads only.

Desired resources are compared with the deploy record of the stage and target, and each is
looked up on the target by name: a recorded resource that has disappeared is created again;
one that exists but is not recorded (a deploy killed after creating it) is taken over if it
carries this stack's tags, and refused if it does not (someone else's resource).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stepkit.deploy.aws import FOREIGN, MISSING, OURS, Api
from stepkit.deploy.desired import DesiredStack
from stepkit.deploy.errors import DeployInputError
from stepkit.deploy.providers import kind_order
from stepkit.deploy.providers.roles import Role
from stepkit.deploy.resources import Resource
from stepkit.deploy.state import DeployState, Recorded

CREATE, UPDATE, REPLACE, DELETE, UNCHANGED = "create", "update", "replace", "delete", "unchanged"


@dataclass(frozen=True)
class Change:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Action:
    op: str
    key: str
    kind: str
    name: str
    reason: str = ""
    resource: Resource | None = None
    recorded: Recorded | None = None
    changes: tuple[Change, ...] = ()
    adopt: bool = False
    """It exists on the target (an interrupted deploy made it): update instead of create."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op, "kind": self.kind, "key": self.key, "name": self.name}
        if self.reason:
            out["reason"] = self.reason
        if self.changes:
            out["changes"] = [{"field": c.field, "old": c.old, "new": c.new} for c in self.changes]
        if isinstance(self.resource, Role) and self.op != UNCHANGED:
            out["policy"] = self.resource.policy
            if self.resource.notes:
                out["notes"] = list(self.resource.notes)
        return out


@dataclass(frozen=True)
class Plan:
    stack: str
    stage: str
    target: str
    endpoint: str | None
    region: str
    account: str
    actions: list[Action]
    warnings: list[str] = field(default_factory=list)
    code_platform: str = ""
    """Where the functions' code runs (``host`` or ``lambda``): what their bundles hold."""

    @property
    def changes(self) -> list[Action]:
        return [a for a in self.actions if a.op != UNCHANGED]

    def count(self, op: str) -> int:
        return sum(1 for a in self.actions if a.op == op)

    def summary(self) -> str:
        if not self.changes:
            return f"no changes: all {len(self.actions)} resources are up to date"
        parts = [f"{self.count(op)} to {op}" for op in (CREATE, UPDATE, REPLACE, DELETE) if self.count(op)]
        return ", ".join(parts) + f", {self.count(UNCHANGED)} unchanged"

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack, "stage": self.stage, "target": self.target, "endpoint": self.endpoint,
            "region": self.region, "account": self.account, "code_platform": self.code_platform,
            "summary": self.summary(),
            "counts": {op: self.count(op) for op in (CREATE, UPDATE, REPLACE, DELETE, UNCHANGED)},
            "actions": [a.to_dict() for a in self.actions], "warnings": self.warnings,
        }


def make_plan(desired: DesiredStack, state: DeployState, api: Api, *, target: str, endpoint: str | None,
              region: str, account: str, code_platform: str = "") -> Plan:
    actions: list[Action] = []
    conflicts: list[str] = []
    for resource in desired.resources:
        recorded = state.resources.get(resource.key)
        done = recorded is not None and recorded.status == "done"
        if recorded is not None and recorded.name != resource.name:
            found = api.lookup(resource.kind, resource.name, resource)
            if found == FOREIGN:
                conflicts.append(_conflict(resource))
            actions.append(Action(REPLACE, resource.key, resource.kind, resource.name, resource=resource,
                                  recorded=recorded, reason=f"its name changes from {recorded.name}",
                                  adopt=found == OURS))
            continue
        found = api.lookup(resource.kind, resource.name, resource)
        if found == FOREIGN:
            conflicts.append(_conflict(resource))
            continue
        if done and recorded is not None:
            if found == MISSING:
                actions.append(Action(CREATE, resource.key, resource.kind, resource.name, resource=resource,
                                      recorded=recorded, reason="recorded, but missing on the target"))
            elif recorded.digest != resource.digest():
                actions.append(Action(UPDATE, resource.key, resource.kind, resource.name, resource=resource,
                                      recorded=recorded, changes=tuple(_diff(recorded.properties, resource.display())),
                                      adopt=True))
            else:
                actions.append(Action(UNCHANGED, resource.key, resource.kind, resource.name, resource=resource,
                                      recorded=recorded))
        elif found == OURS:
            actions.append(Action(UPDATE, resource.key, resource.kind, resource.name, resource=resource,
                                  recorded=recorded, adopt=True,
                                  reason="already on the target (left by an interrupted deploy): taken over"))
        else:
            actions.append(Action(CREATE, resource.key, resource.kind, resource.name, resource=resource,
                                  recorded=recorded))
    if conflicts:
        raise DeployInputError(conflicts)
    wanted = {r.key for r in desired.resources}
    leftovers = [r for k, r in state.resources.items() if k not in wanted]
    leftovers.sort(key=lambda r: -kind_order(r.kind))
    for recorded in leftovers:
        reason = "no longer in the stack" if recorded.status == "done" else "left by an interrupted deploy"
        actions.append(Action(DELETE, recorded.key, recorded.kind, recorded.name, recorded=recorded, reason=reason))
    return Plan(stack=desired.stack, stage=desired.stage, target=target, endpoint=endpoint, region=region,
                account=account, actions=actions, warnings=list(desired.warnings), code_platform=code_platform)


def destroy_plan(state: DeployState) -> list[Recorded]:
    """Everything recorded, in the order to delete it (dependents first)."""
    recorded = list(state.resources.values())
    recorded.sort(key=lambda r: -kind_order(r.kind))
    return recorded


def _conflict(resource: Resource) -> str:
    return (f"{resource.kind.replace('_', ' ')} {resource.name} already exists on the target and was not created "
            f"by this stack and stage (it lacks the stepkit:stack/stepkit:stage tags); stepkit will not touch it: "
            f"rename the resource in infra/stack.yaml, choose another stack `name:`, or remove it yourself")


def _diff(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    changes = []
    for key in sorted({*old, *new}):
        if old.get(key) != new.get(key):
            if isinstance(old.get(key), dict) and isinstance(new.get(key), dict) and key != "policy":
                for sub in sorted({*old[key], *new[key]}):
                    if old[key].get(sub) != new[key].get(sub):
                        changes.append(Change(f"{key}.{sub}", old[key].get(sub), new[key].get(sub)))
            else:
                changes.append(Change(key, old.get(key), new.get(key)))
    return changes
