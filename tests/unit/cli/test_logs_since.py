"""`stepkit logs --since`: a duration back from now or an ISO 8601 time, as `aws logs tail` takes."""

from datetime import UTC, datetime, timedelta

import click
import pytest

from stepkit.cli.endpoint_cmd import since_millis

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("value", "back"), [("30s", timedelta(seconds=30)), ("10m", timedelta(minutes=10)),
                                             ("1h", timedelta(hours=1)), ("2d", timedelta(days=2)),
                                             ("1w", timedelta(weeks=1))])
def test_durations_count_back_from_now(value: str, back: timedelta) -> None:
    assert since_millis(value, NOW) == int((NOW - back).timestamp() * 1000)


def test_iso_times_with_and_without_a_zone() -> None:
    assert since_millis("2026-01-31T11:00:00+00:00", NOW) == int(datetime(2026, 1, 31, 11, tzinfo=UTC)
                                                                 .timestamp() * 1000)
    local = datetime(2026, 1, 31, 11).astimezone()  # no zone: the machine's local time
    assert since_millis("2026-01-31T11:00", NOW) == int(local.timestamp() * 1000)


def test_anything_else_is_a_usage_error() -> None:
    with pytest.raises(click.BadParameter, match="neither a duration"):
        since_millis("yesterday", NOW)
