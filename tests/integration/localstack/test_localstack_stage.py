"""The ``localstack`` stage of the repository's stack, and ``enabled: false``, which it uses.

LocalStack 4.9.2 rejects ``batch_inference.asl.json`` (its parser has no ``ItemBatcher``), so
the stack's ``localstack`` stage leaves that state machine out and deploys everything else
as ``dev`` does. No LocalStack is needed here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stepkit.deploy.desired import build_desired
from stepkit.deploy.naming import Names
from stepkit.stack import Project, StackError, parse_stack

REPO = Path(__file__).resolve().parents[3]


def _kinds(stage: str) -> dict[str, list[str]]:
    project = Project.load(REPO / "infra" / "stack.yaml").for_stage(stage)
    names = Names("stepkit-ml", stage, "us-east-1", "000000000000")
    found: dict[str, list[str]] = {}
    for resource in build_desired(project, stage, names, compute_digests=False, code_platform="host").resources:
        found.setdefault(resource.kind, []).append(resource.logical)
    return found


def test_the_localstack_stage_leaves_out_batch_inference_and_the_router_table_and_changes_nothing_else() -> None:
    project = Project.load(REPO / "infra" / "stack.yaml")
    assert [m.name for m in project.for_stage("localstack").state_machines()] == ["training"]
    assert [m.name for m in project.for_stage("dev").state_machines()] == ["training", "rollout", "batch_inference"]
    assert [m.name for m in project.for_stage("prod").state_machines()] == ["training", "rollout", "batch_inference"]
    left_out = {"serving", "rollout", "predict"}  # what needs the router table (DynamoDB Local: a download)
    dev_functions = project.for_stage("dev").stack.functions
    assert project.for_stage("localstack").stack.functions == {
        name: fn for name, fn in dev_functions.items() if name not in left_out}
    assert project.for_stage("localstack").stack.tables == {}
    dev, localstack = _kinds("dev"), _kinds("localstack")
    assert localstack["state_machine"] == ["training"]
    assert localstack["event_rule"] == ["training-s3-0", "training-schedule-1"]
    assert "table" not in localstack and "api" not in localstack

    def kept(logical: str) -> bool:
        return not any(part in logical for part in ("batch_inference", "rollout", "serving", "predict", "router"))

    without = {kind: [n for n in names if kept(n)] for kind, names in dev.items()}
    assert localstack == {kind: names for kind, names in without.items() if names}


def test_enabled_false_in_the_base_a_stage_turns_it_back_on() -> None:
    text = (
        "state_machines:\n  a: {definition: a.json}\n  b: {definition: b.json, enabled: false}\n"
        "stages:\n  dev: {}\n  full:\n    state_machines:\n      b: {enabled: true}\n"
    )
    stack = parse_stack(text)
    assert list(stack.for_stage("dev").state_machines) == ["a"]
    assert list(stack.for_stage("full").state_machines) == ["a", "b"]
    assert list(parse_stack(text.split("stages:")[0]).for_stage("dev").state_machines) == ["a"]


def test_a_grant_to_a_disabled_state_machine_is_reported_where_it_is_disabled() -> None:
    text = (
        "functions:\n  f:\n    access:\n      - {state_machine: b}\n"
        "state_machines:\n  b: {definition: b.json}\n"
        "stages:\n  dev: {}\n  lite:\n    state_machines:\n      b: {enabled: false}\n"
    )
    with pytest.raises(StackError) as caught:
        parse_stack(text, "infra/stack.yaml")
    assert str(caught.value) == (
        "infra/stack.yaml:11: stages.lite.state_machines.b.enabled: state machine 'b' is disabled, but "
        "functions.f is granted access to it (access.0); remove the grant or keep the state machine"
    )


def test_a_grant_to_a_disabled_table_is_reported_unless_the_grantee_is_disabled_too() -> None:
    base = (
        "functions:\n  f:\n    access:\n      - {table: t, actions: [read]}\n  g: {}\n"
        "tables:\n  t: {partition_key: {name: pk, type: S}}\n"
        "stages:\n  dev: {}\n  lite:\n    tables:\n      t: {enabled: false}\n"
    )
    with pytest.raises(StackError) as caught:
        parse_stack(base, "infra/stack.yaml")
    assert "table 't' is disabled, but functions.f is granted access to it (access.0)" in str(caught.value)
    stack = parse_stack(base + "    functions:\n      f: {enabled: false}\n")
    lite = stack.for_stage("lite")
    assert list(lite.functions) == ["g"] and lite.tables == {} and lite.disabled_functions == {"f"}
    assert list(stack.for_stage("dev").functions) == ["f", "g"] and list(stack.for_stage("dev").tables) == ["t"]


def test_a_disabled_function_is_not_found_again_in_its_folder(tmp_path: Path) -> None:
    (tmp_path / "functions" / "f").mkdir(parents=True)
    (tmp_path / "functions" / "g").mkdir(parents=True)
    (tmp_path / "stack.yaml").write_text("functions:\n  f: {}\n  g: {}\nstages:\n  dev: {}\n  lite:\n"
                                         "    functions:\n      f: {enabled: false}\n")
    project = Project.load(tmp_path / "stack.yaml")
    assert [fn.name for fn in project.for_stage("lite").functions()] == ["g"]
    assert [fn.name for fn in project.for_stage("dev").functions()] == ["f", "g"]
