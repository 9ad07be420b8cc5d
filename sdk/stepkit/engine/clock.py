"""Time for executions. Wait states, retries and timeouts ask a clock, so a test or a local
run can skip waits (``VirtualClock``) without changing the definition."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    """Real time: ``sleep`` really sleeps."""

    #: Seconds since the epoch (time.time itself: this is called on every history event).
    now = staticmethod(time.time)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)


class VirtualClock(Clock):
    """A clock whose ``sleep`` returns at once and moves this clock's time forward.

    It starts at real time, so timestamps in histories stay plausible.
    """

    def __init__(self, start: float | None = None) -> None:
        self._offset = 0.0 if start is None else start - time.time()
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self._offset

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._offset += seconds


class ManualClock(VirtualClock):
    """A virtual clock that stands still until moved (``sleep``): what happens at a given time
    then happens exactly there, however long the test around it takes in real time."""

    def __init__(self, start: float | None = None) -> None:
        super().__init__(start)
        self._at = time.time() if start is None else start

    def now(self) -> float:
        return self._at

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._at += seconds
