"""EventBridge Scheduler: moto keeps the schedules, stepkit checks them and fires them.

Checks (CreateSchedule and UpdateSchedule, before moto stores anything): the request against
botocore's model (AWS's "N validation errors detected" wording: lengths, ranges of the retry
policy and the flexible window, enums), then the expression ("Invalid Schedule Expression
<expression>", AWS's ValidationException as LocalStack recorded it), the time zone, a flexible
window's ``MaximumWindowInMinutes`` (required with ``FLEXIBLE``, refused with ``OFF``), an
``EndDate`` not after ``StartDate``, and an ``at()`` already past by the endpoint's clock.

Firing (``SchedulerSchedules``, a ``ClockLoop`` beside the scheduled rules, moved by
``LocalEndpoint.advance_clock``): each enabled schedule's occurrences
(``SchedulerOccurrences``: ``at()``, ``rate()``, ``cron()`` in ``ScheduleExpressionTimezone``,
between ``StartDate`` and ``EndDate``) are delivered to the target through the durable outbox
(``events.Deliveries``): a Lambda function (invoked asynchronously, as Scheduler's templated
Lambda target does), a state machine (StartExecution, named after the schedule and the
occurrence, so a firing repeated after a crash starts no second execution), an SQS queue
(SendMessage, ``SqsParameters.MessageGroupId`` for a FIFO queue) or an SNS topic (Publish).
The payload is the target's ``Input`` (``{}`` without one) with Scheduler's context attributes
(``<aws.scheduler.schedule-arn>``, ``<aws.scheduler.scheduled-time>``,
``<aws.scheduler.execution-id>``, ``<aws.scheduler.attempt-number>``) filled in. Failures are
retried under the target's ``RetryPolicy`` (185 attempts and 24 hours by default), then go to
its ``DeadLetterConfig`` queue with Scheduler's attributes (``ERROR_CODE``, ``ERROR_MESSAGE``,
``EXECUTION_ID``, ``EXHAUSTED_RETRY_CONDITION``, ``IS_PAYLOAD_TRUNCATED``,
``RETRY_ATTEMPTS``, ``SCHEDULED_TIME``, ``SCHEDULE_ARN``, ``TARGET_ARN``; the
"Configuring a schedule's dead-letter queue" page of the user guide).

A flexible time window fires each occurrence at an offset within the window, drawn from the
schedule and the occurrence (so it is the same after a restart). ``ActionAfterCompletion:
DELETE`` deletes the schedule once it has no occurrence left (an ``at()`` fired, an
``EndDate`` passed), through a journaled moto call, so the deletion survives a crash.

While the endpoint was down: AWS's Scheduler does not go down, so nothing documents what it
would do; what it does document is that an occurrence is kept and retried until its
``MaximumEventAgeInSeconds``. So at start-up only the latest occurrence missed is delivered,
and only if it is younger than that age (a one-time schedule missed by an hour is still
delivered, by two days it is not); the older ones are skipped, never replayed in a burst.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from stepkit.endpoint.schedules import ClockLoop
from stepkit.endpoint.store import Store
from stepkit.engine.clock import Clock
from stepkit.stack.schedule_expressions import AtSchedule, SchedulerOccurrences, parse_scheduler_expression, zone

log = logging.getLogger(__name__)

_KIND = "scheduler_schedule"
MAX_PER_TICK = 100
_DEFAULT_RETRY = {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}


def _moment(value: Any) -> datetime | None:
    """A StartDate/EndDate as moto keeps it (epoch seconds, or text) as an aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError):
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def occurrences(schedule: Any, created: float) -> SchedulerOccurrences:
    """The occurrences of a moto ``Schedule`` (ValueError when its expression is not valid)."""
    start = _moment(schedule.start_date)
    anchor = start or datetime.fromtimestamp(created, UTC)
    return SchedulerOccurrences(parse_scheduler_expression(schedule.schedule_expression),
                                zone(schedule.schedule_expression_timezone), anchor, _moment(schedule.end_date))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _offset(arn: str, occurrence: datetime, window_minutes: int) -> timedelta:
    if window_minutes <= 0:
        return timedelta(0)
    seed = hashlib.sha256(f"{arn}|{occurrence.isoformat()}".encode()).digest()
    return timedelta(seconds=int.from_bytes(seed[:4], "big") % (window_minutes * 60))


def execution_id(arn: str, occurrence: datetime) -> str:
    return str(uuid.UUID(hashlib.sha256(f"{arn}|{occurrence.isoformat()}".encode()).hexdigest()[:32]))


def target_input(schedule: Any, occurrence: datetime) -> str:
    """The target's ``Input`` with Scheduler's context attributes filled in."""
    text = schedule.target.get("Input") or "{}"
    for name, value in (("schedule-arn", schedule.arn), ("scheduled-time", _iso(occurrence)),
                        ("execution-id", execution_id(schedule.arn, occurrence)), ("attempt-number", "1")):
        text = text.replace(f"<aws.scheduler.{name}>", value)
    return text


class SchedulerSchedules(ClockLoop):
    """Fires EventBridge Scheduler schedules when the clock reaches their occurrences."""

    name = "scheduler-schedules"

    def __init__(self, store: Store, clock: Clock, moto_lock: Any, deliveries: Callable[[], Any],
                 delete: Callable[[str, str, str, str], None], interval: float = 0.2, lock: Any = None) -> None:
        super().__init__(clock, interval, lock)
        self.store = store
        self.moto_lock = moto_lock
        self.deliveries = deliveries
        self.delete = delete

    def _tick(self) -> int:
        now = datetime.fromtimestamp(self.clock.now(), UTC)
        catching_up, self._catching_up = self._catching_up, False
        fired = 0
        seen = set()
        for schedule in self._schedules():
            seen.add(schedule.arn)
            try:
                fired += self._tick_schedule(schedule, now, catching_up)
            except ValueError as exc:  # stored before stepkit checked it: it never fires
                log.debug("schedule %s cannot fire: %s", schedule.arn, exc)
        for state in self.store.all(_KIND):
            if state["arn"] not in seen:
                self.store.delete(_KIND, state["arn"])
        self.fired += fired
        return fired

    def _schedules(self) -> list[Any]:
        from moto.scheduler.models import scheduler_backends

        found = []
        with self.moto_lock:
            for account in list(scheduler_backends.keys()):
                for region in list(scheduler_backends[account].keys()):
                    for group in list(scheduler_backends[account][region].schedule_groups.values()):
                        found.extend(group.schedules.values())
        return found

    def _state(self, schedule: Any, now: datetime) -> dict[str, Any]:
        """What is remembered of a schedule; a changed definition starts again from now."""
        signature = json.dumps([schedule.schedule_expression, schedule.schedule_expression_timezone,
                                str(schedule.start_date), str(schedule.end_date)])
        state = self.store.get(_KIND, schedule.arn)
        if state is None or state.get("signature") != signature:
            created = now.timestamp()
            state = {"arn": schedule.arn, "signature": signature, "created": created,
                     "last": (now - timedelta(microseconds=1)).timestamp()}
            self.store.put(_KIND, schedule.arn, state)
        return state  # type: ignore[no-any-return]

    def _tick_schedule(self, schedule: Any, now: datetime, catching_up: bool) -> int:
        state = self._state(schedule, now)
        plan = occurrences(schedule, state["created"])
        last = datetime.fromtimestamp(state["last"], UTC)
        window = int((schedule.flexible_time_window or {}).get("MaximumWindowInMinutes") or 0) \
            if (schedule.flexible_time_window or {}).get("Mode") == "FLEXIBLE" else 0
        if schedule.state != "ENABLED":
            state["last"] = now.timestamp()
            self.store.put(_KIND, schedule.arn, state)
            return 0
        due = []
        upcoming = plan.next_after(last)
        while upcoming is not None and upcoming + _offset(schedule.arn, upcoming, window) <= now:
            if len(due) == MAX_PER_TICK:
                log.warning("schedule %s: the clock jumped over more than %d occurrences; the rest are skipped",
                            schedule.arn, MAX_PER_TICK)
                state["last"] = now.timestamp()
                upcoming = plan.next_after(now)
                break
            due.append(upcoming)
            upcoming = plan.next_after(upcoming)
        if catching_up and due:  # missed while the endpoint was down: the latest one, if young enough
            max_age = (schedule.target.get("RetryPolicy") or _DEFAULT_RETRY).get("MaximumEventAgeInSeconds", 86400)
            latest = due[-1]
            skipped = len(due) - 1
            due = [latest] if (now - latest).total_seconds() <= max_age else []
            skipped += 1 - len(due)
            if skipped:
                log.warning("schedule %s: %d occurrences missed while the endpoint was down are skipped",
                            schedule.arn, skipped)
            state["last"] = latest.timestamp()
        for occurrence in due:
            self._fire(schedule, occurrence)
            state["last"] = occurrence.timestamp()
            self.store.put(_KIND, schedule.arn, state)
        self.store.put(_KIND, schedule.arn, state)
        if upcoming is None and plan.next_after(datetime.fromtimestamp(state["last"], UTC)) is None:
            self._complete(schedule)
        return len(due)

    def _complete(self, schedule: Any) -> None:
        """No occurrence left: ``ActionAfterCompletion: DELETE`` deletes the schedule."""
        if getattr(schedule, "action_after_completion", None) != "DELETE":
            return
        parts = schedule.arn.split(":")
        with contextlib.suppress(Exception):  # deleted meanwhile by its owner
            self.delete(parts[4], parts[3], schedule.group_name, schedule.name)
        self.store.delete(_KIND, schedule.arn)

    def _fire(self, schedule: Any, occurrence: datetime) -> None:
        deliveries = self.deliveries()
        if deliveries is None:
            return
        target = schedule.target
        arn = target["Arn"]
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        text = target_input(schedule, occurrence)
        policy = target.get("RetryPolicy") or _DEFAULT_RETRY
        source = {"SCHEDULE_ARN": schedule.arn, "SCHEDULED_TIME": _iso(occurrence),
                  "EXECUTION_ID": execution_id(schedule.arn, occurrence)}
        options: dict[str, Any] = {
            "dead_letter": (target.get("DeadLetterConfig") or {}).get("Arn"),
            "retries": int(policy.get("MaximumRetryAttempts", 185)),
            "max_age": float(policy.get("MaximumEventAgeInSeconds", 86400)),
            "source": source, "dead_letter_body": text, "dead_letter_style": "scheduler",
        }
        if service in ("lambda", "states"):
            try:
                payload: Any = json.loads(text)
            except ValueError:
                payload = text
            name = execution_id(schedule.arn, occurrence) if service == "states" else None
            deliveries.submit(service, arn, payload, name=name, **options)
        elif service in ("sqs", "sns"):
            group = (target.get("SqsParameters") or {}).get("MessageGroupId")
            deliveries.submit(service, arn, text, name=group, **options)
        else:
            deliveries.submit("unsupported", arn, text, **options)


# -- moto hooks: the checks of CreateSchedule and UpdateSchedule ------------------------------------


def install(originals: dict[str, Any], live: Callable[[], Any]) -> None:
    """Check schedules before moto stores them (``live()``: the firing loop, whose clock says
    what is past; None while the journal is replayed, when only the timeless checks run)."""
    from moto.scheduler.responses import EventBridgeSchedulerResponse

    originals.update(scheduler_create=EventBridgeSchedulerResponse.create_schedule,
                     scheduler_update=EventBridgeSchedulerResponse.update_schedule)
    create, update = originals["scheduler_create"], originals["scheduler_update"]

    def create_schedule(response: Any) -> Any:
        loop = live()
        _check(response, "CreateSchedule", loop)
        answer = create(response)
        if loop is not None:
            loop.wake()  # a rate schedule without StartDate fires at once
        return answer

    def update_schedule(response: Any) -> Any:
        params = _check(response, "UpdateSchedule", live())
        answer = update(response)
        if "ActionAfterCompletion" in params:  # moto's update leaves it out
            found = response.scheduler_backend.get_schedule(params.get("GroupName"), params["Name"])
            found.action_after_completion = params["ActionAfterCompletion"]
        return answer

    EventBridgeSchedulerResponse.create_schedule = create_schedule
    EventBridgeSchedulerResponse.update_schedule = update_schedule


def uninstall(originals: dict[str, Any]) -> None:
    from moto.scheduler.responses import EventBridgeSchedulerResponse

    EventBridgeSchedulerResponse.create_schedule = originals.pop("scheduler_create")
    EventBridgeSchedulerResponse.update_schedule = originals.pop("scheduler_update")


def _check(response: Any, operation: str, live: Any) -> dict[str, Any]:
    from moto.scheduler.exceptions import ValidationException

    from stepkit.endpoint.errors import AwsError
    from stepkit.endpoint.protocol import service_model
    from stepkit.endpoint.validation import check_input

    try:
        params = json.loads(response.body or "{}")
    except ValueError:
        raise ValidationException("The request body is not JSON.") from None
    params["Name"] = response.uri.split("?")[0].split("/")[-1]
    try:
        check_input(service_model("scheduler").operation_model(operation).input_shape, params)
    except AwsError as err:
        raise ValidationException(err.message) from None
    problem = schedule_problem(params, None if live is None else live.clock.now())
    if problem:
        raise ValidationException(problem)
    return params  # type: ignore[no-any-return]


def schedule_problem(params: dict[str, Any], now: float | None) -> str | None:
    """What AWS would refuse in a schedule (None: nothing); ``now`` None skips the checks that
    depend on the time."""
    expression = params.get("ScheduleExpression", "")
    try:
        parsed = parse_scheduler_expression(expression)
    except ValueError:
        return f"Invalid Schedule Expression {expression}"
    try:
        tz = zone(params.get("ScheduleExpressionTimezone"))
    except ValueError:
        return f"Invalid ScheduleExpressionTimezone {params.get('ScheduleExpressionTimezone')}"
    window = params.get("FlexibleTimeWindow") or {}
    if window.get("Mode") == "FLEXIBLE" and window.get("MaximumWindowInMinutes") is None:
        return "MaximumWindowInMinutes must be provided when the FlexibleTimeWindow mode is FLEXIBLE."
    if window.get("Mode") == "OFF" and window.get("MaximumWindowInMinutes") is not None:
        return "MaximumWindowInMinutes must not be provided when the FlexibleTimeWindow mode is OFF."
    start, end = _moment(params.get("StartDate")), _moment(params.get("EndDate"))
    if start is not None and end is not None and end <= start:
        return "The EndDate you specify must be later than the StartDate."
    if isinstance(parsed, AtSchedule) and now is not None:
        plan = SchedulerOccurrences(parsed, tz, datetime.fromtimestamp(now, UTC))
        fires = plan.next_after(None)
        if fires is not None and fires < datetime.fromtimestamp(now, UTC) - timedelta(minutes=1):
            return f"The ScheduleExpression {expression} is in the past."
    return None
