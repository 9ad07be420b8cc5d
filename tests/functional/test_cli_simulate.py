"""``stepkit simulate`` as a user runs it: exit codes, --json, durations measured by a local run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

FN = "arn:aws:lambda:us-east-1:123456789012:function:"
SLEEPY = "import time\n\ndef handler(event, context):\n    time.sleep(0.05)\n    return event\n"


def _inline_map(function: str = "work", retry: list | None = None, mode: str = "INLINE") -> dict:
    task = {"Type": "Task", "Resource": f"{FN}{function}", "End": True, **({"Retry": retry} if retry else {})}
    processor = {"ProcessorConfig": {"Mode": mode}, "StartAt": "Work", "States": {"Work": task}}
    if mode == "DISTRIBUTED":
        processor["ProcessorConfig"]["ExecutionType"] = "EXPRESS"
    return {"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "ItemsPath": "$.items", "End": True,
                                                 "ItemProcessor": processor}}}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "functions" / "sleepy").mkdir(parents=True)
    (tmp_path / "functions" / "sleepy" / "app.py").write_text(SLEEPY)
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "stack.yaml").write_text("functions:\n  sleepy:\n    memory_size: 512\n")
    (tmp_path / "inline.asl.json").write_text(json.dumps(_inline_map()))
    (tmp_path / "sleepy.asl.json").write_text(json.dumps(_inline_map("sleepy")))
    (tmp_path / "burst.asl.json").write_text(json.dumps(_inline_map(mode="DISTRIBUTED")))
    return tmp_path


def stepkit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stepkit.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_simulate_json(project: Path) -> None:
    items = json.dumps({"items": list(range(100))})
    done = stepkit("simulate", "inline.asl.json", "--input", items, "--task-seconds", "Work=2", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["makespan_seconds"] == 6.0  # 100 items, 40 at a time: 3 rounds of 2 s
    assert doc["lambda"]["peak_concurrency"] == 40 and doc["lambda"]["invocations"] == 100
    assert doc["cost"]["lambda"]["requests"] == 100 and doc["cost"]["standard"]["transitions"] == 101
    assert doc["concurrency"][0] == [0.0, 40] and doc["concurrency"][-1] == [6.0, 0]
    assert doc["quotas"]["checked"] and doc["quotas"]["account_concurrency"] == 1000


def test_durations_default_to_a_local_run_of_the_functions(project: Path) -> None:
    done = stepkit("simulate", "sleepy.asl.json", "--input", json.dumps({"items": [1, 2, 3]}), "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["makespan_seconds"] >= 0.05  # the function sleeps 50 ms, measured, not given
    assert doc["cost"]["lambda"]["gb_seconds"] >= 3 * 0.5 * 0.05  # 512 MB from the stack


def test_a_throttled_run_without_retry_exits_one(project: Path) -> None:
    items = json.dumps({"items": list(range(50))})
    done = stepkit("simulate", "burst.asl.json", "--input", items, "--task-seconds", "1",
                   "--account-concurrency", "10", cwd=project)
    assert done.returncode == 1
    assert "Lambda.TooManyRequestsException" in done.stdout and "FAILED" in done.stdout


@pytest.mark.parametrize("args, message", [
    (("--task-seconds", "Work=slow"), "expected NAME=FLOAT"),
    (("--task-seconds", "-1"), "must not be negative"),
    (("--account-concurrency", "0"), "--account-concurrency"),
    (("--region", "mars-1"), "no prices for region"),
    (("--input", "[1"), "invalid JSON"),
])
def test_bad_usage_exits_two(project: Path, args: tuple, message: str) -> None:
    done = stepkit("simulate", "inline.asl.json", *args, cwd=project)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_an_invalid_definition_exits_one(project: Path) -> None:
    (project / "bad.asl.json").write_text(json.dumps({"StartAt": "X", "States": {}}))
    done = stepkit("simulate", "bad.asl.json", "--task-seconds", "1", cwd=project)
    assert done.returncode == 1 and "Traceback" not in done.stderr


def test_help(project: Path) -> None:
    done = stepkit("simulate", "--help", cwd=project)
    assert done.returncode == 0 and "--task-seconds" in done.stdout and "--account-concurrency" in done.stdout


def test_a_mock_config_steers_the_traced_path(project: Path) -> None:
    definition = {"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Task", "Resource": f"{FN}prepare", "Next": "Fan"},
        "Fan": {"Type": "Map", "ItemsPath": "$.items", "End": True, "ItemProcessor": {
            "StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": f"{FN}work", "End": True}}}}}}
    (project / "sweep.asl.json").write_text(json.dumps(definition))
    mock = {"StateMachines": {"sweep": {"TestCases": {"grid": {"Prepare": "Grid"}}}},
            "MockedResponses": {"Grid": {"0": {"Return": {"items": list(range(30))}}}}}
    (project / "mock.json").write_text(json.dumps(mock))
    done = stepkit("simulate", "sweep.asl.json", "--task-seconds", "1", "--mock-config", "mock.json",
                   "--test-case", "grid", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["lambda"]["invocations"] == 1 + 30 and doc["makespan_seconds"] == 2.0
    missing = stepkit("simulate", "sweep.asl.json", "--mock-config", "mock.json", cwd=project)
    assert missing.returncode == 2 and "--mock-config needs --test-case" in missing.stderr


def test_plot_draws_the_concurrency_over_time(project: Path) -> None:
    pytest.importorskip("matplotlib", reason="the plot extra is not installed")
    items = json.dumps({"items": list(range(100))})
    done = stepkit("simulate", "inline.asl.json", "--input", items, "--task-seconds", "Work=2", "--plot",
                   "concurrency.png", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    image = (project / "concurrency.png").read_bytes()
    assert image[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(image[16:20], "big") == 900  # 9 in at 100 dpi
    svg = stepkit("simulate", "inline.asl.json", "--input", items, "--task-seconds", "Work=2", "--plot",
                  "concurrency.svg", cwd=project)
    assert svg.returncode == 0, svg.stderr
    text = (project / "concurrency.svg").read_text()
    assert text.lstrip().startswith("<?xml") and "makespan 6.0 s" in text.replace("\u00a0", " ")
    bad = stepkit("simulate", "inline.asl.json", "--task-seconds", "1", "--plot", "out.gif", cwd=project)
    assert bad.returncode == 2 and ".png, .svg or .pdf" in bad.stderr and "Traceback" not in bad.stderr
    assert not (project / "out.gif").exists()
