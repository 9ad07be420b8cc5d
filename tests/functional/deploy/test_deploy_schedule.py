"""A stack's schedule and topic triggers deployed by ``stepkit deploy`` to a real local
endpoint, whose clock the test moves forward: the rule starts its state machine with the
declared input; a message published to the topic reaches the subscribed function when its
filter policy matches."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from stepkit.cli import main
from stepkit.endpoint import LocalEndpoint
from stepkit.engine.clock import ManualClock

STACK = """name: sched
topics:
  drift: {display_name: Data drift}
functions:
  retrain:
    runtime: python3.12
    timeout: 10
    environment:
      DRIFT_TOPIC: ${DriftTopicArn}
    triggers:
      - sns: {topic: drift, filter_policy: {score: [{numeric: [">", 0.3]}]}, filter_scope: body}
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
RETRAIN = ("import json, os\ndef handler(event, context):\n"
           "    print('EVENT', os.environ['DRIFT_TOPIC'], json.dumps(event))\n")
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}




@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalEndpoint]:
    root = tmp_path / "sched"
    (root / "infra").mkdir(parents=True)
    (root / "statemachines").mkdir()
    (root / "infra" / "stack.yaml").write_text(STACK)
    (root / "statemachines" / "nightly.asl.json").write_text(json.dumps(PASS))
    (root / "functions" / "retrain").mkdir(parents=True)
    (root / "functions" / "retrain" / "app.py").write_text(RETRAIN)
    monkeypatch.chdir(root)
    with LocalEndpoint(clock=ManualClock(1_800_000_000.0)) as ep:
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
    # moto's rules are process-wide: leave none behind for the next endpoint of this process
    destroyed = CliRunner().invoke(main, ["destroy", "--yes"])
    assert destroyed.exit_code == 0, destroyed.output
    assert not [r for r in events.list_rules()["Rules"] if r["Name"].startswith("sched-dev-")]


def _messages(logs, function: str) -> list[dict]:
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [json.loads(e["message"].split("EVENT", 1)[1].split(None, 1)[1]) for e in events if "EVENT" in e["message"]]


def test_deployed_topic_trigger_delivers_matching_messages(endpoint: LocalEndpoint) -> None:
    result = CliRunner().invoke(main, ["deploy"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    sns, logs = endpoint.client("sns"), endpoint.client("logs")
    topic = "arn:aws:sns:us-east-1:123456789012:sched-dev-drift"
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["DisplayName"] == "Data drift"
    [subscription] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert subscription["Endpoint"] == "arn:aws:lambda:us-east-1:123456789012:function:sched-dev-retrain"
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])["Attributes"]
    assert attributes["FilterPolicyScope"] == "MessageBody"
    sns.publish(TopicArn=topic, Message=json.dumps({"score": 0.1}))
    sns.publish(TopicArn=topic, Message=json.dumps({"score": 0.7}))
    assert endpoint.wait_idle(60)

    deadline = time.monotonic() + 60
    while not _messages(logs, "sched-dev-retrain") and time.monotonic() < deadline:
        time.sleep(0.05)
    [event] = _messages(logs, "sched-dev-retrain")
    assert json.loads(event["Records"][0]["Sns"]["Message"]) == {"score": 0.7}
    assert event["Records"][0]["EventSubscriptionArn"] == subscription["SubscriptionArn"]
    policy = json.loads(endpoint.client("lambda").get_policy(FunctionName="sched-dev-retrain")["Policy"])
    [statement] = [s for s in policy["Statement"] if s["Principal"] == {"Service": "sns.amazonaws.com"}]
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == topic
    again = CliRunner().invoke(main, ["deploy"])
    assert again.exit_code == 0 and "nothing changed" in again.output, again.output
    destroyed = CliRunner().invoke(main, ["destroy", "--yes"])
    assert destroyed.exit_code == 0, destroyed.output
    assert topic not in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
