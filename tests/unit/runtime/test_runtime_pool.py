"""The pool reuses idle workers, starts new ones only below its limit, and makes the rest wait."""

import threading

import pytest

from stepkit.runtime import RuntimeClosed
from stepkit.runtime.pool import WorkerPool


class FakeWorker:
    def __init__(self, alive: bool = True) -> None:
        self._alive = alive
        self.closed = False

    def alive(self) -> bool:
        return self._alive

    def close(self) -> None:
        self.closed = True


def test_reuse_before_starting_and_never_beyond_the_limit() -> None:
    pool = WorkerPool(limit=2)
    assert pool.acquire() is None and pool.acquire() is None  # two slots to start workers in
    worker = FakeWorker()
    pool.release(worker, reusable=True)  # type: ignore[arg-type]
    assert pool.acquire() is worker
    assert pool.stats() == (2, 0)


def test_a_caller_beyond_the_limit_waits_for_a_release() -> None:
    pool = WorkerPool(limit=1)
    assert pool.acquire() is None
    got: list[object] = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire()))
    waiter.start()
    waiter.join(timeout=0.2)
    assert waiter.is_alive() and got == []
    worker = FakeWorker()
    pool.release(worker, reusable=True)  # type: ignore[arg-type]
    waiter.join()
    assert got == [worker]


def test_a_failed_or_dead_worker_frees_its_slot() -> None:
    pool = WorkerPool(limit=1)
    pool.acquire()
    crashed = FakeWorker()
    pool.release(crashed, reusable=False)  # type: ignore[arg-type]
    assert crashed.closed and pool.stats() == (0, 0)
    assert pool.acquire() is None
    dead = FakeWorker(alive=False)
    pool.release(dead, reusable=True)  # type: ignore[arg-type]
    assert pool.acquire() is None  # the dead idle worker was dropped, its slot reused
    assert dead.closed


def test_close_stops_idle_workers_and_refuses_new_callers() -> None:
    pool = WorkerPool(limit=2)
    pool.acquire()
    idle = FakeWorker()
    pool.release(idle, reusable=True)  # type: ignore[arg-type]
    pool.close()
    assert idle.closed
    with pytest.raises(RuntimeClosed):
        pool.acquire()
