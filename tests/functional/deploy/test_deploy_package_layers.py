"""stepkit package: a stack's layers become LayerVersions that its functions list; a function's
bundle holds only its own code."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from local_project import LAYERED_PROJECT, write_files

from stepkit.cli import main


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_files(tmp_path, LAYERED_PROJECT)
    return tmp_path


def test_a_layer_is_a_layer_version_the_function_lists(project: Path) -> None:
    out = project / "out"
    result = CliRunner().invoke(main, ["package", "--format", "cloudformation", "--out", str(out),
                                       "--stack", str(project / "infra" / "stack.yaml")])
    assert result.exit_code == 0, result.output + repr(result.exception)
    template = json.loads((out / "template.json").read_text())
    layer = template["Resources"]["LayerShared"]
    assert layer["Type"] == "AWS::Lambda::LayerVersion"
    assert layer["Properties"]["LayerName"] == "lay-dev-shared"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert template["Resources"]["FunctionScore"]["Properties"]["Layers"] == [{"Ref": "LayerShared"}]
    zips = sorted(p.name for p in (out / "code").iterdir())
    assert [z.split("-")[0] for z in zips] == ["layer", "score"]
    with zipfile.ZipFile(out / "code" / zips[0]) as archive:
        assert sorted(archive.namelist()) == ["python/shared/__init__.py", "python/shared/maths.py"]
    with zipfile.ZipFile(out / "code" / zips[1]) as archive:
        assert archive.namelist() == ["app.py"]  # the layer's code is not copied into the function
    linter = Path(sys.executable).parent / "cfn-lint"
    if not linter.exists() and shutil.which("cfn-lint") is None:
        pytest.skip("cfn-lint is not installed")
    lint = subprocess.run([str(linter if linter.exists() else shutil.which("cfn-lint")), str(out / "template.json")],
                          capture_output=True, text=True, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_a_functions_bundle_holds_only_its_own_code(project: Path) -> None:
    """Its layers are layer versions of their own on every target, not files of its zip."""
    result = CliRunner().invoke(main, ["build", "--stack", str(project / "infra" / "stack.yaml"),
                                       "--out", str(project / "build"), "--platform", "host"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    with zipfile.ZipFile(project / "build" / "score.zip") as archive:
        names = set(archive.namelist())
    assert "app.py" in names and not any(name.startswith("shared/") for name in names)
