"""The per-kind providers: every kind deploy builds has one provider implementing the whole
interface, every grant kind of the stack has its provider's statements, and deletion runs
in the reverse of the kinds' creation order."""

from __future__ import annotations

from pathlib import Path

import pytest

from stepkit.deploy.desired import build_desired
from stepkit.deploy.naming import Names
from stepkit.deploy.planner import destroy_plan
from stepkit.deploy.providers import GRANTS, KINDS, PROVIDERS, kind_order
from stepkit.deploy.providers.base import Provider
from stepkit.deploy.state import DeployState, Recorded
from stepkit.stack import Project
from stepkit.stack.resources import _GRANT_ACTIONS

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("kind", sorted(PROVIDERS))
def test_each_provider_implements_the_whole_interface(kind: str) -> None:
    provider = PROVIDERS[kind]
    assert provider.resource.kind == kind and KINDS[kind] is provider.resource
    for method in ("lookup", "put", "delete", "describe", "template"):
        assert getattr(provider, method) is not getattr(Provider, method), f"{kind} lacks {method}"


def test_every_grant_kind_of_the_stack_has_its_statements() -> None:
    assert set(GRANTS) == set(_GRANT_ACTIONS)


def test_the_repository_stack_builds_only_kinds_with_a_provider() -> None:
    project = Project.load(ROOT / "infra" / "stack.yaml").for_stage("dev")
    names = Names(project.name, "dev", "us-east-1", "123456789012")
    desired = build_desired(project, "dev", names, {}, compute_digests=False, deployment_bucket=True)
    kinds = {r.kind for r in desired.resources}
    assert kinds <= set(PROVIDERS)
    assert {"function", "state_machine", "bucket", "table", "topic", "subscription", "rest_api",
            "deployment_bucket", "role", "log_group"} <= kinds


def test_deletion_runs_dependents_first_for_every_kind(tmp_path: Path) -> None:
    state = DeployState(path=tmp_path / "dev.local.json", stack="s", stage="dev", target="local")
    for kind in ("topic", "function", "subscription", "rest_api", "role", "table"):
        state.resources[f"{kind}:x"] = Recorded(key=f"{kind}:x", kind=kind, name=f"s-dev-{kind}", status="done")
    order = [r.kind for r in destroy_plan(state)]
    assert order == ["subscription", "rest_api", "function", "topic", "table", "role"]
    assert kind_order("a kind another version recorded") == 0
