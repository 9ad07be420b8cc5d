"""Carries out a plan: one API step per action, each recorded as it happens. Acts only;
every decision was made by the planner.

Creates and updates run in dependency order, deletions after them in the reverse order. A
resource is recorded ``pending`` before it is created, so a deploy killed at any point
leaves a record that the next deploy (or destroy) completes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from stepkit.deploy.aws import Api
from stepkit.deploy.errors import DeployError
from stepkit.deploy.planner import CREATE, DELETE, REPLACE, UNCHANGED, UPDATE, Action, Plan
from stepkit.deploy.state import DeployState, Recorded

#: ``(op, kind, name, phase)`` with phase "start" or "done"; what the CLI shows as progress.
Progress = Callable[[str, str, str, str], None]


@dataclass
class Outcome:
    done: list[Action] = field(default_factory=list)
    failed: Action | None = None
    error: str | None = None


def _describe_error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', str(exc))}"
    return str(exc)


def apply_plan(plan: Plan, state: DeployState, api: Api, progress: Progress | None = None) -> Outcome:
    outcome = Outcome()
    state.endpoint, state.region, state.account = plan.endpoint, plan.region, plan.account
    state.save()
    steps = [a for a in plan.actions if a.op in (CREATE, UPDATE, REPLACE)]
    steps += [a for a in plan.actions if a.op == DELETE]
    for action in steps:
        if progress:
            progress(action.op, action.kind, action.name, "start")
        try:
            _apply(action, state, api)
        except (ClientError, BotoCoreError, RuntimeError, OSError) as exc:
            outcome.failed, outcome.error = action, _describe_error(exc)
            raise DeployError(f"{action.op} {action.kind.replace('_', ' ')} {action.name} failed: "
                              f"{outcome.error}", done=len(outcome.done)) from exc
        outcome.done.append(action)
        if progress:
            progress(action.op, action.kind, action.name, "done")
    for action in plan.actions:
        if action.op == UNCHANGED and action.resource is not None and action.recorded is not None:
            # Keep the record's printable properties current (a format change is not an update).
            action.recorded.properties = action.resource.display()
    state.save()
    return outcome


def _apply(action: Action, state: DeployState, api: Api) -> None:
    if action.op == DELETE:
        assert action.recorded is not None
        api.delete(action.recorded)
        state.forget(action.key)
        return
    resource = action.resource
    assert resource is not None
    if action.op == REPLACE and action.recorded is not None:
        api.delete(action.recorded)
        state.forget(action.key)
    state.pending(resource.key, resource.kind, resource.name)
    outputs = api.update(resource, action.recorded) if action.op == UPDATE or action.adopt else api.create(resource)
    state.done(resource.key, resource.kind, resource.name, resource.digest(), resource.display(), outputs)


def destroy_all(recorded: list[Recorded], state: DeployState, api: Api, progress: Progress | None = None,
                *, delete_data: bool = False) -> list[Recorded]:
    deleted: list[Recorded] = []
    for rec in recorded:
        if progress:
            progress(DELETE, rec.kind, rec.name, "start")
        try:
            api.delete(rec, with_data=delete_data)
        except (ClientError, BotoCoreError, RuntimeError) as exc:
            raise DeployError(f"delete {rec.kind.replace('_', ' ')} {rec.name} failed: {_describe_error(exc)}",
                              done=len(deleted)) from exc
        state.forget(rec.key)
        deleted.append(rec)
        if progress:
            progress(DELETE, rec.kind, rec.name, "done")
    state.remove_if_empty()
    return deleted
