"""A function's ``schedule`` trigger and a ``pipe`` trigger reading a Kinesis stream of the
stack, deployed by ``stepkit deploy`` to a real local endpoint whose clock the test moves
forward: the rule invokes the function with its input (no role: a statement of the function's
resource policy for that rule only); the pipe delivers the stream's records to its function,
its role reading that stream only; ``stepkit package`` exports both; destroy removes them."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from local_project import eventually, local_project

from stepkit.cli import main
from stepkit.endpoint import LocalEndpoint
from stepkit.engine.clock import ManualClock

STACK = """name: ticks
streams:
  clicks: {shards: 1}
functions:
  tick:
    runtime: python3.12
    triggers:
      - schedule: {expression: "rate(1 hour)", input: {job: nightly}}
  consume:
    runtime: python3.12
    triggers:
      - pipe: {kinesis: clicks, starting_position: trim_horizon, batch_size: 5}
"""
PRINT = "import json\ndef handler(event, context):\n    print('EVENT', json.dumps(event))\n"
RULE = "ticks-dev-tick-fn-schedule-0"
ACCOUNT_REGION = "us-east-1:123456789012"


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalEndpoint]:
    files = {"infra/stack.yaml": STACK, "functions/tick/app.py": PRINT, "functions/consume/app.py": PRINT}
    with local_project(tmp_path, monkeypatch, "ticks", files, clock=ManualClock(1_800_000_000.0)) as ep:
        yield ep


def _events(logs: Any, function: str) -> list[Any]:
    try:
        found = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [json.loads(e["message"].split("EVENT", 1)[1]) for e in found if "EVENT" in e["message"]]


def _role_actions(iam: Any, role_arn: str) -> dict[str, Any]:
    role = role_arn.rsplit("/", 1)[1]
    [policy] = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
    return {a: s["Resource"] for s in document["Statement"]
            for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}


def test_a_function_schedule_and_a_kinesis_pipe(endpoint: LocalEndpoint, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["deploy"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    events, lam, logs, iam = (endpoint.client(s) for s in ("events", "lambda", "logs", "iam"))
    function_arn = f"arn:aws:lambda:{ACCOUNT_REGION}:function:ticks-dev-tick"
    rule = events.describe_rule(Name=RULE)
    assert (rule["ScheduleExpression"], rule["State"]) == ("rate(1 hour)", "ENABLED")
    [target] = events.list_targets_by_rule(Rule=RULE)["Targets"]
    assert target["Arn"] == function_arn and "RoleArn" not in target
    policy = json.loads(lam.get_policy(FunctionName="ticks-dev-tick")["Policy"])
    [statement] = [s for s in policy["Statement"] if s["Principal"] == {"Service": "events.amazonaws.com"}]
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == rule["Arn"]

    assert endpoint.advance_clock(3600) == 1
    assert endpoint.wait_idle(60)
    assert eventually(lambda: _events(logs, "ticks-dev-tick")) == [{"job": "nightly"}]

    pipe = endpoint.client("pipes").describe_pipe(Name="ticks-dev-consume-pipe-0")
    stream_arn = f"arn:aws:kinesis:{ACCOUNT_REGION}:stream/ticks-dev-clicks"
    assert pipe["Source"] == stream_arn
    assert pipe["SourceParameters"]["KinesisStreamParameters"]["StartingPosition"] == "TRIM_HORIZON"
    granted = _role_actions(iam, pipe["RoleArn"])
    assert granted["kinesis:GetRecords"] in (stream_arn, [stream_arn])
    assert granted["lambda:InvokeFunction"] in (pipe["Target"], [pipe["Target"]])
    assert not any(a.startswith(("dynamodb:", "sqs:")) for a in granted)
    endpoint.client("kinesis").put_record(StreamName="ticks-dev-clicks", PartitionKey="user-1", Data=b'{"n": 1}')
    [batch] = eventually(lambda: _events(logs, "ticks-dev-consume"))
    assert [(r["partitionKey"], base64.b64decode(r["data"])) for r in batch] == [("user-1", b'{"n": 1}')]

    again = CliRunner().invoke(main, ["deploy"])
    assert again.exit_code == 0 and "nothing changed" in again.output, again.output
    packaged = CliRunner().invoke(main, ["package", "--out", str(tmp_path / "out")])
    assert packaged.exit_code == 0, packaged.output
    resources = json.loads((tmp_path / "out" / "template.json").read_text())["Resources"]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in resources.values():
        by_type.setdefault(resource["Type"], []).append(resource["Properties"])
    [exported_rule] = by_type["AWS::Events::Rule"]
    assert exported_rule["Targets"][0]["Arn"]["Fn::GetAtt"][1] == "Arn" and "RoleArn" not in exported_rule["Targets"][0]
    [permission] = by_type["AWS::Lambda::Permission"]
    assert permission["Principal"] == "events.amazonaws.com" and RULE in json.dumps(permission["SourceArn"])
    [exported_pipe] = by_type["AWS::Pipes::Pipe"]
    assert "KinesisStreamParameters" in exported_pipe["SourceParameters"]
    assert resources[exported_pipe["Source"]["Fn::GetAtt"][0]]["Type"] == "AWS::Kinesis::Stream"

    destroyed = CliRunner().invoke(main, ["destroy", "--yes", "--delete-data"])
    assert destroyed.exit_code == 0, destroyed.output
    assert not [r for r in events.list_rules()["Rules"] if r["Name"].startswith("ticks-dev-")]
    assert endpoint.client("pipes").list_pipes()["Pipes"] == []
