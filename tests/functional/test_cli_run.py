"""``stepkit run`` as a user runs it: a real process, real files, exit codes."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HELLO = REPO / "statemachines" / "examples" / "hello.asl.json"


def stepkit(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stepkit.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_run_json_prints_the_result_and_exits_zero():
    done = stepkit("run", str(HELLO), "--input", '{"name": "you"}', "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "SUCCEEDED"
    assert result["output"] == {"count": 5, "greeting": "Hello, you!"}


def test_failed_execution_exits_one_with_error_and_cause(tmp_path):
    definition = tmp_path / "fail.asl.json"
    definition.write_text(json.dumps({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}}))
    done = stepkit("run", str(definition), "--json", cwd=tmp_path)
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"] == "E"


def test_input_from_a_file(tmp_path):
    (tmp_path / "in.json").write_text('{"name": "file"}')
    done = stepkit("run", str(HELLO), "--input", f"@{tmp_path / 'in.json'}", "--json")
    assert json.loads(done.stdout)["output"]["greeting"] == "Hello, file!"


def test_bad_input_json_is_a_usage_error_naming_the_problem():
    done = stepkit("run", str(HELLO), "--input", "{nope")
    assert done.returncode == 2
    assert "invalid JSON" in done.stderr and "Traceback" not in done.stderr


def test_invalid_definition_lists_problems_without_a_traceback(tmp_path):
    definition = tmp_path / "bad.asl.json"
    definition.write_text(json.dumps({"StartAt": "X", "States": {"A": {"Type": "Pass", "Next": "Y"}}}))
    done = stepkit("run", str(definition), cwd=tmp_path)
    assert done.returncode == 1
    assert "Invalid State Machine Definition" in done.stderr and "Traceback" not in done.stderr


def test_malformed_json_definition(tmp_path):
    definition = tmp_path / "broken.asl.json"
    definition.write_text("{ not json")
    done = stepkit("run", str(definition), cwd=tmp_path)
    assert done.returncode == 1
    assert "invalid JSON" in done.stderr and "Traceback" not in done.stderr


def test_missing_substitution_is_named(tmp_path):
    definition = tmp_path / "sub.asl.json"
    definition.write_text('{"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "${Thing}", "End": true}}}')
    done = stepkit("run", str(definition), cwd=tmp_path)
    assert done.returncode == 2 and "${Thing}" in done.stderr
    ok = stepkit("run", str(definition), "--sub", "Thing=value", "--json", cwd=tmp_path)
    assert json.loads(ok.stdout)["output"] == "value"


def test_mock_config_answers_tasks(tmp_path):
    definition = tmp_path / "task.asl.json"
    definition.write_text(
        json.dumps(
            {
                "StartAt": "T",
                "States": {
                    "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "End": True}
                },
            }
        )
    )
    mocks = tmp_path / "mocks.json"
    mocks.write_text(
        json.dumps(
            {
                "StateMachines": {"task": {"TestCases": {"ok": {"T": "R"}}}},
                "MockedResponses": {"R": {"0": {"Return": {"mocked": True}}}},
            }
        )
    )
    done = stepkit("run", str(definition), "--mock-config", str(mocks), "--test-case", "ok", "--json", cwd=tmp_path)
    assert json.loads(done.stdout)["output"] == {"mocked": True}


def test_help_everywhere():
    for args in (["--help"], ["run", "--help"], ["validate", "--help"]):
        done = stepkit(*args)
        assert done.returncode == 0 and "Usage" in done.stdout


def test_piped_output_keeps_each_line_whole(tmp_path):
    """Piped (no terminal, no COLUMNS), the status line with its execution ARN is one line to
    paste into the next command, however long, and an invalid definition's error is one line."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    long_name = "a-state-machine-with-a-rather-long-name-to-make-the-arn-wide"
    done = subprocess.run([sys.executable, "-m", "stepkit.cli", "run", str(HELLO), "--input", '{"name": "you"}',
                           "--name", long_name], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("SUCCEEDED arn:aws:states:") and len(first) > 80
    assert first.split()[1].endswith(":" + long_name) and first == first.rstrip()
    bad = tmp_path / "bad.asl.json"
    bad.write_text(json.dumps({"StartAt": "Nowhere-" + "x" * 90, "States": {"P": {"Type": "Pass", "End": True}}}))
    failed = subprocess.run([sys.executable, "-m", "stepkit.cli", "run", str(bad)], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=120)
    assert failed.returncode == 1
    assert any("Nowhere-" + "x" * 90 in line for line in failed.stderr.splitlines()), failed.stderr
