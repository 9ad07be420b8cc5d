"""Task tokens for ``.waitForTaskToken``: a task waits until someone calls
SendTaskSuccess / SendTaskFailure (or its heartbeat or timeout runs out)."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from typing import Any

from stepkit.asl import errors
from stepkit.asl.errors import HeartbeatTimedOut, StatesError


class InvalidToken(KeyError):
    """The token names no waiting task (AWS: TaskDoesNotExist / InvalidToken)."""


class TokenTimedOut(InvalidToken):
    """The token's task timed out (AWS answers TaskTimedOut to a callback with it)."""


_TIMED_OUT_KEPT = 10_000  # how many timed-out tokens are remembered for TaskTimedOut


class _Waiter:
    __slots__ = ("done", "error", "heartbeat_at", "output", "started", "worker")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.output: Any = None
        self.error: StatesError | None = None
        self.heartbeat_at = time.monotonic()
        self.started = threading.Event()  # an activity task handed to a worker
        self.worker: str | None = None


class TaskTokens:
    """The tokens of tasks waiting for a callback; shared by the executions of one engine."""

    def __init__(self) -> None:
        self._waiters: dict[str, _Waiter] = {}
        self._owners: dict[str, str] = {}  # token -> the execution it was issued for
        self._timed_out: dict[str, None] = {}  # oldest first, at most _TIMED_OUT_KEPT
        self._lock = threading.Lock()

    def new_token(self, owner: str | None = None, token: str | None = None) -> str:
        """A token for a task of execution ``owner`` (its ARN), so that stopping the
        execution can release the task (``release``). ``token``: wait under a token issued
        before (an activity task that outlived a restart of the endpoint)."""
        token = token or uuid.uuid4().hex + uuid.uuid4().hex
        with self._lock:
            self._waiters[token] = _Waiter()
            if owner is not None:
                self._owners[token] = owner
        return token

    def release(self, owner: str) -> None:
        """Fail the waiting tasks of execution ``owner``: it was stopped."""
        with self._lock:
            tokens = [t for t, o in self._owners.items() if o == owner]
        for token in tokens:
            with contextlib.suppress(InvalidToken):
                self.send_failure(token, "States.Aborted", "the execution was stopped")

    def _get(self, token: str) -> _Waiter:
        with self._lock:
            waiter = self._waiters.get(token)
        if waiter is None or waiter.done.is_set():
            with self._lock:
                timed_out = token in self._timed_out
            raise TokenTimedOut(token) if timed_out else InvalidToken(token)
        return waiter

    def start(self, token: str, worker: str | None, since: float = 0.0) -> bool:
        """An activity worker took the task (GetActivityTask): its heartbeat clock starts,
        ``since`` seconds ago for a task handed out before a restart. False when the task
        is no longer waiting (timed out or stopped meanwhile)."""
        try:
            waiter = self._get(token)
        except InvalidToken:
            return False
        waiter.worker = worker
        waiter.heartbeat_at = time.monotonic() - since
        waiter.started.set()
        return True

    def wait_started(self, token: str, timeout: float | None) -> str | None:
        """Block until a worker takes the activity task; returns the worker's name. Raises
        ``States.Timeout`` when ``timeout`` runs out first, or the failure sent meanwhile
        (the execution was stopped)."""
        with self._lock:
            waiter = self._waiters[token]
        if not waiter.started.wait(timeout):
            self._expire(token)
            self.cancel(token)
            raise StatesError(errors.TIMEOUT, None)
        if waiter.done.is_set() and waiter.error is not None:
            raise waiter.error
        return waiter.worker

    def send_success(self, token: str, output: Any) -> None:
        waiter = self._get(token)
        waiter.output = output
        waiter.done.set()
        waiter.started.set()  # wakes wait_started

    def send_failure(self, token: str, error: str | None, cause: str | None) -> None:
        waiter = self._get(token)
        waiter.error = StatesError(error, cause)
        waiter.done.set()
        waiter.started.set()  # wakes wait_started

    def send_heartbeat(self, token: str) -> None:
        self._get(token).heartbeat_at = time.monotonic()

    def wait(self, token: str, timeout: float | None, heartbeat: float | None) -> Any:
        """Block until the callback arrives; raises the sent failure, ``States.Timeout``, or
        ``HeartbeatTimedOut`` (``States.Timeout`` too, as AWS records it)."""
        with self._lock:
            waiter = self._waiters[token]
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                now = time.monotonic()
                limits = [t for t in (deadline, heartbeat and waiter.heartbeat_at + heartbeat) if t]
                step = min(limits) - now if limits else None
                if waiter.done.wait(None if step is None else max(step, 0.0)):
                    if waiter.error is not None:
                        raise waiter.error
                    return waiter.output
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    self._expire(token)
                    raise StatesError(errors.TIMEOUT, None)
                if heartbeat is not None and now >= waiter.heartbeat_at + heartbeat:
                    self._expire(token)
                    raise HeartbeatTimedOut
        finally:
            self.cancel(token)

    def _expire(self, token: str) -> None:
        with self._lock:
            self._timed_out[token] = None
            if len(self._timed_out) > _TIMED_OUT_KEPT:
                del self._timed_out[next(iter(self._timed_out))]

    def cancel(self, token: str) -> None:
        with self._lock:
            self._waiters.pop(token, None)
            self._owners.pop(token, None)
