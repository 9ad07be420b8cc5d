"""``stepkit build`` and ``stepkit invoke`` on a small project, through the real CLI."""

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from stepkit.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "functions"


def _wheel(folder: Path) -> Path:
    wheel = folder / "tinydep-1.0-py3-none-any.whl"
    info = "tinydep-1.0.dist-info"
    files = {
        "tinydep/__init__.py": "VERSION = '1.0'\n",
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: tinydep\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{name},,\n" for name in [*files, f"{info}/RECORD"])
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "infra").mkdir()
    shutil.copytree(FIXTURES / "echo", tmp_path / "functions" / "echo")
    shutil.copytree(FIXTURES / "faults", tmp_path / "functions" / "faults")
    (tmp_path / "functions" / "echo" / "requirements.txt").write_text(f"{_wheel(tmp_path)}\n")
    (tmp_path / "infra" / "stack.yaml").write_text(
        "functions:\n  echo:\n    environment: {GREETING: hi}\n  faults:\n    handler: app.raise_error\n"
    )
    monkeypatch.chdir(tmp_path / "functions")  # the project is found from a subfolder
    return tmp_path


def test_build_vendors_dependencies_and_skips_unchanged(project: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["build"])
    assert first.exit_code == 0, first.output
    assert "echo" in first.stdout and "faults" in first.stdout and "built" in first.stdout
    with zipfile.ZipFile(project / ".stepkit" / "build" / "echo.zip") as archive:
        assert {"app.py", "requirements.txt", "tinydep/__init__.py"} <= set(archive.namelist())
    again = runner.invoke(main, ["build", "echo"])
    assert again.exit_code == 0 and "unchanged" in again.stdout and "faults" not in again.stdout


def test_build_unknown_function_is_a_usage_error(project: Path) -> None:
    result = CliRunner().invoke(main, ["build", "nope"])
    assert result.exit_code == 2 and "unknown function nope" in result.output


def test_invoke_prints_result_and_log(project: Path) -> None:
    result = CliRunner().invoke(main, ["invoke", "echo", "--event", '{"rows": 2}'])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["event"] == {"rows": 2}
    assert "START RequestId:" in result.stderr and "REPORT RequestId:" in result.stderr


def test_invoke_json_and_event_file(project: Path) -> None:
    (project / "event.json").write_text('{"x": 5}')
    result = CliRunner().invoke(main, ["invoke", "faults", "--event", f"@{project / 'event.json'}", "--json"])
    assert result.exit_code == 1  # the function failed
    document = json.loads(result.stdout)
    assert document["StatusCode"] == 200 and document["FunctionError"] == "Unhandled"
    payload = document["Payload"]
    assert payload["errorType"] == "ValueError" and payload["errorMessage"] == "bad input: 5"
    assert "[ERROR] ValueError: bad input: 5" in document["Logs"]


def test_invoke_bad_input_exits_2(project: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["invoke", "nope"]).exit_code == 2
    bad_event = runner.invoke(main, ["invoke", "echo", "--event", "{oops"])
    assert bad_event.exit_code == 2 and "invalid JSON" in bad_event.output
    (project / "infra" / "stack.yaml").write_text("functions:\n  echo:\n    memory_size: huge\n")
    bad_stack = runner.invoke(main, ["invoke", "echo"])
    assert bad_stack.exit_code == 2 and "stack.yaml:3: functions.echo.memory_size" in bad_stack.output


def test_help_everywhere() -> None:
    for command in (["build", "--help"], ["invoke", "--help"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 0 and "Usage:" in result.output
