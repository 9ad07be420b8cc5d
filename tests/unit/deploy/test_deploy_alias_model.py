"""A state machine's `alias:` in the stack: what it accepts, and the resource deploy derives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stepkit.deploy.desired import build_desired
from stepkit.deploy.naming import Names
from stepkit.deploy.providers.state_machines import StateMachineAlias, StateMachineResource
from stepkit.stack import Project, StackError, parse_stack

NAMES = Names("flows", "dev", "us-east-1", "123456789012")


def _problem(alias: str) -> str:
    with pytest.raises(StackError) as caught:
        parse_stack(f"state_machines:\n  m:\n    definition: m.asl.json\n    alias: {alias}\n", "infra/stack.yaml")
    return str(caught.value).splitlines()[0]


def test_alias_settings_are_checked_at_their_line() -> None:
    assert _problem("{name: '123'}").startswith("infra/stack.yaml:4: state_machines.m.alias.name:")
    assert "not digits only" in _problem("{name: '123'}")
    assert "greater than or equal to 1" in _problem("{name: live, canary_percentage: 0}")
    assert "less than or equal to 99" in _problem("{name: live, canary_percentage: 100}")
    assert _problem("{name: live, weight: 5}") == "infra/stack.yaml:4: state_machines.m.alias.weight: unknown field"


def test_the_alias_follows_its_state_machine(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "m.asl.json").write_text(json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass",
                                                                                     "End": True}}}))
    (tmp_path / "infra" / "stack.yaml").write_text(
        "name: flows\nstate_machines:\n  m:\n    definition: m.asl.json\n"
        "    access:\n      - {bucket: b, actions: [read]}\n"
        "    alias: {name: live, canary_percentage: 25}\nbuckets:\n  b: {}\n")
    desired = build_desired(Project.load(tmp_path / "infra" / "stack.yaml"), "dev", NAMES)
    machine = next(r for r in desired.resources if isinstance(r, StateMachineResource))
    alias = next(r for r in desired.resources if isinstance(r, StateMachineAlias))
    assert (alias.key, alias.name, alias.alias) == ("state_machine_alias:m", "flows-dev-m:live", "live")
    assert alias.depends_on == ("state_machine:m",)
    assert alias.revision == machine.digest() and alias.canary_percentage == 25
