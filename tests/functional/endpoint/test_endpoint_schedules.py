"""Scheduled EventBridge rules on a real endpoint, driven by boto3: the endpoint's clock is a
virtual one the tests move forward, so nothing waits for a minute to pass."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import create_function, create_machine, eventually, make_client, unique, wait_execution

from stepkit.endpoint import LocalEndpoint
from stepkit.engine.clock import ManualClock

ECHO = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
ROLE = "arn:aws:iam::123456789012:role/events"
PRINT_EVENT = "import json\ndef handler(event, context):\n    print('EVENT', json.dumps(event))\n"
START = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC




@pytest.fixture(scope="module")
def endpoint() -> Iterator[LocalEndpoint]:
    with LocalEndpoint(clock=ManualClock(START)) as ep:
        yield ep


def _executions(sfn: Any, arn: str) -> list[dict]:
    return sfn.list_executions(stateMachineArn=arn)["executions"]


def _logged(logs: Any, function: str, marker: str) -> list[str]:
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [e["message"].split(marker, 1)[1].strip() for e in events if marker in e["message"]]


def test_rate_rule_fires_state_machine_lambda_queue_and_topic(endpoint: LocalEndpoint) -> None:
    events, sfn, lam, sqs, sns, logs = (make_client(endpoint.url, s)
                                        for s in ("events", "stepfunctions", "lambda", "sqs", "sns", "logs"))
    machine = create_machine(sfn, ECHO)
    function = create_function(lam, PRINT_EVENT)
    function_arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    queue_url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    topic_queue = sqs.create_queue(QueueName=unique("tq"))["QueueUrl"]
    topic_queue_arn = sqs.get_queue_attributes(QueueUrl=topic_queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=topic_queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    rule = unique("every5")
    rule_arn = events.put_rule(Name=rule, ScheduleExpression="rate(5 minutes)")["RuleArn"]
    events.put_targets(Rule=rule, Targets=[
        {"Id": "sfn", "Arn": machine, "RoleArn": ROLE},
        {"Id": "fn", "Arn": function_arn},
        {"Id": "q", "Arn": queue_arn, "InputTransformer": {
            "InputPathsMap": {"t": "$.time", "r": "$.resources[0]"}, "InputTemplate": '{"at": "<t>", "rule": "<r>"}'}},
        {"Id": "topic", "Arn": topic, "Input": json.dumps({"retrain": "champion"})},
    ])
    # an event put on the bus does not reach a rule that only has a schedule
    events.put_events(Entries=[{"Source": "app", "DetailType": "x", "Detail": "{}"}])
    assert endpoint.advance_clock(299) == 0
    assert endpoint.advance_clock(1) == 1
    executions = eventually(lambda: _executions(sfn, machine))
    assert len(executions) == 1
    event = json.loads(wait_execution(sfn, executions[0]["executionArn"])["input"])
    assert event == {
        "version": "0", "id": event["id"], "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2027-01-15T08:05:00Z", "region": "us-east-1",
        "resources": [rule_arn], "detail": {},
    }
    assert json.loads(eventually(lambda: _logged(logs, function, "EVENT"))[0]) == event
    body = eventually(lambda: sqs.receive_message(QueueUrl=queue_url).get("Messages"))[0]["Body"]
    assert json.loads(body) == {"at": "2027-01-15T08:05:00Z", "rule": rule_arn}
    raw = eventually(lambda: sqs.receive_message(QueueUrl=topic_queue).get("Messages"))[0]["Body"]
    assert json.loads(raw) == {"retrain": "champion"}
    # three more periods at once: each occurrence fires, in order
    assert endpoint.advance_clock(900) == 3
    assert eventually(lambda: len(_executions(sfn, machine)) == 4)
    endpoint.wait_idle(60)
    times = sorted(json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])["time"]
                   for e in _executions(sfn, machine))
    assert times == ["2027-01-15T08:05:00Z", "2027-01-15T08:10:00Z", "2027-01-15T08:15:00Z", "2027-01-15T08:20:00Z"]
    events.remove_targets(Rule=rule, Ids=["sfn", "fn", "q", "topic"])
    events.delete_rule(Name=rule)


def test_cron_rule_fires_at_its_minute_and_a_disabled_rule_never(endpoint: LocalEndpoint) -> None:
    events, sfn = make_client(endpoint.url, "events"), make_client(endpoint.url, "stepfunctions")
    machine = create_machine(sfn, ECHO)
    quiet = create_machine(sfn, ECHO)
    now = endpoint.clock.now()
    rule, off = unique("cron"), unique("off")
    events.put_rule(Name=rule, ScheduleExpression="cron(30 * * * ? *)")  # minute 30 of every hour
    events.put_targets(Rule=rule, Targets=[{"Id": "m", "Arn": machine, "RoleArn": ROLE, "Input": '{"n": 1}'}])
    events.put_rule(Name=off, ScheduleExpression="rate(1 minute)", State="DISABLED")
    events.put_targets(Rule=off, Targets=[{"Id": "m", "Arn": quiet, "RoleArn": ROLE}])
    minute_30 = (now // 3600) * 3600 + 1800 + (3600 if now % 3600 >= 1800 else 0)
    endpoint.advance_clock(minute_30 - now - 1)
    assert _executions(sfn, machine) == []
    endpoint.advance_clock(1)
    execution = eventually(lambda: _executions(sfn, machine))[0]
    assert json.loads(wait_execution(sfn, execution["executionArn"])["input"]) == {"n": 1}
    # enabling the disabled rule fires nothing from the time it was disabled
    events.enable_rule(Name=off)
    assert endpoint.advance_clock(30) == 0
    assert endpoint.advance_clock(30) == 1
    assert eventually(lambda: _executions(sfn, quiet))
    for name in (rule, off):
        events.remove_targets(Rule=name, Ids=["m"])
        events.delete_rule(Name=name)


@pytest.mark.parametrize("expression", ["rate(1 minutes)", "rate(0 minutes)", "cron(0 10 * * ?)",
                                        "cron(0 10 * * * *)", "cron(0 25 * * ? *)", "cron(0 0 ? * MON#6 *)"])
def test_invalid_expression_is_refused_at_put_rule(endpoint: LocalEndpoint, expression: str) -> None:
    events = make_client(endpoint.url, "events")
    name = unique("bad")
    with pytest.raises(ClientError) as caught:
        events.put_rule(Name=name, ScheduleExpression=expression)
    error = caught.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("ValidationException", "Parameter ScheduleExpression is not valid.")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert events.list_rules(NamePrefix=name)["Rules"] == []


def test_pending_delivery_survives_a_restart_and_missed_firings_are_not_replayed(tmp_path: Path) -> None:
    clock = ManualClock(START)
    with LocalEndpoint(state_dir=tmp_path, clock=clock) as first:
        events, sfn = make_client(first.url, "events"), make_client(first.url, "stepfunctions")
        machine = create_machine(sfn, ECHO)
        events.put_rule(Name="nightly", ScheduleExpression="rate(1 hour)")
        events.put_targets(Rule="nightly", Targets=[{"Id": "m", "Arn": machine, "RoleArn": ROLE}])
        first.deliveries.close()  # no worker takes the delivery: it stays in the outbox
        assert first.advance_clock(3600) == 1
        assert _executions(sfn, machine) == []
    clock.sleep(5 * 3600 + 30)  # five occurrences pass while the endpoint is down
    with LocalEndpoint(state_dir=tmp_path, clock=clock) as second:
        sfn = make_client(second.url, "stepfunctions")
        assert second.wait_idle(60)
        # the pending delivery is made once; the occurrence 30 s old is caught up; the older four are not
        assert eventually(lambda: second.schedules.fired == 1)
        assert eventually(lambda: len(_executions(sfn, machine)) == 2)
        second.wait_idle(60)
        times = sorted(json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])["time"]
                       for e in _executions(sfn, machine))
        assert times == ["2027-01-15T09:00:00Z", "2027-01-15T14:00:00Z"]
        assert second.advance_clock(3600) == 1
        events = make_client(second.url, "events")  # moto's rules are process-wide: leave none behind
        events.remove_targets(Rule="nightly", Ids=["m"])
        events.delete_rule(Name="nightly")
