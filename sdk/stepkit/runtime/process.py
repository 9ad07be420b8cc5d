"""One worker process seen from the runtime: start it, send it an invocation, watch it.

The invoking thread itself is the watchdog: it waits on the response pipe with ``poll`` in
slices of :data:`MEMORY_CHECK_INTERVAL_S`, so a fast invocation costs one write and one
read, and a slow one is checked for its deadline and its memory between slices. The slices
grow with the invocation's age (a tenth of it, up to :data:`MEMORY_CHECK_MAX_INTERVAL_S`):
reading ``/proc`` every 20 ms was most of the host's CPU during second-long ML tasks. The
worker's output goes to an unlinked temporary file that is read after each invocation
(and after a crash, so what it printed before dying is kept).
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from stepkit.runtime import memory
from stepkit.runtime.calls import AwsCall, calls_from_wire
from stepkit.runtime.worker import wire

WORKER_DIR = str(Path(__file__).resolve().parent / "worker")
MEMORY_CHECK_INTERVAL_S = 0.02
MEMORY_CHECK_MAX_INTERVAL_S = 0.1
#: Past this many bytes of captured output, the log file is emptied between invocations.
LOG_FILE_LIMIT = 8 << 20

OutcomeKind = Literal["ready", "ok", "error", "init_error", "timeout", "oom", "exit"]


@dataclass(frozen=True)
class WorkerSpec:
    env: dict[str, str]
    cwd: Path
    memory_limit_mb: int
    python: str = sys.executable


@dataclass
class WorkerOutcome:
    kind: OutcomeKind
    body: bytes = b""
    error_type: str | None = None
    exit_reason: str = ""
    """For ``exit``: ``exit status N``, ``signal: killed``, or empty if it exited with 0."""
    calls: tuple[AwsCall, ...] | None = None
    """The AWS requests the function's code sent; None when the worker did not say (it was
    stopped or died first)."""


@dataclass
class WorkerProcess:
    spec: WorkerSpec
    process: subprocess.Popen[bytes]
    request_fd: int
    response: wire.FrameReader
    log_fd: int
    peak_kb: int = 0
    _log_offset: int = 0
    _pipes_closed: bool = False
    _log_closed: bool = False
    _poller: Any = field(default=None, repr=False)

    @classmethod
    def spawn(cls, spec: WorkerSpec) -> WorkerProcess:
        request_r, request_w = os.pipe()
        response_r, response_w = os.pipe()
        log_fd, log_path = tempfile.mkstemp(prefix="stepkit-worker-", suffix=".log")
        child_log = os.open(log_path, os.O_WRONLY | os.O_APPEND)
        os.unlink(log_path)
        try:
            process = subprocess.Popen(
                [spec.python, "-I", "-S", WORKER_DIR, str(request_r), str(response_w)],
                pass_fds=(request_r, response_w),
                stdin=subprocess.DEVNULL,
                stdout=child_log,
                stderr=child_log,
                env=spec.env,
                cwd=spec.cwd,
                start_new_session=True,  # so a kill also stops what the handler started
            )
        except BaseException:
            for fd in (request_w, response_r, log_fd):
                os.close(fd)
            raise
        finally:
            for fd in (request_r, response_w, child_log):
                os.close(fd)
        worker = cls(spec, process, request_w, wire.FrameReader(response_r), log_fd)
        worker._poller = select.poll()
        worker._poller.register(response_r, select.POLLIN)
        return worker

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout_s: float) -> WorkerOutcome:
        """The INIT phase: ``ready``, or why the worker cannot serve (init error, crash, ...)."""
        return self._await(time.monotonic() + timeout_s)

    def invoke(self, header: dict[str, Any], body: bytes, timeout_s: float) -> WorkerOutcome:
        deadline = time.monotonic() + timeout_s
        try:
            wire.write_frame(self.request_fd, header, body)
        except BrokenPipeError:
            return self._exited()
        return self._await(deadline)

    def take_logs(self) -> str:
        """Output written since the last call."""
        size = os.fstat(self.log_fd).st_size
        if size <= self._log_offset:
            return ""
        data = os.pread(self.log_fd, size - self._log_offset, self._log_offset)
        self._log_offset = size
        if size > LOG_FILE_LIMIT:
            os.ftruncate(self.log_fd, 0)  # the worker appends, so it writes from 0 again
            self._log_offset = 0
        return data.decode("utf-8", errors="replace")

    def kill(self) -> None:
        """Stop the worker and everything it started. Its log stays readable until :meth:`close`."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        # Only once: a second close could hit a number another thread has since opened.
        if not self._pipes_closed:
            self._pipes_closed = True
            os.close(self.request_fd)
            os.close(self.response.fd)

    def close(self) -> None:
        self.kill()
        if not self._log_closed:
            self._log_closed = True
            os.close(self.log_fd)

    def _await(self, deadline: float) -> WorkerOutcome:
        limit_kb = self.spec.memory_limit_mb * 1024
        started = time.monotonic()
        while True:
            frame = self.response.next_frame()
            if frame is not None:
                return self._from_frame(*frame)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._note_peak()
                self.kill()
                return WorkerOutcome("timeout")
            age = time.monotonic() - started
            interval = min(max(MEMORY_CHECK_INTERVAL_S, age / 10), MEMORY_CHECK_MAX_INTERVAL_S)
            wait_ms = math.ceil(min(remaining, interval) * 1000)
            if self._poller.poll(wait_ms):
                if not self.response.fill():
                    return self._exited()
                continue
            rss = memory.rss_kb(self.pid)
            if rss is not None and rss > limit_kb:
                self._note_peak()
                self.kill()
                return WorkerOutcome("oom")

    def _from_frame(self, header: dict[str, Any], body: bytes) -> WorkerOutcome:
        self.peak_kb = max(self.peak_kb, header.get("rss", 0))
        if self.peak_kb > self.spec.memory_limit_mb * 1024:
            # It went over between two checks: Lambda would have stopped it on the way.
            self.kill()
            return WorkerOutcome("oom")
        return WorkerOutcome(header["t"], body, header.get("type"), calls=calls_from_wire(header.get("calls")))

    def _exited(self) -> WorkerOutcome:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # closed its pipe but lives on
            code = None
        self.kill()  # also whatever it left running in its session
        code = self.process.returncode if code is None else code
        if code < 0:
            reason = f"signal: {(signal.strsignal(-code) or str(-code)).lower()}"
        else:
            reason = f"exit status {code}" if code else ""
        return WorkerOutcome("exit", exit_reason=reason)

    def _note_peak(self) -> None:
        peak = memory.peak_rss_kb(self.pid)
        if peak is not None:
            self.peak_kb = max(self.peak_kb, peak)
