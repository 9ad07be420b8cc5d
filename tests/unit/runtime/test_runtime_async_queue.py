"""Event invocations are retried as Lambda retries them, through a clock tests control."""

import threading

from stepkit.runtime import InvokeResult, TooManyRequests
from stepkit.runtime.async_queue import AsyncInvocation, AsyncQueue


class RecordingClock:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def _result(failed: bool) -> InvokeResult:
    return InvokeResult(200, b"{}", "Unhandled" if failed else None, None, "$LATEST", "rid", "")


def _run(outcomes: list[bool], retries: int = 2) -> tuple[AsyncInvocation, RecordingClock]:
    clock = RecordingClock()
    completed: list[AsyncInvocation] = []
    queue = AsyncQueue(clock, threading.Event(), completed.append)
    remaining = list(outcomes)
    invocation = AsyncInvocation("rid", "f")
    queue.submit(invocation, lambda: _result(remaining.pop(0)), retries)
    assert queue.wait(timeout=30)
    queue.shutdown()
    assert completed == [invocation] and invocation.done
    return invocation, clock


def test_two_retries_one_then_two_minutes_apart() -> None:
    invocation, clock = _run([True, True, True])
    assert len(invocation.attempts) == 3 and not invocation.succeeded
    assert clock.sleeps == [60.0, 120.0]


def test_a_success_stops_the_retries() -> None:
    invocation, clock = _run([True, False, True])
    assert len(invocation.attempts) == 2 and invocation.succeeded
    assert clock.sleeps == [60.0]


def test_retries_can_be_turned_off() -> None:
    invocation, clock = _run([True], retries=0)
    assert len(invocation.attempts) == 1 and clock.sleeps == []


def test_a_service_error_is_recorded() -> None:
    queue = AsyncQueue(RecordingClock(), threading.Event())
    invocation = AsyncInvocation("rid", "f")

    def throttled() -> InvokeResult:
        raise TooManyRequests("Rate Exceeded.")

    queue.submit(invocation, throttled, 2)
    assert queue.wait(timeout=30)
    queue.shutdown()
    assert invocation.service_error == "TooManyRequestsException: Rate Exceeded."
    assert invocation.attempts == [] and not invocation.succeeded


def test_a_stopped_queue_does_not_retry() -> None:
    stop = threading.Event()
    clock = RecordingClock()
    queue = AsyncQueue(clock, stop)
    invocation = AsyncInvocation("rid", "f")

    def fail_then_stop() -> InvokeResult:
        stop.set()
        return _result(True)

    queue.submit(invocation, fail_then_stop, 2)
    assert queue.wait(timeout=30)
    queue.shutdown()
    assert len(invocation.attempts) == 1
