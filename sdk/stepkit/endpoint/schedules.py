"""Scheduled EventBridge rules (``ScheduleExpression``), fired from the endpoint's clock.

moto stores the rules and never fires them; ``RuleSchedules`` does. A thread looks at the
endpoint's clock (``stepkit.engine.clock``: real time, or a ``VirtualClock`` a test moves
forward) and fires each enabled rule of a default event bus whose next occurrence has come,
with AWS's scheduled event (``"source": "aws.events"``, ``"detail-type": "Scheduled Event"``,
the rule's ARN in ``resources``, an empty ``detail``, the occurrence as ``time``), through the
same target delivery as a matching event (``events._rule_to_targets``: the durable outbox).

What is remembered, per rule, in the store: its expression, its anchor (when it was put:
a rate counts from there) and the last occurrence fired. An occurrence is fired, then
recorded; the event's id is derived from the rule and the occurrence, so one fired again
after a crash starts no second execution of a state machine target.

Occurrences missed while the endpoint was down are not replayed. AWS documents a scheduled
rule's precision as one minute ("your scheduled rule runs within that minute", EventBridge
user guide, "Creating a rule that runs on a schedule"); so at start-up an occurrence less
than a minute old is still fired (at most one catch-up per rule), the older ones are
skipped. While the endpoint runs, every occurrence is fired, also when a virtual clock
jumps over several (at most ``MAX_PER_TICK`` per rule and look, the rest skipped and logged).
A disabled rule skips its occurrences: enabling it again fires none from the past.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from stepkit.endpoint.store import Store
from stepkit.engine.clock import Clock
from stepkit.stack.schedule_expressions import parse_schedule

log = logging.getLogger(__name__)

MAX_PER_TICK = 100
_CATCH_UP = timedelta(minutes=1)
_KIND = "rule_schedule"


def scheduled_event(rule: Any, occurrence: datetime) -> dict[str, Any]:
    """AWS's event for a scheduled rule's firing."""
    seed = f"{rule.arn}|{occurrence.isoformat()}"
    return {
        "version": "0",
        "id": str(uuid.UUID(hashlib.sha256(seed.encode()).hexdigest()[:32])),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": rule.account_id,
        "time": occurrence.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": rule.region_name,
        "resources": [rule.arn],
        "detail": {},
    }


class ClockLoop:
    """A thread that looks at the endpoint's clock every ``interval`` seconds (or when woken)
    and fires what came due (``_tick``, under ``lock``). Loops that share a lock can be moved
    forward together (``LocalEndpoint.advance_clock``)."""

    name = "clock-loop"

    def __init__(self, clock: Clock, interval: float = 0.2, lock: threading.RLock | None = None) -> None:
        self.clock = clock
        self.interval = interval
        self.fired = 0
        self.lock = lock if lock is not None else threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._catching_up = True

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def wake(self) -> None:
        """Look now (after the clock moved) instead of at the next interval."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a bug here must not stop the loop
                log.exception("%s: a look at the clock failed", self.name)
            self._wake.wait(self.interval)
            self._wake.clear()

    def tick(self) -> int:
        """Fire every due occurrence; returns how many were fired."""
        with self.lock:
            return self._tick()

    def advance(self, seconds: float) -> int:
        """Move a virtual clock ``seconds`` forward and fire what came due, in one step (the
        background look cannot fire it in between: the count is this move's)."""
        with self.lock:
            self.clock.sleep(seconds)
            return self._tick()

    def _tick(self) -> int:
        raise NotImplementedError


class RuleSchedules(ClockLoop):
    """Fires scheduled rules when the clock reaches their occurrences."""

    name = "rule-schedules"

    def __init__(
        self,
        store: Store,
        clock: Clock,
        moto_direct: Callable[[], AbstractContextManager[Any]],
        fire: Callable[[Any, dict[str, Any]], None],
        interval: float = 0.2,
    ) -> None:
        super().__init__(clock, interval)
        self.store = store
        self.moto_direct = moto_direct
        self.fire = fire

    # -- the rules ----------------------------------------------------------------------------
    def put(self, rule: Any) -> None:
        """PutRule succeeded: a new or changed expression counts from now."""
        expression = getattr(rule, "scheduled_expression", None)
        if not expression:
            self.store.delete(_KIND, rule.arn)
            return
        known = self.store.get(_KIND, rule.arn)
        if known and known.get("expression") == expression:
            return
        now = self.clock.now()
        self.store.put(_KIND, rule.arn, {"arn": rule.arn, "expression": expression, "anchor": now, "last": now})
        self.wake()

    def _tick(self) -> int:
        now = datetime.fromtimestamp(self.clock.now(), UTC)
        fired = 0
        catching_up, self._catching_up = self._catching_up, False
        seen = set()
        for rule in self._scheduled_rules():
            seen.add(rule.arn)
            fired += self._tick_rule(rule, now, catching_up)
        for arn in {r["arn"] for r in self.store.all(_KIND)} - seen:
            self.store.delete(_KIND, arn)  # the rule was deleted
        self.fired += fired
        return fired

    def _scheduled_rules(self) -> list[Any]:
        from moto.events.models import events_backends

        rules = []
        with self.moto_direct():
            for account in list(events_backends.keys()):
                for region in list(events_backends[account].keys()):
                    bus = events_backends[account][region].event_buses.get("default")
                    if bus is None:
                        continue
                    rules.extend(r for r in bus.rules.values() if getattr(r, "scheduled_expression", None))
        return rules

    def _tick_rule(self, rule: Any, now: datetime, catching_up: bool) -> int:
        try:
            schedule = parse_schedule(rule.scheduled_expression)
        except ValueError:  # put before stepkit checked expressions: never fires, as AWS never took it
            return 0
        state = self.store.get(_KIND, rule.arn)
        if not state or state.get("expression") != rule.scheduled_expression:
            state = {"arn": rule.arn, "expression": rule.scheduled_expression, "anchor": now.timestamp(),
                     "last": now.timestamp()}
            self.store.put(_KIND, rule.arn, state)
            return 0
        anchor = datetime.fromtimestamp(state["anchor"], UTC)
        last = datetime.fromtimestamp(state["last"], UTC)
        if getattr(rule, "state", "ENABLED") != "ENABLED":
            state["last"] = now.timestamp()
            self.store.put(_KIND, rule.arn, state)
            return 0
        if catching_up:  # occurrences older than a minute were missed while the endpoint was down
            last = max(last, now - _CATCH_UP)
        fired = 0
        upcoming = schedule.next_after(last, anchor)
        while upcoming is not None and upcoming <= now:
            if fired == MAX_PER_TICK:
                log.warning("scheduled rule %s: the clock jumped over more than %d occurrences; the rest are "
                            "skipped", rule.arn, MAX_PER_TICK)
                upcoming = now
            else:
                with self.moto_direct():
                    self.fire(rule, scheduled_event(rule, upcoming))
                fired += 1
            state["last"] = upcoming.timestamp()
            self.store.put(_KIND, rule.arn, state)
            upcoming = schedule.next_after(upcoming, anchor)
        return fired
