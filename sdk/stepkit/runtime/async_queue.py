"""Asynchronous (``Event``) invocations: accepted at once, run in the background, and retried
as Lambda retries them: two more attempts after a function error, one minute then two
minutes later. The waits go through a :class:`~stepkit.runtime.clock.Sleeper`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from stepkit.runtime.clock import Sleeper
from stepkit.runtime.errors import LambdaServiceError
from stepkit.runtime.results import InvokeResult

RETRY_DELAYS_S = (60.0, 120.0)


@dataclass
class AsyncInvocation:
    request_id: str
    function_name: str
    attempts: list[InvokeResult] = field(default_factory=list)
    """One result per attempt; every attempt keeps the same request id, as in Lambda."""
    service_error: str | None = None
    """Why the invocation could not run at all (the function was removed, throttled...)."""
    done: bool = False

    @property
    def succeeded(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].function_error is None


class AsyncQueue:
    def __init__(
        self,
        clock: Sleeper,
        stop: threading.Event,
        on_complete: Callable[[AsyncInvocation], None] | None = None,
        threads: int = 8,
    ) -> None:
        self._clock = clock
        self._stop = stop
        self._on_complete = on_complete
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="stepkit-event")
        self._records: list[AsyncInvocation] = []
        self._pending = 0
        self._cond = threading.Condition()

    def submit(
        self, invocation: AsyncInvocation, attempt: Callable[[], InvokeResult], max_retries: int
    ) -> None:
        with self._cond:
            self._records.append(invocation)
            self._pending += 1
        self._executor.submit(self._run, invocation, attempt, max_retries)

    def _run(self, invocation: AsyncInvocation, attempt: Callable[[], InvokeResult], retries: int) -> None:
        try:
            for number in range(retries + 1):
                if number:
                    self._clock.sleep(RETRY_DELAYS_S[number - 1])
                if self._stop.is_set():
                    break
                try:
                    result = attempt()
                except LambdaServiceError as exc:
                    invocation.service_error = f"{exc.error_code}: {exc.message}"
                    break
                invocation.attempts.append(result)
                if result.function_error is None:
                    break
        finally:
            invocation.done = True
            if self._on_complete is not None:
                self._on_complete(invocation)
            with self._cond:
                self._pending -= 1
                self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every accepted event has finished (retries included); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def records(self) -> list[AsyncInvocation]:
        with self._cond:
            return list(self._records)

    def shutdown(self) -> None:
        """Drop events not yet started; wait for those running (the stop event cuts retries)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._cond:
            self._pending = 0
            self._cond.notify_all()
