"""Event invocations: accepted with 202, run in the background, retried twice as Lambda does,
with the same request id; the waits go through the clock given to the runtime."""

import json
from pathlib import Path

from stepkit.runtime import FunctionConfig, LambdaRuntime

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "functions"


class RecordingClock:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def _flaky(retries: int = 2) -> FunctionConfig:
    return FunctionConfig(name="flaky", code_dir=FIXTURES / "faults", handler="app.flaky",
                          max_retry_attempts=retries)


def test_event_is_accepted_at_once_and_retried_until_it_succeeds(tmp_path: Path) -> None:
    clock = RecordingClock()
    done = []
    with LambdaRuntime([_flaky()], clock=clock, on_async_complete=done.append) as rt:
        event = json.dumps({"dir": str(tmp_path), "failures": 2}).encode()
        accepted = rt.invoke("flaky", event, invocation_type="Event")
        assert (accepted.status_code, accepted.payload, accepted.function_error) == (202, b"", None)
        assert rt.wait_for_async(timeout=60)
        [invocation] = rt.async_invocations()
    assert done == [invocation] and invocation.request_id == accepted.request_id
    assert [a.error_type for a in invocation.attempts] == ["RuntimeError", "RuntimeError", None]
    assert {a.request_id for a in invocation.attempts} == {accepted.request_id}
    assert json.loads(invocation.attempts[-1].payload) == {"attempts": 3}  # one marker file, one request id
    assert invocation.succeeded and clock.sleeps == [60.0, 120.0]


def test_an_event_that_always_fails_is_tried_three_times(tmp_path: Path) -> None:
    clock = RecordingClock()
    with LambdaRuntime([_flaky()], clock=clock) as rt:
        event = json.dumps({"dir": str(tmp_path), "failures": 9}).encode()
        rt.invoke("flaky", event, invocation_type="Event")
        assert rt.wait_for_async(timeout=60)
        [invocation] = rt.async_invocations()
    assert len(invocation.attempts) == 3 and not invocation.succeeded
    assert "attempt 3 failed" in invocation.attempts[-1].logs


def test_max_retry_attempts_zero(tmp_path: Path) -> None:
    clock = RecordingClock()
    with LambdaRuntime([_flaky(retries=0)], clock=clock) as rt:
        event = json.dumps({"dir": str(tmp_path), "failures": 1}).encode()
        rt.invoke("flaky", event, invocation_type="Event")
        assert rt.wait_for_async(timeout=60)
        [invocation] = rt.async_invocations()
    assert len(invocation.attempts) == 1 and clock.sleeps == []


def test_close_does_not_wait_for_real_retry_delays(tmp_path: Path) -> None:
    rt = LambdaRuntime([_flaky()])  # the real clock: the first retry would be a minute away
    rt.invoke("flaky", json.dumps({"dir": str(tmp_path), "failures": 9}).encode(), invocation_type="Event")
    while not rt.async_invocations()[0].attempts:
        rt.wait_for_async(timeout=0.05)
    rt.close()  # wakes the pending retry, which then gives up
    [invocation] = rt.async_invocations()
    assert invocation.done and len(invocation.attempts) == 1
