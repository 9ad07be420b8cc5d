"""Python workflows where a definition file goes: ``stepkit run MODULE:FLOW``, a stack's
``flow:`` state machine run by name, deployed to a local endpoint (its tasks bundled as
functions), and refused before anything is touched when its data does not fit its tasks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from stepkit.cli import main
from stepkit.endpoint import LocalEndpoint

THREE_STEPS = Path(__file__).resolve().parents[1] / "fixtures" / "flows" / "three_steps.py"
STACK = """name: flowy
functions:
  double:
    timeout: 10
state_machines:
  stats:
    flow: pipelines.three_steps:pipeline
  plain:
    definition: statemachines/plain.asl.json
"""
DOUBLE = "def handler(event, context):\n    return {'values': [2 * v for v in event['values']]}\n"
PLAIN = {"StartAt": "Double", "States": {"Double": {"Type": "Task", "Resource": "${DoubleFunctionArn}",
                                                    "End": True}}}


def stepkit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stepkit.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "flowy"
    for folder in ("infra", "pipelines", "statemachines", "functions/double"):
        (root / folder).mkdir(parents=True)
    (root / "infra" / "stack.yaml").write_text(STACK)
    shutil.copyfile(THREE_STEPS, root / "pipelines" / "three_steps.py")
    (root / "pipelines" / "__init__.py").write_text("")
    (root / "statemachines" / "plain.asl.json").write_text(json.dumps(PLAIN))
    (root / "functions" / "double" / "app.py").write_text(DOUBLE)
    return root


def test_run_module_flow_without_a_stack(tmp_path):
    shutil.copyfile(THREE_STEPS, tmp_path / "three_steps.py")
    by_module = stepkit("run", "three_steps:pipeline", "--input", '{"values": [1, 2, 3]}', "--json", cwd=tmp_path)
    assert by_module.returncode == 0, by_module.stderr
    result = json.loads(by_module.stdout)
    assert result["status"] == "SUCCEEDED" and result["output"] == "3 rows, mean 2.00"
    by_path = stepkit("run", "./three_steps.py:pipeline", "--input", '{"values": [4]}', "--json", cwd=tmp_path)
    assert by_path.returncode == 0, by_path.stderr
    assert json.loads(by_path.stdout)["output"] == "1 rows, mean 4.00"


def test_run_a_flow_of_the_stack_by_name_and_a_module_flow_beside_the_stack_functions(project):
    by_name = stepkit("run", "stats", "--input", '{"values": [1, 3]}', "--json", cwd=project)
    assert by_name.returncode == 0, by_name.stderr
    assert json.loads(by_name.stdout)["output"] == "2 rows, mean 2.00"
    compiled = json.loads((project / ".stepkit" / "build" / "flows" / "stats.asl.json").read_text())
    assert compiled["States"]["load"]["Resource"] == "${LoadFunctionArn}"
    plain = stepkit("run", "plain", "--input", '{"values": [1]}', "--json", cwd=project)
    assert json.loads(plain.stdout)["output"] == {"values": [2]}, plain.stderr


def test_the_repository_pipeline_runs_from_python_in_place_of_the_stack_state_machine():
    repo = Path(__file__).resolve().parents[2]
    done = stepkit("run", "pipelines.training:training", "--input", "{}", "--json", cwd=repo)
    result = json.loads(done.stdout)
    # the stack's training (its ${ModelName} substitution too), compiled from pipelines/training.py
    assert result["executionArn"].split(":")[-2] == "stepkit-ml-dev-training", done.stderr
    assert (result["status"], result["error"]) == ("FAILED", "InvalidInput")


def test_a_flow_whose_data_does_not_fit_is_refused_before_running(tmp_path):
    source = THREE_STEPS.read_text().replace("def report(stats: Stats)", "def report(stats: Rows)")
    (tmp_path / "bad_flow.py").write_text(source)
    done = stepkit("run", "bad_flow:pipeline", "--json", cwd=tmp_path)
    assert done.returncode == 1
    assert "state 'report' calls report (Rows): field 'rows' is required but missing (the input has count, mean)" \
        in json.loads(done.stdout)["message"]
    assert "Traceback" not in done.stderr
    missing = stepkit("run", "no_such_module:pipeline", cwd=tmp_path)
    assert missing.returncode == 2
    assert "flow no_such_module:pipeline: cannot import no_such_module: ModuleNotFoundError" in missing.stderr


@pytest.fixture
def endpoint(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalEndpoint]:
    monkeypatch.chdir(project)
    with LocalEndpoint() as ep:
        monkeypatch.setenv("STEPKIT_ENDPOINT_URL", ep.url)
        for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                            "AWS_DEFAULT_REGION": "us-east-1"}.items():
            monkeypatch.setenv(name, value)
        for name in ("AWS_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "STEPKIT_TARGET", "STEPKIT_STAGE"):
            monkeypatch.delenv(name, raising=False)
        yield ep


def test_deploy_compiles_the_flow_and_creates_its_tasks_as_functions(endpoint: LocalEndpoint, project: Path):
    result = CliRunner().invoke(main, ["deploy"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    lam, sfn = endpoint.client("lambda"), endpoint.client("stepfunctions")
    functions = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
    assert {"flowy-dev-load", "flowy-dev-summarise", "flowy-dev-report", "flowy-dev-double"} <= set(functions)
    assert functions["flowy-dev-load"]["MemorySize"] == 256 and functions["flowy-dev-load"]["Timeout"] == 30
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:flowy-dev-stats"
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=machine)["definition"])
    assert definition["States"]["load"]["Resource"] == functions["flowy-dev-load"]["FunctionArn"]
    started = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"values": [2, 4]}))
    deadline = time.monotonic() + 120
    while (described := sfn.describe_execution(executionArn=started["executionArn"]))["status"] == "RUNNING" \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == "2 rows, mean 3.00"
    again = CliRunner().invoke(main, ["deploy"])
    assert again.exit_code == 0 and "nothing changed" in again.output, again.output
    destroyed = CliRunner().invoke(main, ["destroy", "--yes"])
    assert destroyed.exit_code == 0, destroyed.output


def test_deploy_refuses_a_flow_that_does_not_import_or_fit(endpoint: LocalEndpoint, project: Path):
    stack = project / "infra" / "stack.yaml"
    stack.write_text(STACK.replace("pipelines.three_steps:pipeline", "pipelines.nowhere:pipeline"))
    missing = CliRunner().invoke(main, ["deploy", "--json"])
    assert missing.exit_code == 2, missing.output
    assert "flow pipelines.nowhere:pipeline: cannot import pipelines.nowhere: ModuleNotFoundError" in missing.output
    stack.write_text(STACK)
    module = project / "pipelines" / "three_steps.py"
    module.write_text(module.read_text().replace("def report(stats: Stats)", "def report(stats: Rows)"))
    unfit = CliRunner().invoke(main, ["deploy", "--json"])
    assert unfit.exit_code == 2, unfit.output
    assert "state 'report' calls report (Rows): field 'rows' is required but missing" in unfit.output
    assert endpoint.client("lambda").list_functions()["Functions"] == []
