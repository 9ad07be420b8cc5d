"""Warm workers of one function: reuse an idle one, start one only when none is free, never
more than the function's concurrency; callers beyond it wait their turn."""

from __future__ import annotations

import threading

from stepkit.runtime.errors import RuntimeClosed
from stepkit.runtime.process import WorkerProcess


class WorkerPool:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._idle: list[WorkerProcess] = []
        self._count = 0  # idle + busy + starting
        self._closed = False
        self._cond = threading.Condition()

    def acquire(self) -> WorkerProcess | None:
        """An idle warm worker, or ``None``: a slot is reserved and the caller starts one.

        Blocks while ``limit`` workers are busy.
        """
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeClosed("The function was removed or the runtime closed.")
                while self._idle:
                    worker = self._idle.pop()  # the most recently used: its caches are warmest
                    if worker.alive():
                        return worker
                    worker.close()
                    self._count -= 1
                if self._count < self.limit:
                    self._count += 1
                    return None
                self._cond.wait()

    def release(self, worker: WorkerProcess | None, *, reusable: bool) -> None:
        """Give back a worker (or the slot of one that failed to start)."""
        with self._cond:
            if worker is not None and reusable and not self._closed:
                self._idle.append(worker)
            else:
                self._count -= 1
                if worker is not None:
                    worker.close()
            self._cond.notify()

    def close(self) -> None:
        """Stop idle workers now; busy ones are stopped when their invocation returns."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            self._cond.notify_all()
        for worker in idle:
            worker.close()

    def stats(self) -> tuple[int, int]:
        """(workers alive, of which idle)."""
        with self._cond:
            return self._count, len(self._idle)
