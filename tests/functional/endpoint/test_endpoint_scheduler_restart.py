"""EventBridge Scheduler across a restart of the endpoint: occurrences missed while it was down
are not replayed in a burst. A module of its own: moto's schedules are process-wide, and an
endpoint of another module left running would fire them too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from endpoint_helpers import eventually, make_client, unique

from stepkit.endpoint import LocalEndpoint
from stepkit.engine.clock import ManualClock

ROLE = "arn:aws:iam::123456789012:role/scheduler"
START = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC


def test_missed_occurrences_are_not_replayed_after_a_restart(tmp_path: Path) -> None:
    clock = ManualClock(START)
    with LocalEndpoint(state_dir=tmp_path, clock=clock) as first:
        sqs, scheduler = make_client(first.url, "sqs"), make_client(first.url, "scheduler")
        url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        name = unique("s")
        scheduler.create_schedule(Name=name, ScheduleExpression="rate(1 hour)", FlexibleTimeWindow={"Mode": "OFF"},
                                  Target={"RoleArn": ROLE, "Arn": arn, "Input": "<aws.scheduler.scheduled-time>"})
        assert eventually(lambda: first.scheduler.fired == 1)  # the first occurrence: at creation
        first.wait_idle(60)
        assert [m["Body"] for m in _drain(sqs, url)] == ["2027-01-15T08:00:00Z"]
    clock.sleep(5 * 3600 + 1800)  # five occurrences pass while the endpoint is down
    with LocalEndpoint(state_dir=tmp_path, clock=clock) as second:
        sqs, scheduler = make_client(second.url, "sqs"), make_client(second.url, "scheduler")
        assert eventually(lambda: second.scheduler.fired == 1)  # the latest one missed, once
        second.wait_idle(60)
        assert eventually(lambda: [m["Body"] for m in _drain(sqs, url)] == ["2027-01-15T13:00:00Z"])
        assert second.advance_clock(1800) == 1  # and on the hour from there
        scheduler.delete_schedule(Name=name)


def _drain(sqs: Any, url: str) -> list[dict]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    for m in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return messages
