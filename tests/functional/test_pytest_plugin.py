"""The pytest plugin as a user gets it: ``stepkit init``, then the project's own pytest in a
subprocess (the plugin comes from the ``pytest11`` entry point, no conftest). Run in a
subprocess also because its fixtures reset moto, whose state is process-wide, and this suite
keeps endpoints of its own alive across tests."""

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

from stepkit.templates import create_project

ISOLATION = '''\
import pytest


@pytest.mark.parametrize("round", [1, 2])
def test_each_test_has_an_empty_endpoint_of_its_own(stepkit_endpoint, round):
    s3 = stepkit_endpoint.client("s3")
    assert s3.list_buckets()["Buckets"] == []       # not the bucket of round 1
    s3.create_bucket(Bucket="left-behind")
    sfn = stepkit_endpoint.client("stepfunctions")
    assert sfn.list_state_machines()["stateMachines"] == []
    assert stepkit_endpoint.url.startswith("http://127.0.0.1:")


def test_the_stack_as_deployed(stepkit_stack, stepkit_endpoint):
    assert stepkit_stack.function_name("greet") == "demo-dev-greet"
    assert stepkit_stack.values["GreetFunctionArn"].endswith(":function:demo-dev-greet")
    names = [f["FunctionName"] for f in stepkit_endpoint.client("lambda").list_functions()["Functions"]]
    assert names == ["demo-dev-greet"]
    result = stepkit_stack.execute("hello", {"name": "Lin"})
    assert result["status"] == "SUCCEEDED" and result["output"] == '{"message":"Hello, Lin!"}'
'''


def pytest_in(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=project, capture_output=True, text=True, env=env, timeout=600, check=False)


def test_the_plugin_is_registered_for_pytest():
    plugins = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    assert plugins.get("stepkit") == "stepkit.testing.pytest_plugin", (
        "stepkit's pytest11 entry point is missing: reinstall stepkit (pip install -e .)")


def test_the_scaffold_tests_pass_with_the_plugins_fixtures(tmp_path: Path):
    project = tmp_path / "demo"
    create_project(project, name="demo")
    (project / "tests" / "test_isolation.py").write_text(ISOLATION)
    done = pytest_in(project, "tests")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "7 passed" in done.stdout
    listed = pytest_in(project, "--fixtures", "tests/test_hello.py")
    for fixture in ("stepkit_endpoint", "stepkit_stack", "stepkit_run", "stepkit_project"):
        assert fixture in listed.stdout


def test_the_plugin_imports_nothing_until_a_fixture_is_used():
    probe = ("import sys, stepkit.testing.pytest_plugin; "
             "print(sorted(m for m in sys.modules if m.startswith(('stepkit.', 'moto', 'boto3', 'werkzeug'))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['stepkit.testing', 'stepkit.testing.pytest_plugin']"
