"""A deploy interrupted at any point converges when run again: no duplicates, no orphans."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from stepkit.cli import main
from stepkit.deploy.providers.state_machines import StateMachineProvider

FUNCTIONS = ["pipe-dev-ingest", "pipe-dev-train", "pipe-dev-worker"]


def run(*args: str, expect: int = 0):
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == expect, result.output + repr(result.exception)
    return result


def _record(root: Path) -> dict:
    return json.loads((root / ".stepkit" / "deployments" / "dev.local.json").read_text())


def _converged(aws) -> None:
    found = aws.inventory()
    assert found["functions"] == FUNCTIONS and found["state_machines"] == ["pipe-dev-training"]
    assert found["queues"] == ["pipe-dev-jobs", "pipe-dev-jobs-dlq"] and len(found["mappings"]) == 1
    assert found["rules"] == ["pipe-dev-training-s3-0"]


def test_a_failed_call_stops_the_deploy_and_the_next_one_finishes_it(endpoint, pipeline, aws,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    real = StateMachineProvider.put

    def broken(self, *args, **kwargs):
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "try later"}}, "CreateStateMachine")

    monkeypatch.setattr(StateMachineProvider, "put", broken)
    failed = run("deploy", expect=1)
    assert "create state machine pipe-dev-training failed: ServiceUnavailable: try later" in failed.output
    assert "step(s) were done and recorded" in failed.output
    record = _record(pipeline)["resources"]
    assert record["state_machine:training"]["status"] == "pending"
    assert record["function:train"]["status"] == "done"

    monkeypatch.setattr(StateMachineProvider, "put", real)
    plan = json.loads(run("plan", "--json").stdout)
    todo = {a["name"] for a in plan["actions"] if a["op"] == "create"}
    assert {"pipe-dev-training", "pipe-dev-training-s3-0", "pipe-dev-data"} <= todo
    assert plan["counts"]["create"] + plan["counts"]["unchanged"] == 21
    run("deploy")
    _converged(aws)
    assert "nothing changed" in run("deploy").stdout


def test_resources_created_but_not_recorded_are_taken_over(endpoint, pipeline, aws) -> None:
    run("deploy")
    path = pipeline / ".stepkit" / "deployments" / "dev.local.json"
    record = json.loads(path.read_text())
    for key in ("function:train", "queue:jobs", "event_source_mapping:worker-sqs-jobs", "bucket:data"):
        record["resources"][key].update(status="pending", digest="", properties={}, outputs={})
    path.write_text(json.dumps(record))
    plan = json.loads(run("plan", "--json").stdout)
    taken = {a["name"] for a in plan["actions"] if a["op"] == "update"}
    assert taken == {"pipe-dev-train", "pipe-dev-jobs", "pipe-dev-worker<-pipe-dev-jobs", "pipe-dev-data"}
    assert all("taken over" in a["reason"] for a in plan["actions"] if a["op"] == "update")
    run("deploy")
    _converged(aws)
    assert "nothing changed" in run("deploy").stdout


def test_a_resource_left_pending_and_then_removed_from_the_stack_is_deleted(endpoint, pipeline, aws) -> None:
    run("deploy")
    path = pipeline / ".stepkit" / "deployments" / "dev.local.json"
    record = json.loads(path.read_text())
    record["resources"]["queue:jobs-dlq"]["status"] = "pending"
    path.write_text(json.dumps(record))
    stack = pipeline / "infra" / "stack.yaml"
    stack.write_text(stack.read_text().replace("    dead_letter: {max_receive_count: 3}\n", ""))
    plan = json.loads(run("plan", "--json").stdout)
    deleted = [a for a in plan["actions"] if a["op"] == "delete"]
    assert [(a["name"], a["reason"]) for a in deleted] == [("pipe-dev-jobs-dlq", "left by an interrupted deploy")]
    run("deploy")
    assert aws.inventory()["queues"] == ["pipe-dev-jobs"]


def test_a_deploy_killed_half_way_converges(endpoint, pipeline, aws) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "stepkit.cli", "deploy", "--json"], cwd=pipeline, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    path = pipeline / ".stepkit" / "deployments" / "dev.local.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if len(json.loads(path.read_text())["resources"]) >= 12:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    run("deploy")
    _converged(aws)
    assert "nothing changed" in run("deploy").stdout
    run("destroy", "--yes")
    assert all(not v for v in aws.inventory().values())
