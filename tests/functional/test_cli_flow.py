"""``stepkit compile MODULE:FLOW`` and ``stepkit decompile FILE`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FLOWS = Path(__file__).resolve().parents[1] / "fixtures" / "flows"
STEPKIT = [sys.executable, "-m", "stepkit.cli"]


def stepkit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*STEPKIT, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_compile_decompile_and_compile_again_give_the_same_definition(tmp_path):
    first = stepkit("compile", "three_steps:pipeline", "-o", str(tmp_path / "x.asl.json"), cwd=FLOWS)
    assert first.returncode == 0, first.stderr
    definition = json.loads((tmp_path / "x.asl.json").read_text())
    assert list(definition["States"]) == ["load", "summarise", "report"]
    assert definition["States"]["load"]["Resource"].endswith(":function:load")

    back = stepkit("decompile", "x.asl.json", "-o", "x_flow.py", cwd=tmp_path)
    assert back.returncode == 0, back.stderr
    source = (tmp_path / "x_flow.py").read_text()
    assert 'workflow.task(\n    "summarise",' in source and "flow.retry(" in source

    again = stepkit("compile", "x_flow.py:workflow", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == definition


def test_compile_refuses_what_is_not_a_workflow_and_an_invalid_one(tmp_path):
    (tmp_path / "broken.py").write_text(
        "from stepkit import flow\n"
        "workflow = flow.Workflow('A').pass_('A', next='Nowhere')\n"
        "number = 3\n"
    )
    not_flow = stepkit("compile", "broken:number", "--json", cwd=tmp_path)
    assert not_flow.returncode == 2
    assert json.loads(not_flow.stdout)["message"] == "broken:number is int, not a stepkit.flow.Workflow"
    invalid = stepkit("compile", "broken.py:workflow", "--json", cwd=tmp_path)
    assert invalid.returncode == 1
    document = json.loads(invalid.stdout)
    assert document["error"] == "InvalidDefinition" and "Nowhere" in document["message"]
    missing = stepkit("compile", "no_such_module:workflow", cwd=tmp_path)
    assert missing.returncode == 2 and "cannot import no_such_module" in missing.stderr
    assert "Traceback" not in missing.stderr + invalid.stderr + not_flow.stderr


def test_decompile_refuses_what_is_not_asl(tmp_path):
    (tmp_path / "bad.asl.json").write_text(json.dumps({"StartAt": "A", "States": {"A": {"Type": "Loop"}}}))
    result = stepkit("decompile", "bad.asl.json", "--json", cwd=tmp_path)
    assert result.returncode == 1
    assert "Type is one of" in json.loads(result.stdout)["message"]


TYPED = '''
from pydantic import BaseModel
from stepkit import flow


class Rows(BaseModel):
    count: int


class Named(BaseModel):
    name: str


@flow.task
def load(event) -> Rows:
    return Rows(count=1)


@flow.task
def greet(event: Named) -> dict:
    return {}

{body}
'''


def test_compile_reports_what_does_not_fit_a_task_with_file_and_line(tmp_path):
    (tmp_path / "typed_builder.py").write_text(TYPED.replace("{body}", (
        "workflow = flow.Workflow('load')\n"
        "workflow.step(load, next='greet')\n"
        "workflow.step(greet, end=True)\n")))
    builder = stepkit("compile", "typed_builder:workflow", "--json", cwd=tmp_path)
    assert builder.returncode == 1, builder.stderr
    document = json.loads(builder.stdout)
    assert document["error"] == "FlowTypeError"
    [finding] = document["findings"]
    assert finding["state"] == "greet" and finding["field"] == "name"
    assert finding["source"].endswith("typed_builder.py:25")

    (tmp_path / "typed_body.py").write_text(TYPED.replace("{body}", (
        "@flow.workflow\n"
        "def workflow(event):\n"
        "    rows = load(event)\n"
        "    greet(name=rows['count'])\n")))
    body = stepkit("compile", "typed_body.py:workflow", cwd=tmp_path)
    assert body.returncode == 1
    assert "typed_body.py:26: state 'greet' calls greet (Named): field 'name' is an integer, not a string" \
        in body.stderr
    assert "Traceback" not in body.stderr + builder.stderr
