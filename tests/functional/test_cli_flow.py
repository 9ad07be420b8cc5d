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
