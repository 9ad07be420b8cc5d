"""A stack's schedule trigger deployed by ``stepkit deploy`` to a real local endpoint, whose
clock the test moves forward: the rule starts its state machine with the declared input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from stepkit.cli import main
from stepkit.endpoint import LocalEndpoint
from stepkit.engine.clock import VirtualClock

STACK = """name: sched
state_machines:
  nightly:
    definition: statemachines/nightly.asl.json
    logging: {level: ERROR}
    triggers:
      - schedule: {expression: "rate(1 hour)", input: {dataset_key: datasets/latest.csv}}
  paused:
    definition: statemachines/nightly.asl.json
    logging: {level: ERROR}
    triggers:
      - schedule: {expression: "cron(0 * * * ? *)", enabled: false}
"""
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


class StillClock(VirtualClock):
    def __init__(self, start: float) -> None:
        super().__init__(start)
        self.at = start

    def now(self) -> float:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.at += max(seconds, 0)


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalEndpoint]:
    root = tmp_path / "sched"
    (root / "infra").mkdir(parents=True)
    (root / "statemachines").mkdir()
    (root / "infra" / "stack.yaml").write_text(STACK)
    (root / "statemachines" / "nightly.asl.json").write_text(json.dumps(PASS))
    monkeypatch.chdir(root)
    with LocalEndpoint(clock=StillClock(1_800_000_000.0)) as ep:
        monkeypatch.setenv("STEPKIT_ENDPOINT_URL", ep.url)
        for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                            "AWS_DEFAULT_REGION": "us-east-1"}.items():
            monkeypatch.setenv(name, value)
        for name in ("AWS_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "STEPKIT_TARGET", "STEPKIT_STAGE"):
            monkeypatch.delenv(name, raising=False)
        yield ep


def test_deployed_schedule_starts_its_state_machine(endpoint: LocalEndpoint) -> None:
    result = CliRunner().invoke(main, ["deploy"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    events, sfn = endpoint.client("events"), endpoint.client("stepfunctions")
    rules = {r["Name"]: r for r in events.list_rules()["Rules"]}
    assert rules["sched-dev-nightly-schedule-0"]["ScheduleExpression"] == "rate(1 hour)"
    assert rules["sched-dev-nightly-schedule-0"]["State"] == "ENABLED"
    assert rules["sched-dev-paused-schedule-0"]["State"] == "DISABLED"
    assert endpoint.advance_clock(3600) == 1
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:sched-dev-nightly"
    assert endpoint.wait_idle(60)
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert len(executions) == 1
    described = sfn.describe_execution(executionArn=executions[0]["executionArn"])
    assert json.loads(described["input"]) == {"dataset_key": "datasets/latest.csv"}
    paused = "arn:aws:states:us-east-1:123456789012:stateMachine:sched-dev-paused"
    assert sfn.list_executions(stateMachineArn=paused)["executions"] == []
    again = CliRunner().invoke(main, ["deploy"])  # nothing changed: nothing to do
    assert again.exit_code == 0 and "nothing changed" in again.output, again.output
    # enabling the paused schedule is an update of its rule, which then fires on the hour
    Path("infra/stack.yaml").write_text(STACK.replace(", enabled: false", ""))
    enabled = CliRunner().invoke(main, ["deploy"])
    assert enabled.exit_code == 0 and "1 to update" in enabled.output, enabled.output
    assert events.describe_rule(Name="sched-dev-paused-schedule-0")["State"] == "ENABLED"
    assert endpoint.advance_clock(3600) == 2
    assert endpoint.wait_idle(60)
    assert len(sfn.list_executions(stateMachineArn=paused)["executions"]) == 1
