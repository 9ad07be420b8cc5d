"""EventBridge Scheduler on a real endpoint, driven by boto3, its clock a virtual one the tests
move forward: at(), rate() and cron() in a time zone, targets (Lambda, Step Functions, SQS,
SNS), retries and the dead-letter queue, ActionAfterCompletion DELETE, flexible windows, the
create-time checks, and what happens to occurrences missed while the endpoint was down."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import (
    create_function,
    create_machine,
    drain,
    eventually,
    make_client,
    new_queue,
    unique,
    wait_execution,
)

from stepkit.endpoint import LocalEndpoint
from stepkit.engine.clock import ManualClock

ROLE = "arn:aws:iam::123456789012:role/scheduler"
ECHO = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
PRINT_EVENT = "import json\ndef handler(event, context):\n    print('EVENT', json.dumps(event))\n"
START = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC, a Friday


@pytest.fixture(scope="module")
def endpoint() -> Iterator[LocalEndpoint]:
    with LocalEndpoint(clock=ManualClock(START)) as ep:
        yield ep


@pytest.fixture(scope="module")
def client(endpoint: LocalEndpoint) -> Any:
    return lambda service: make_client(endpoint.url, service)






def _wall(endpoint: LocalEndpoint, ahead: float, tz: str = "UTC") -> str:
    """The wall time ``ahead`` seconds from the endpoint's now, in ``tz``, as at() takes it."""
    from zoneinfo import ZoneInfo

    moment = datetime.fromtimestamp(endpoint.clock.now() + ahead, UTC).astimezone(ZoneInfo(tz))
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _schedule(scheduler: Any, expression: str, target: dict, **kwargs: Any) -> str:
    name = unique("s")
    scheduler.create_schedule(Name=name, ScheduleExpression=expression, FlexibleTimeWindow={"Mode": "OFF"},
                              Target={"RoleArn": ROLE, **target}, **kwargs)
    return name


def test_cron_in_a_time_zone_fires_a_queue_with_context_attributes(endpoint: LocalEndpoint, client: Any) -> None:
    sqs, scheduler = client("sqs"), client("scheduler")
    url, arn = new_queue(sqs)
    # 09:30 in Paris (UTC+1 in January) is 08:30 UTC: half an hour after START
    name = _schedule(scheduler, "cron(30 9 * * ? *)", {
        "Arn": arn, "Input": json.dumps({"arn": "<aws.scheduler.schedule-arn>",
                                         "at": "<aws.scheduler.scheduled-time>"})},
        ScheduleExpressionTimezone="Europe/Paris")
    assert endpoint.advance_clock(29 * 60) == 0
    assert endpoint.advance_clock(60) == 1
    endpoint.wait_idle(60)
    [message] = drain(sqs, url)
    body = json.loads(message["Body"])
    assert body == {"arn": f"arn:aws:scheduler:us-east-1:123456789012:schedule/default/{name}",
                    "at": "2027-01-15T08:30:00Z"}
    assert endpoint.advance_clock(86400) == 1  # the next day, same wall time
    scheduler.delete_schedule(Name=name)


def test_one_time_schedule_starts_a_workflow_and_is_deleted_after(endpoint: LocalEndpoint, client: Any) -> None:
    sfn, scheduler = client("stepfunctions"), client("scheduler")
    machine = create_machine(sfn, ECHO)
    at = _wall(endpoint, 10 * 3600, "America/New_York")  # a wall time of New York, ten hours ahead
    name = _schedule(scheduler, f"at({at})", {"Arn": machine, "Input": '{"retrain": true}'},
                     ScheduleExpressionTimezone="America/New_York", ActionAfterCompletion="DELETE")
    assert scheduler.get_schedule(Name=name)["ActionAfterCompletion"] == "DELETE"
    assert endpoint.advance_clock(9 * 3600) == 0
    assert endpoint.advance_clock(3600) == 1
    endpoint.wait_idle(60)
    [execution] = sfn.list_executions(stateMachineArn=machine)["executions"]
    done = wait_execution(sfn, execution["executionArn"])
    assert json.loads(done["input"]) == {"retrain": True}
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
        scheduler.get_schedule(Name=name)
    assert endpoint.advance_clock(86400) == 0


def test_rate_schedule_invokes_lambda_from_its_start_date_until_its_end_date(
        endpoint: LocalEndpoint, client: Any) -> None:
    lam, logs, scheduler = client("lambda"), client("logs"), client("scheduler")
    function = create_function(lam, PRINT_EVENT)
    function_arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    now = endpoint.clock.now()
    name = _schedule(scheduler, "rate(10 minutes)", {"Arn": function_arn, "Input": '{"tick": "<aws.scheduler.'
                                                                                   'scheduled-time>"}'},
                     StartDate=now + 600, EndDate=now + 1800)
    fired = [endpoint.advance_clock(300) for _ in range(8)]  # 40 minutes in 5-minute steps
    assert sum(fired) == 2  # at +10 and +20 minutes; +30 is the end date, not before it

    def ticks() -> list[str]:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return sorted(json.loads(e["message"].split("EVENT", 1)[1])["tick"] for e in events if "EVENT" in e["message"])

    assert eventually(lambda: len(ticks()) == 2)
    scheduler.delete_schedule(Name=name)


def test_failed_target_goes_to_the_dead_letter_queue_with_schedulers_attributes(
        endpoint: LocalEndpoint, client: Any) -> None:
    sqs, scheduler = client("sqs"), client("scheduler")
    dlq_url, dlq_arn = new_queue(sqs)
    missing = f"arn:aws:states:us-east-1:123456789012:stateMachine:{unique('gone')}"
    name = _schedule(scheduler, "rate(1 hour)", {"Arn": missing, "Input": '{"n": 1}',
                                                 "DeadLetterConfig": {"Arn": dlq_arn},
                                                 "RetryPolicy": {"MaximumRetryAttempts": 0,
                                                                 "MaximumEventAgeInSeconds": 60}})
    dead: list[dict] = []
    assert eventually(lambda: dead.extend(drain(sqs, dlq_url)) or dead)  # a rate fires at once
    [message] = dead
    assert message["Body"] == '{"n": 1}'
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "StateMachineDoesNotExist"
    assert attributes["TARGET_ARN"] == missing
    assert attributes["SCHEDULE_ARN"].endswith(f":schedule/default/{name}")
    assert attributes["SCHEDULED_TIME"].endswith("Z") and attributes["EXECUTION_ID"]
    assert attributes["RETRY_ATTEMPTS"] == "0"
    scheduler.delete_schedule(Name=name)


def test_flexible_window_fires_within_the_window_and_sns_target(endpoint: LocalEndpoint, client: Any) -> None:
    sqs, sns, scheduler = client("sqs"), client("sns"), client("scheduler")
    url, arn = new_queue(sqs)
    topic = sns.create_topic(Name=unique("t"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    name = unique("s")
    scheduler.create_schedule(Name=name, ScheduleExpression=f"at({_wall(endpoint, 3600)})", Target={
        "RoleArn": ROLE, "Arn": topic, "Input": "drift check"},
        FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15})
    fired = 0
    minutes = 0
    while not fired and minutes < 80:
        fired = endpoint.advance_clock(60)
        minutes += 1
    assert 60 <= minutes <= 75  # the hour, then up to the 15-minute window
    endpoint.wait_idle(60)
    assert eventually(lambda: [m["Body"] for m in drain(sqs, url)] == ["drift check"])
    scheduler.delete_schedule(Name=name)


@pytest.mark.parametrize(("changes", "message"), [
    ({"ScheduleExpression": "rate(0 minutes)"}, "Invalid Schedule Expression rate(0 minutes)"),
    ({"ScheduleExpression": "cron(0 12 * * * *)"}, "Invalid Schedule Expression cron(0 12 * * * *)"),
    ({"ScheduleExpression": "at(2027-02-30T10:00:00)"}, "Invalid Schedule Expression at(2027-02-30T10:00:00)"),
    ({"ScheduleExpression": "at(2020-01-01T10:00:00)"}, "is in the past"),
    ({"ScheduleExpressionTimezone": "Mars/Olympus"}, "Invalid ScheduleExpressionTimezone Mars/Olympus"),
    ({"FlexibleTimeWindow": {"Mode": "FLEXIBLE"}}, "MaximumWindowInMinutes must be provided"),
    ({"FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 2000}},
     "Member must have value less than or equal to 1440"),
    ({"Target": {"Arn": "arn:aws:sqs:us-east-1:123456789012:q", "RoleArn": ROLE,
                 "RetryPolicy": {"MaximumRetryAttempts": 500}}}, "Member must have value less than or equal to 185"),
])
def test_bad_schedules_are_refused_and_nothing_is_stored(client: Any, changes: dict, message: str) -> None:
    scheduler = client("scheduler")
    name = unique("bad")
    request = {"Name": name, "ScheduleExpression": "rate(5 minutes)", "FlexibleTimeWindow": {"Mode": "OFF"},
               "Target": {"Arn": "arn:aws:sqs:us-east-1:123456789012:q", "RoleArn": ROLE}, **changes}
    with pytest.raises(ClientError) as caught:
        scheduler.create_schedule(**request)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert message in caught.value.response["Error"]["Message"]
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
        scheduler.get_schedule(Name=name)
