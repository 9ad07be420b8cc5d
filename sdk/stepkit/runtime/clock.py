"""Time that can be skipped: asynchronous retries wait through a clock, so tests need not."""

from __future__ import annotations

import threading
from typing import Protocol


class Sleeper(Protocol):
    """What the runtime waits through (asynchronous retries); the engine's ``Clock`` also
    tells the time, this only sleeps."""

    def sleep(self, seconds: float) -> None: ...


class RealSleeper:
    """Sleeps for real, but wakes at once when ``stop`` is set (the runtime is closing)."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop

    def sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)
