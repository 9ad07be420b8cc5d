"""stepkit package (a CloudFormation template that passes cfn-lint) and stepkit init (a new
project that runs, tests and deploys as it is)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from stepkit.cli import main


def run(*args: str, expect: int = 0):
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == expect, result.output + repr(result.exception)
    return result


def _cfn_lint(template: Path) -> subprocess.CompletedProcess[str]:
    linter = str(Path(sys.executable).parent / "cfn-lint")
    if not Path(linter).exists():
        linter = shutil.which("cfn-lint") or linter
    if not Path(linter).exists():
        pytest.skip("cfn-lint is not installed (pip install -e '.[dev]')")
    return subprocess.run([linter, str(template)], capture_output=True, text=True, check=False)


def test_package_writes_a_template_that_passes_cfn_lint(pipeline: Path) -> None:
    out = pipeline / "out"
    run("package", "--format", "cloudformation", "--out", str(out), "--stage", "prod")
    template = json.loads((out / "template.json").read_text())
    resources = template["Resources"]
    assert resources["FunctionTrain"]["Properties"]["MemorySize"] == 2048  # the prod stage's override
    assert resources["FunctionTrain"]["Properties"]["FunctionName"] == "pipe-prod-train"
    machine = resources["StateMachineTraining"]["Properties"]
    assert "function:pipe-prod-train" in machine["DefinitionString"]["Fn::Sub"]
    bucket = resources["BucketData"]["Properties"]["NotificationConfiguration"]
    assert bucket["EventBridgeConfiguration"] == {"EventBridgeEnabled": True}
    assert resources["EventRuleTrainingS30"]["Properties"]["EventPattern"]["detail"]["object"] == {
        "key": [{"prefix": "training/"}]}
    # The secret is a NoEcho parameter, never a value in the template.
    assert template["Parameters"]["SecretPipeApiToken"]["NoEcho"] is True
    assert "tok-not-for-logs-4711" not in (out / "template.json").read_text()
    zips = sorted(p.name for p in (out / "code").iterdir())
    assert [z.split("-")[0] for z in zips] == ["ingest", "train", "worker"]
    with zipfile.ZipFile(out / "code" / zips[1]) as archive:
        assert archive.namelist() == ["app.py"]
    lint = _cfn_lint(out / "template.json")
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_package_reports_bad_input(pipeline: Path) -> None:
    (pipeline / "statemachines" / "training.asl.json").write_text("{")
    result = run("package", expect=2)
    assert "training.asl.json: invalid definition" in result.output


def test_init_creates_a_project_that_runs_and_deploys(endpoint, aws, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "My_Project"
    result = run("init", str(project))
    assert "infra/stack.yaml" in result.stdout
    assert (project / "functions" / "greet" / "app.py").is_file()
    assert "name: my-project" in (project / "infra" / "stack.yaml").read_text()
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                           cwd=project, capture_output=True, text=True, check=False)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    monkeypatch.chdir(project)
    plan = json.loads(run("plan", "--json").stdout)
    assert plan["counts"]["create"] > 0
    run("deploy")
    found = aws.inventory()
    assert found["functions"] == ["my-project-dev-greet"] and found["state_machines"] == ["my-project-dev-hello"]
    assert found["rules"] == ["my-project-dev-hello-s3-0"]
    run("destroy", "--yes")
    assert all(not v for v in aws.inventory().values())
    again = run("init", str(project), expect=2)
    assert "is not empty" in again.output
    lint = _cfn_lint(Path(json.loads(run("package", "--json").stdout)["template"]))
    assert lint.returncode == 0, lint.stdout
