"""Several threads invoking at once: each function runs on up to its concurrency in separate
processes (so CPU-bound handlers use several cores); callers beyond it wait their turn."""

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from stepkit.runtime import FunctionConfig, LambdaRuntime, TooManyRequests

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "functions"


def _config(handler: str, concurrency: int | None, timeout: float = 3) -> FunctionConfig:
    return FunctionConfig(name="f", code_dir=FIXTURES / "faults", handler=f"app.{handler}",
                          reserved_concurrency=concurrency, timeout=timeout)


def _in_threads(count: int, call: Callable[[int], object]) -> list[object]:
    results: list[object] = [None] * count

    def run(index: int) -> None:
        results[index] = call(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_invocations_run_at_the_same_time_in_two_processes(tmp_path: Path) -> None:
    event = json.dumps({"dir": str(tmp_path), "expect": 2}).encode()
    with LambdaRuntime([_config("rendezvous", 2, timeout=20)]) as rt:
        results = _in_threads(2, lambda _: rt.invoke("f", event))
        assert [r.function_error for r in results] == [None, None]  # type: ignore[attr-defined]
        pids = {json.loads(r.payload) for r in results}  # type: ignore[attr-defined]
        assert len(pids) == 2
        assert rt.worker_counts("f") == (2, 2)


def test_concurrency_one_serves_callers_one_after_another_on_one_worker() -> None:
    with LambdaRuntime([_config("whoami", 1)]) as rt:
        results = _in_threads(6, lambda _: rt.invoke("f", b"{}"))
        assert len({r.payload for r in results}) == 1  # type: ignore[attr-defined]
        assert rt.worker_counts("f") == (1, 1)


def test_many_threads_get_their_own_answers() -> None:
    echo = FunctionConfig(name="echo", code_dir=FIXTURES / "echo", handler="app.direct",
                          reserved_concurrency=3)
    with LambdaRuntime([echo]) as rt:
        results = _in_threads(24, lambda i: rt.invoke("echo", json.dumps({"i": i}).encode()).payload)
        assert [json.loads(r)["i"] for r in results] == list(range(24))  # type: ignore[arg-type]
        alive, idle = rt.worker_counts("echo")
        assert alive <= 3 and alive == idle


def test_reserved_concurrency_zero_throttles() -> None:
    with LambdaRuntime([_config("whoami", 0)]) as rt, pytest.raises(TooManyRequests) as caught:
        rt.invoke("f", b"{}")
    assert (caught.value.error_code, caught.value.status_code) == ("TooManyRequestsException", 429)
    assert caught.value.message == "Rate Exceeded."
