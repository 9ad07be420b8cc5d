"""A stack's ``flow:`` state machines: the settings, and what with_flows makes of a project."""

import json
import re
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from stepkit.deploy.cloudformation import build_template
from stepkit.deploy.service import load_project
from stepkit.flow.stack import FlowError, with_flows
from stepkit.stack.project import Project
from stepkit.stack.resources import StateMachineSettings

THREE_STEPS = Path(__file__).resolve().parents[2] / "fixtures" / "flows" / "three_steps.py"


def make_project(root: Path, stack: str) -> Project:
    (root / "infra").mkdir(parents=True)
    (root / "infra" / "stack.yaml").write_text(stack)
    (root / "flows").mkdir()
    shutil.copyfile(THREE_STEPS, root / "flows" / "three_steps.py")
    return Project.load(root / "infra" / "stack.yaml")


@pytest.mark.parametrize(("fields", "message"), [
    ({}, "not neither"),
    ({"definition": "x.asl.json", "flow": "a:b"}, "not both"),
    ({"flow": "no-colon"}, "flow is module:name"),
])
def test_a_state_machine_has_a_definition_or_a_flow(fields, message):
    with pytest.raises(ValidationError, match=message):
        StateMachineSettings(**fields)
    assert StateMachineSettings(flow="pipelines/training.py:training").flow == "pipelines/training.py:training"


def test_with_flows_compiles_the_definition_and_adds_the_tasks_as_functions(tmp_path):
    project = make_project(tmp_path, "name: p\nstate_machines:\n  stats: {flow: flows/three_steps.py:pipeline}\n")
    compiled = with_flows(project)
    load = compiled.function("load")
    settings = load.settings
    assert (settings.memory_size, settings.timeout, settings.handler) == (256, 30, "stepkit_task.handler")
    assert (load.code_dir / "stepkit" / "flow" / "handler.py").is_file()
    assert "pydantic==" in (load.code_dir / "requirements.txt").read_text()
    [machine] = compiled.state_machines()
    definition = json.loads(machine.definition_path.read_text())
    assert [s["Resource"] for s in definition["States"].values()] == [
        "${LoadFunctionArn}", "${SummariseFunctionArn}", "${ReportFunctionArn}"]


def test_the_cloudformation_template_has_the_tasks_functions(tmp_path, monkeypatch):
    make_project(tmp_path, "name: p\nstate_machines:\n  stats: {flow: flows/three_steps.py:pipeline}\n")
    monkeypatch.chdir(tmp_path)
    _, staged = load_project(None, "dev")
    template, functions = build_template(staged, "dev")
    assert {f.logical for f in functions} == {"load", "summarise", "report"}
    resources = json.dumps(template["Resources"])
    assert "p-dev-summarise" in resources and "p-dev-stats" in resources


def test_a_task_named_as_a_function_of_the_stack_or_a_stage_changing_the_flow_is_refused(tmp_path):
    clash = make_project(tmp_path / "a", "name: p\nfunctions:\n  load: {}\nstate_machines:\n"
                                         "  stats: {flow: flows/three_steps.py:pipeline}\n")
    with pytest.raises(FlowError, match=re.escape("task 'load' of flows/three_steps.py:pipeline has the name")):
        with_flows(clash)
    staged = make_project(tmp_path / "b", "name: p\nstate_machines:\n  stats: {flow: flows/three_steps.py:pipeline}\n"
                                          "stages:\n  prod:\n    state_machines:\n      stats: {flow: x:y}\n")
    with pytest.raises(FlowError, match=re.escape("stages.prod.state_machines.stats: a stage cannot change")):
        with_flows(staged)
    missing = make_project(tmp_path / "c", "name: p\nstate_machines:\n  stats: {flow: flows/three_steps.py:nope}\n")
    with pytest.raises(FlowError, match=re.escape("flows/three_steps.py:nope is nothing, not a stepkit.flow.Workflow")):
        with_flows(missing)
