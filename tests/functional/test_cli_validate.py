"""``stepkit validate FILE [--json]`` through the real command group."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from stepkit.asl.validation import validate_definition
from stepkit.cli import main

VALID = {
    "StartAt": "Train",
    "States": {
        "Train": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:train",
            "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}],
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}
INVALID = {
    "StartAt": "Train",
    "States": {
        "Train": {"Type": "Pass", "Next": "Evaluate"},
        "Report": {"Type": "Bogus", "End": True},
    },
}


def write(tmp_path: Path, content: Any, name: str = "definition.asl.json") -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def run(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(main, ["validate", *args], input=stdin)


def test_the_command_is_discovered_by_the_group() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0 and "validate" in result.output


def test_a_valid_definition_exits_0(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    result = run(str(path))
    assert result.exit_code == 0, result.output
    assert result.output == f"{path}: valid (0 warnings)\n"


def test_an_invalid_definition_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, INVALID)
    result = run(str(path))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "ERROR SCHEMA_VALIDATION_FAILED at /States/Report/Type: The field 'Type' should have one of "
        "these values: [Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map]",
        "ERROR MISSING_TRANSITION_TARGET at /States/Train/Next: Missing 'Next' target: Evaluate",
        'ERROR MISSING_TRANSITION_TARGET at /States/Report: State "Report" is not reachable.',
        f"{path}: invalid (3 errors, 0 warnings)",
    ]


def test_a_problem_without_location_is_printed_without_at(tmp_path: Path) -> None:
    path = write(tmp_path, {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A"}}})
    result = run(str(path))
    assert result.exit_code == 1
    assert "ERROR MISSING_END_STATE: Workflow has no terminal state" in result.output.splitlines()


def test_json_output_is_the_list_of_diagnostics(tmp_path: Path) -> None:
    path = write(tmp_path, INVALID)
    result = run(str(path), "--json")
    assert result.exit_code == 1
    printed = json.loads(result.output)
    assert printed == [d.to_dict() for d in validate_definition(json.dumps(INVALID))]
    assert printed[1] == {
        "severity": "ERROR",
        "code": "MISSING_TRANSITION_TARGET",
        "message": "Missing 'Next' target: Evaluate",
        "location": "/States/Train/Next",
    }
    valid = run(str(write(tmp_path, VALID, "ok.json")), "--json")
    assert valid.exit_code == 0 and json.loads(valid.output) == []


def test_warnings_alone_keep_exit_0(tmp_path: Path) -> None:
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"x": "$.a"}, "End": True}}}
    result = run(str(write(tmp_path, definition)))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("WARNING NO_DOLLAR at /States/P/Parameters/x: ")
    assert lines[-1].endswith("valid (1 warning)")


def test_bad_json_is_an_invalid_definition_not_an_unreadable_file(tmp_path: Path) -> None:
    result = run(str(write(tmp_path, '{"StartAt": ')), "--json")
    assert result.exit_code == 1
    [diagnostic] = json.loads(result.output)
    assert diagnostic["code"] == "INVALID_JSON_DESCRIPTION"


def test_express_rules_with_type(tmp_path: Path) -> None:
    definition = json.loads(json.dumps(VALID))
    definition["States"]["Train"]["Resource"] = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
    path = str(write(tmp_path, definition))
    assert run(path).exit_code == 0
    result = run(path, "--type", "EXPRESS", "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)[0]["location"] == "/States/Train/Resource"


def test_substitution_placeholders(tmp_path: Path) -> None:
    text = (
        json.dumps(VALID)
        .replace('"arn:aws:lambda:us-east-1:123456789012:function:train"', '"${TrainArn}"')
        .replace('"MaxAttempts": 2', '"MaxAttempts": ${Attempts}')
    )
    path = str(write(tmp_path, text))

    unresolved = run(path)
    assert unresolved.exit_code == 0
    assert unresolved.output.splitlines() == [
        "WARNING UNRESOLVED_PLACEHOLDER at /States/Train/Resource: '${TrainArn}' has no substitution "
        "value; the fields holding it were not checked",
        "WARNING UNRESOLVED_PLACEHOLDER at /States/Train/Retry[0]/MaxAttempts: '${Attempts}' has no "
        "substitution value; the fields holding it were not checked",
        f"{path}: valid (2 warnings)",
    ]

    resolved = run(path, "--sub", "TrainArn=arn:aws:lambda:us-east-1:1:function:t", "--sub", "Attempts=3")
    assert resolved.exit_code == 0 and resolved.output == f"{path}: valid (0 warnings)\n"

    wrong = run(path, "--sub", "TrainArn=train", "--sub", "Attempts=-1", "--json")
    assert wrong.exit_code == 1
    assert sorted(d["location"] for d in json.loads(wrong.output)) == [
        "/States/Train/Resource",
        "/States/Train/Retry[0]/MaxAttempts",
    ]


def test_standard_input(tmp_path: Path) -> None:
    result = run("-", stdin=json.dumps(VALID))
    assert result.exit_code == 0 and result.output == "-: valid (0 warnings)\n"


@pytest.mark.parametrize("make", ["missing", "directory", "not utf-8"])
def test_a_file_that_cannot_be_read_exits_2(tmp_path: Path, make: str) -> None:
    if make == "missing":
        path = tmp_path / "nope.json"
    elif make == "directory":
        path = tmp_path
    else:
        path = tmp_path / "latin1.json"
        path.write_bytes(b'{"Comment": "caf\xe9"}')
    result = run(str(path))
    assert result.exit_code == 2
    assert f"Error: cannot read {path}" in result.output


@pytest.mark.parametrize("args", [["--sub", "NoEquals"], ["--type", "FAST"], []])
def test_bad_usage_exits_2(tmp_path: Path, args: list[str]) -> None:
    path = [str(write(tmp_path, VALID))] if args else []
    assert run(*path, *args).exit_code == 2
