"""Retry and Catch: AWS's matching rules and backoff."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from stepkit.asl import errors

_UNCATCHABLE = frozenset({errors.RUNTIME})


def error_matches(error_equals: list[str], error: str | None, *, heartbeat: bool = False) -> bool:
    """Whether a Retrier's or Catcher's ErrorEquals covers ``error``.

    ``States.Runtime`` fails the execution whatever the state says; ``States.ALL``
    matches every other error (a task's ``States.DataLimitExceeded`` included: the
    corpus records it caught); ``States.TaskFailed`` matches every error but
    ``States.Timeout``. ``heartbeat``: the error is a heartbeat's timeout
    (``States.Timeout``), which ``States.HeartbeatTimeout`` names too.
    """
    name = error or ""
    if name in _UNCATCHABLE:
        return False
    if name in error_equals or (heartbeat and errors.HEARTBEAT_TIMEOUT in error_equals):
        return True
    if errors.ALL in error_equals:
        return True
    return errors.TASK_FAILED in error_equals and name != errors.TIMEOUT


class RetryRule:
    __slots__ = ("attempts", "backoff", "error_equals", "interval", "jitter", "max_attempts", "max_delay")

    def __init__(self, definition: dict) -> None:
        self.error_equals: list[str] = list(definition["ErrorEquals"])
        self.interval = float(definition.get("IntervalSeconds", 1))
        self.max_attempts = int(definition.get("MaxAttempts", 3))
        self.backoff = float(definition.get("BackoffRate", 2.0))
        self.max_delay = definition.get("MaxDelaySeconds")
        self.jitter = definition.get("JitterStrategy", "NONE")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        delay = self.interval * (self.backoff**attempt)
        if self.max_delay is not None:
            delay = min(delay, float(self.max_delay))
        if self.jitter == "FULL":
            delay = random.uniform(0, delay)
        return delay


class CatchRule:
    __slots__ = ("definition", "error_equals", "next", "output")

    def __init__(self, definition: dict, output: Callable[..., Any]) -> None:
        self.definition = definition
        self.error_equals: list[str] = list(definition["ErrorEquals"])
        self.next: str = definition["Next"]
        self.output = output


class RetryPolicy:
    """A state's Retry and Catch lists, with the per-entry attempt counts of one state run."""

    __slots__ = ("catchers", "retriers")

    def __init__(self, retriers: list[RetryRule], catchers: list[CatchRule]) -> None:
        self.retriers = retriers
        self.catchers = catchers

    def retry_delay(self, error: str | None, counts: list[int], *, heartbeat: bool = False) -> float | None:
        """The wait before the next attempt, or None when no retrier retries ``error``.

        The first retrier whose ErrorEquals matches decides; when it has used its
        MaxAttempts the error is not retried (later retriers are not consulted).
        """
        for i, retrier in enumerate(self.retriers):
            if error_matches(retrier.error_equals, error, heartbeat=heartbeat):
                if counts[i] >= retrier.max_attempts:
                    return None
                delay = retrier.delay(counts[i])
                counts[i] += 1
                return delay
        return None

    def catcher_for(self, error: str | None, *, heartbeat: bool = False) -> CatchRule | None:
        for catcher in self.catchers:
            if error_matches(catcher.error_equals, error, heartbeat=heartbeat):
                return catcher
        return None
