"""The Scheduler's checks and payloads, without an endpoint."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from stepkit.endpoint.scheduler import execution_id, schedule_problem, target_input

NOW = datetime(2027, 1, 15, 8, tzinfo=UTC).timestamp()


def _request(**changes: object) -> dict:
    return {"ScheduleExpression": "rate(5 minutes)", "FlexibleTimeWindow": {"Mode": "OFF"}, **changes}


def test_schedule_problems() -> None:
    assert schedule_problem(_request(), NOW) is None
    assert schedule_problem(_request(ScheduleExpression="rate(5 minute)"), NOW) == \
        "Invalid Schedule Expression rate(5 minute)"
    assert "must not be provided" in (schedule_problem(
        _request(FlexibleTimeWindow={"Mode": "OFF", "MaximumWindowInMinutes": 5}), NOW) or "")
    assert schedule_problem(_request(StartDate=NOW + 60, EndDate=NOW), NOW) == \
        "The EndDate you specify must be later than the StartDate."
    past = _request(ScheduleExpression="at(2027-01-15T07:00:00)")
    assert "is in the past" in (schedule_problem(past, NOW) or "")
    assert schedule_problem(past, None) is None  # replaying the journal: no clock to judge by
    # 07:00 in New York is noon UTC: not past
    assert schedule_problem({**past, "ScheduleExpressionTimezone": "America/New_York"}, NOW) is None


def test_target_input_fills_in_the_context_attributes() -> None:
    schedule = SimpleNamespace(arn="arn:aws:scheduler:us-east-1:123456789012:schedule/default/s", target={
        "Input": '{"a": "<aws.scheduler.schedule-arn>", "t": "<aws.scheduler.scheduled-time>", '
                 '"id": "<aws.scheduler.execution-id>", "n": "<aws.scheduler.attempt-number>"}'})
    occurrence = datetime(2027, 1, 15, 8, 30, tzinfo=UTC)
    assert target_input(schedule, occurrence) == (
        f'{{"a": "{schedule.arn}", "t": "2027-01-15T08:30:00Z", "id": "{execution_id(schedule.arn, occurrence)}", '
        '"n": "1"}')
    assert target_input(SimpleNamespace(arn="x", target={}), occurrence) == "{}"
    assert execution_id("x", occurrence) == execution_id("x", occurrence) != execution_id("y", occurrence)
