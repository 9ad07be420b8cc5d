"""EventBridge's schedule expressions: ``rate(value unit)`` and its six-field ``cron(...)``.

The dialect is AWS's (EventBridge user guide, "Setting a schedule pattern for scheduled
rules"), not Unix cron's: six fields ``minutes hours day-of-month month day-of-week year``,
all in UTC; exactly one of day-of-month and day-of-week is ``?``; months are 1-12 or
JAN-DEC, days of the week 1-7 or SUN-SAT (1 is Sunday); years 1970-2199. Wildcards:
``, - * /`` everywhere, ``L`` (last) and ``W`` (nearest weekday) in day-of-month, ``L``
(last such weekday) and ``#`` (the n-th such weekday) in day-of-week. A rate's value is a
positive whole number, its unit singular for 1 and plural otherwise (``rate(1 hours)`` and
``rate(5 hour)`` are refused, as the guide says).

``parse_schedule`` raises ``ValueError`` for anything else; the endpoint answers that with
AWS's ``ValidationException`` "Parameter ScheduleExpression is not valid.".
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\(([^()]*)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {name: i + 1 for i, name in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])}
_DAYS = {name: i + 1 for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_MAX_LENGTH = 256  # PutRule's ScheduleExpression
_LAST_YEAR = 2199


@dataclass(frozen=True)
class RateSchedule:
    """Every ``seconds`` from an anchor (the rule's creation)."""

    seconds: int

    def next_after(self, moment: datetime, anchor: datetime) -> datetime | None:
        if moment < anchor:
            return anchor + timedelta(seconds=self.seconds)
        periods = int((moment - anchor).total_seconds() // self.seconds) + 1
        return anchor + timedelta(seconds=periods * self.seconds)


@dataclass(frozen=True)
class CronSchedule:
    """The matching minutes of a six-field cron expression."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: tuple[str, ...] | None  # day-of-month tokens (None: '?')
    months: frozenset[int]
    weekdays: tuple[str, ...] | None  # day-of-week tokens (None: '?')
    years: frozenset[int]

    def next_after(self, moment: datetime, anchor: datetime | None = None) -> datetime | None:
        """The first matching minute strictly after ``moment`` (None: never again)."""
        start = (moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1))
        day = start.date()
        first = True
        while day.year <= _LAST_YEAR:
            if day.year not in self.years:
                day = date(day.year + 1, 1, 1)
                first = False
                continue
            if day.month not in self.months:
                day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
                first = False
                continue
            if self._day_matches(day):
                found = self._time_on(day, start if first else None)
                if found is not None:
                    return found
            day += timedelta(days=1)
            first = False
        return None

    def _time_on(self, day: date, start: datetime | None) -> datetime | None:
        for hour in sorted(self.hours):
            if start is not None and hour < start.hour:
                continue
            for minute in sorted(self.minutes):
                if start is not None and hour == start.hour and minute < start.minute:
                    continue
                return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
        return None

    def _day_matches(self, day: date) -> bool:
        if self.days is not None:
            return any(_day_of_month_matches(token, day) for token in self.days)
        assert self.weekdays is not None
        return any(_day_of_week_matches(token, day) for token in self.weekdays)


Schedule = RateSchedule | CronSchedule


def parse_schedule(expression: str) -> Schedule:
    if not isinstance(expression, str) or len(expression) > _MAX_LENGTH:
        raise ValueError("too long")
    rate = _RATE.match(expression)
    if rate:
        value, unit = int(rate[1]), rate[2]
        if value < 1 or (value == 1) != (not unit.endswith("s")):
            raise ValueError("a rate of 1 takes a singular unit, any other a plural one")
        return RateSchedule(value * _UNIT_SECONDS[unit.rstrip("s")])
    cron = _CRON.match(expression)
    if not cron:
        raise ValueError("neither rate(...) nor cron(...)")
    fields = cron[1].split()
    if len(fields) != 6:
        raise ValueError("a cron expression has six fields")
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ValueError("exactly one of day-of-month and day-of-week is '?'")
    return CronSchedule(
        minutes=_numbers(minutes, 0, 59), hours=_numbers(hours, 0, 23),
        days=None if dom == "?" else _day_of_month_tokens(dom),
        months=_numbers(month, 1, 12, _MONTHS),
        weekdays=None if dow == "?" else _day_of_week_tokens(dow),
        years=_numbers(year, 1970, _LAST_YEAR),
    )


def _value(text: str, low: int, high: int, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ValueError(f"not a number: {text!r}")
    number = int(text)
    if not low <= number <= high:
        raise ValueError(f"{number} is out of {low}-{high}")
    return number


def _numbers(field: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """A field of ``, - * /`` wildcards as the set of values it matches."""
    values: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ValueError(f"bad step {step_text!r}")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            left, _, right = base.partition("-")
            first, last = _value(left, low, high, names), _value(right, low, high, names)
            if first > last:
                raise ValueError(f"empty range {base!r}")
        else:
            first = _value(base, low, high, names)
            last = high if step_text else first
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _day_of_month_tokens(field: str) -> tuple[str, ...]:
    """Day-of-month: the plain wildcards, ``L``, ``LW`` and ``nW`` (each alone, as AWS
    refuses them in lists and ranges)."""
    if field in ("L", "LW"):
        return (field,)
    if field.endswith("W"):
        _value(field[:-1], 1, 31, None)
        return (field,)
    return tuple(str(d) for d in sorted(_numbers(field, 1, 31)))


def _day_of_week_tokens(field: str) -> tuple[str, ...]:
    """Day-of-week: the plain wildcards, ``L`` (Saturday, the last day), ``nL`` (the last such
    weekday of the month), ``n#k`` (its k-th, k in 1-5)."""
    if field == "L":
        return ("7",)
    if field.endswith("L"):
        return (f"{_value(field[:-1], 1, 7, _DAYS)}L",)
    if "#" in field:
        day, _, nth = field.partition("#")
        if not nth.isdigit() or not 1 <= int(nth) <= 5:
            raise ValueError(f"bad '#' in {field!r}")
        return (f"{_value(day, 1, 7, _DAYS)}#{int(nth)}",)
    return tuple(str(d) for d in sorted(_numbers(field, 1, 7, _DAYS)))


def _weekday(day: date) -> int:
    """1 for Sunday ... 7 for Saturday, as cron counts."""
    return (day.weekday() + 1) % 7 + 1


def _day_of_month_matches(token: str, day: date) -> bool:
    last = calendar.monthrange(day.year, day.month)[1]
    if token == "L":
        return day.day == last
    if token.endswith("W"):
        wanted = last if token == "LW" else min(int(token[:-1]), last)
        return day.day == _nearest_weekday(day.year, day.month, wanted, last)
    return day.day == int(token)


def _nearest_weekday(year: int, month: int, wanted: int, last: int) -> int:
    """The weekday nearest ``wanted`` within the month (a Saturday the 1st moves to Monday the
    3rd, a Sunday the last day to the Friday before)."""
    weekday = date(year, month, wanted).weekday()  # Monday 0 ... Sunday 6
    if weekday == 5:
        return wanted - 1 if wanted > 1 else wanted + 2
    if weekday == 6:
        return wanted + 1 if wanted < last else wanted - 2
    return wanted


def _day_of_week_matches(token: str, day: date) -> bool:
    if token.endswith("L"):
        return _weekday(day) == int(token[:-1]) and day.day + 7 > calendar.monthrange(day.year, day.month)[1]
    if "#" in token:
        weekday, nth = (int(x) for x in token.split("#"))
        return _weekday(day) == weekday and (day.day - 1) // 7 + 1 == nth
    return _weekday(day) == int(token)


# -- EventBridge Scheduler: at(), and every expression in a time zone --------------------------

_AT = re.compile(r"^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$")


@dataclass(frozen=True)
class AtSchedule:
    """A one-time schedule: ``at(yyyy-mm-ddThh:mm:ss)``, a wall time in the schedule's zone."""

    wall: datetime  # naive


def parse_scheduler_expression(expression: str) -> Schedule | AtSchedule:
    """EventBridge Scheduler's ``at()``, ``rate()`` and ``cron()`` (ValueError when invalid)."""
    at = _AT.match(expression) if isinstance(expression, str) else None
    if at:
        return AtSchedule(datetime(*(int(part) for part in at.groups())))  # ValueError: no such date
    return parse_schedule(expression)


def zone(name: str | None) -> ZoneInfo:
    """A schedule's ``ScheduleExpressionTimezone`` (ValueError when unknown)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {name!r}") from None


def _instant(wall: datetime, tz: ZoneInfo) -> datetime | None:
    """The instant a wall time of ``tz`` names; None when the clocks skip it (spring forward).
    A wall time that happens twice (fall back) is its first instant."""
    aware = wall.replace(tzinfo=tz, fold=0)
    if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
        return None
    return aware.astimezone(UTC)


@dataclass(frozen=True)
class SchedulerOccurrences:
    """When a Scheduler schedule fires, as the Scheduler user guide ("Schedule types") says:
    a rate counts from ``StartDate`` (or the schedule's creation) and fires there first; a cron
    expression and an ``at()`` are wall times of the schedule's time zone, a wall time the
    clocks skip in spring is skipped and one they repeat in autumn fires once; nothing fires
    before ``StartDate`` or from ``EndDate`` on."""

    schedule: Schedule | AtSchedule
    tz: ZoneInfo
    anchor: datetime  # aware: StartDate, else the creation
    end: datetime | None = None

    def next_after(self, moment: datetime | None) -> datetime | None:
        """The first occurrence strictly after ``moment`` (None: the first one of all)."""
        found = self._next(moment)
        if found is None or (self.end is not None and found >= self.end):
            return None
        return found

    def _next(self, moment: datetime | None) -> datetime | None:
        if isinstance(self.schedule, AtSchedule):
            instant = _instant(self.schedule.wall, self.tz) or self.schedule.wall.replace(tzinfo=self.tz)
            instant = instant.astimezone(UTC)
            return instant if moment is None or instant > moment else None
        if isinstance(self.schedule, RateSchedule):
            if moment is None or moment < self.anchor:
                return self.anchor
            periods = int((moment - self.anchor).total_seconds() // self.schedule.seconds) + 1
            return self.anchor + timedelta(seconds=periods * self.schedule.seconds)
        after = max(moment, self.anchor - timedelta(minutes=1)) if moment is not None else (
            self.anchor - timedelta(minutes=1))
        wall = after.astimezone(self.tz).replace(tzinfo=UTC)
        while True:
            candidate = self.schedule.next_after(wall)
            if candidate is None:
                return None
            instant = _instant(candidate.replace(tzinfo=None), self.tz)
            if instant is not None and instant > after:
                return instant
            wall = candidate
