"""EventBridge's schedule expressions: what PutRule accepts and when each fires (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from stepkit.stack.schedule_expressions import (
    AtSchedule,
    CronSchedule,
    RateSchedule,
    SchedulerOccurrences,
    parse_schedule,
    parse_scheduler_expression,
    zone,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def upcoming(expression: str, after: str, count: int = 1) -> list[str]:
    schedule = parse_schedule(expression)
    moment = at(after)
    out = []
    for _ in range(count):
        nxt = schedule.next_after(moment, moment)
        assert nxt is not None
        out.append(nxt.strftime("%Y-%m-%d %H:%M"))
        moment = nxt
    return out


# The examples of the EventBridge user guide ("Setting a schedule pattern for scheduled rules")
@pytest.mark.parametrize(("expression", "after", "expected"), [
    # 10:15 AM (UTC) every day
    ("cron(15 10 * * ? *)", "2026-03-02 11:00", ["2026-03-03 10:15", "2026-03-04 10:15"]),
    # 6:00 PM Monday through Friday (2026-03-06 is a Friday)
    ("cron(0 18 ? * MON-FRI *)", "2026-03-06 19:00", ["2026-03-09 18:00", "2026-03-10 18:00"]),
    # 8:00 AM on the first day of the month
    ("cron(0 8 1 * ? *)", "2026-01-01 08:00", ["2026-02-01 08:00", "2026-03-01 08:00"]),
    # every 10 min on weekdays
    ("cron(0/10 * ? * MON-FRI *)", "2026-03-06 23:45", ["2026-03-06 23:50", "2026-03-09 00:00"]),
    # every 5 minutes between 8:00 AM and 5:55 PM weekdays
    ("cron(0/5 8-17 ? * MON-FRI *)", "2026-03-06 17:52", ["2026-03-06 17:55", "2026-03-09 08:00"]),
    # 9:00 AM on the first Monday of each month
    ("cron(0 9 ? * 2#1 *)", "2026-03-01 00:00", ["2026-03-02 09:00", "2026-04-06 09:00"]),
])
def test_aws_documented_examples(expression: str, after: str, expected: list[str]) -> None:
    assert upcoming(expression, after, len(expected)) == expected


@pytest.mark.parametrize(("expression", "after", "expected"), [
    ("cron(0 12 L * ? *)", "2026-02-01 00:00", ["2026-02-28 12:00", "2026-03-31 12:00"]),
    ("cron(0 12 L * ? *)", "2028-02-01 00:00", ["2028-02-29 12:00"]),  # a leap year
    # the weekday nearest the 1st: Saturday 2026-08-01 -> Monday the 3rd
    ("cron(0 0 1W * ? *)", "2026-07-31 00:00", ["2026-08-03 00:00"]),
    # nearest the 15th: Sunday 2026-03-15 -> Monday the 16th; Saturday 2026-08-15 -> Friday the 14th
    ("cron(0 0 15W * ? *)", "2026-03-01 00:00", ["2026-03-16 00:00"]),
    ("cron(0 0 15W * ? *)", "2026-08-01 00:00", ["2026-08-14 00:00"]),
    # the last weekday: Sunday 2026-05-31 -> Friday the 29th
    ("cron(0 0 LW * ? *)", "2026-05-01 00:00", ["2026-05-29 00:00"]),
    # the last Friday (6L) of the month
    ("cron(30 4 ? * 6L *)", "2026-03-01 00:00", ["2026-03-27 04:30", "2026-04-24 04:30"]),
    ("cron(0 0 ? * FRI#3 *)", "2026-03-01 00:00", ["2026-03-20 00:00"]),
    ("cron(0 0 ? * L *)", "2026-03-01 00:00", ["2026-03-07 00:00"]),  # L alone: Saturday
    ("cron(0 0 29 FEB ? 2027-2029)", "2026-01-01 00:00", ["2028-02-29 00:00"]),
    ("cron(5,35 14 * JAN,JUL ? *)", "2026-01-31 14:35", ["2026-07-01 14:05", "2026-07-01 14:35"]),
    ("cron(0 */6 * * ? *)", "2026-03-01 05:00", ["2026-03-01 06:00", "2026-03-01 12:00"]),
    ("cron(0 0 1 1 ? 2026)", "2026-06-01 00:00", []),  # no occurrence left
])
def test_special_wildcards(expression: str, after: str, expected: list[str]) -> None:
    schedule = parse_schedule(expression)
    if not expected:
        assert schedule.next_after(at(after), at(after)) is None
        return
    assert upcoming(expression, after, len(expected)) == expected


def test_rates_count_from_their_anchor() -> None:
    schedule = parse_schedule("rate(5 minutes)")
    assert schedule == RateSchedule(300)
    anchor = at("2026-03-01 10:00:30")
    assert schedule.next_after(anchor, anchor) == at("2026-03-01 10:05:30")
    assert schedule.next_after(at("2026-03-01 10:05:30"), anchor) == at("2026-03-01 10:10:30")
    assert schedule.next_after(at("2026-03-01 10:07:00"), anchor) == at("2026-03-01 10:10:30")
    assert parse_schedule("rate(1 minute)") == RateSchedule(60)
    assert parse_schedule("rate(1 hour)") == RateSchedule(3600)
    assert parse_schedule("rate(2 days)") == RateSchedule(172800)
    assert isinstance(parse_schedule("cron(0 10 * * ? *)"), CronSchedule)


@pytest.mark.parametrize("expression", [
    "rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "rate(-1 minutes)", "rate(1.5 hours)",
    "rate(5 seconds)", "rate(5  minutes)", "rate(minutes)", "rate(5 weeks)", "rate 5 minutes",
    "cron(0 10 * * ?)",            # five fields (Unix cron)
    "cron(0 10 * * * *)",          # neither day field is '?'
    "cron(0 10 ? * ? *)",          # both are
    "cron(60 10 * * ? *)", "cron(0 24 * * ? *)", "cron(0 0 32 * ? *)", "cron(0 0 0 * ? *)",
    "cron(0 0 * 13 ? *)", "cron(0 0 ? * 8 *)", "cron(0 0 ? * 0 *)", "cron(0 0 * * ? 1969)",
    "cron(0 0 * * ? 2200)", "cron(0 0 ? * MON#6 *)", "cron(0 0 ? * MON#x *)", "cron(0 0 5-1 * ? *)",
    "cron(0/0 * * * ? *)", "cron(a 0 * * ? *)", "cron(0 0 * FOO ? *)", "cron(0 0 1,LW * ? *)",
    "cron()", "cron(0 0 * * ? * *)", "at(2026-01-01T00:00:00)", "", "cron(" + "0," * 200 + "0 0 * * ? *)",
])
def test_invalid_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ValueError):
        parse_schedule(expression)


# -- EventBridge Scheduler -------------------------------------------------------------------


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_at_expressions_name_a_real_wall_time() -> None:
    assert parse_scheduler_expression("at(2027-03-01T10:00:00)") == AtSchedule(datetime(2027, 3, 1, 10))
    for bad in ("at(2027-02-30T10:00:00)", "at(2027-03-01 10:00:00)", "at(2027-03-01T10:00)", "at()"):
        with pytest.raises(ValueError):
            parse_scheduler_expression(bad)
    with pytest.raises(ValueError):
        zone("Mars/Olympus")


def test_cron_in_a_zone_skips_the_spring_gap_and_fires_once_in_the_autumn_overlap() -> None:
    paris = ZoneInfo("Europe/Paris")
    # 02:30 every day: on 2027-03-28 Paris skips from 02:00 to 03:00
    plan = SchedulerOccurrences(parse_scheduler_expression("cron(30 2 * * ? *)"), paris, _utc(2027, 3, 26))
    first = plan.next_after(None)
    second = plan.next_after(first)
    third = plan.next_after(second)
    assert [m.astimezone(paris).strftime("%m-%d %H:%M") for m in (first, second, third)] == [
        "03-26 02:30", "03-27 02:30", "03-29 02:30"]
    # every 30 minutes between 02:00 and 02:59: on 2027-10-31 the hour 02:00-02:59 happens twice
    plan = SchedulerOccurrences(parse_scheduler_expression("cron(0/30 2 * * ? *)"), paris, _utc(2027, 10, 30, 12))
    moments, moment = [], None
    for _ in range(4):
        moment = plan.next_after(moment)
        moments.append(moment)
    assert [m.strftime("%m-%d %H:%M") for m in moments] == [  # UTC: the second 02:00 of the 31st is not run
        "10-31 00:00", "10-31 00:30", "11-01 01:00", "11-01 01:30"]


def test_rate_counts_from_the_start_date_and_stops_before_the_end_date() -> None:
    plan = SchedulerOccurrences(parse_scheduler_expression("rate(1 day)"), ZoneInfo("UTC"), _utc(2027, 1, 1, 6),
                                end=_utc(2027, 1, 3, 6))
    assert plan.next_after(None) == _utc(2027, 1, 1, 6)
    assert plan.next_after(_utc(2027, 1, 1, 6)) == _utc(2027, 1, 2, 6)
    assert plan.next_after(_utc(2027, 1, 2, 6)) is None


def test_at_fires_once_in_its_zone() -> None:
    plan = SchedulerOccurrences(AtSchedule(datetime(2027, 7, 1, 9)), ZoneInfo("America/New_York"), _utc(2027, 1, 1))
    assert plan.next_after(None) == _utc(2027, 7, 1, 13)
    assert plan.next_after(_utc(2027, 7, 1, 13)) is None
