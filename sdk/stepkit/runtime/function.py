"""One function in the runtime: its warm workers, and one synchronous invocation on them,
turned into what Lambda reports (payload, errorType, the log with START/END/REPORT)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from stepkit.runtime import reports
from stepkit.runtime.calls import AwsCall
from stepkit.runtime.config import FunctionConfig
from stepkit.runtime.deps import DependencyCache
from stepkit.runtime.environment import log_stream_name, worker_environment
from stepkit.runtime.errors import (
    RESPONSE_SIZE_TOO_LARGE,
    RUNTIME_EXIT_ERROR,
    RUNTIME_OUT_OF_MEMORY,
    SANDBOX_TIMEDOUT,
    TooManyRequests,
)
from stepkit.runtime.interpreters import choose, platform_site, warn_once
from stepkit.runtime.pool import WorkerPool
from stepkit.runtime.process import WorkerOutcome, WorkerProcess, WorkerSpec

#: Lambda's limit for the INIT phase; a function with a longer timeout gets that instead.
INIT_TIMEOUT_S = 10.0
#: The largest response Lambda returns from a synchronous invocation.
MAX_RESPONSE_BYTES = 6_291_556


@dataclass(frozen=True)
class FunctionRun:
    """One synchronous invocation as it ran."""

    payload: bytes
    error_type: str | None
    """``None`` when the handler returned; else Lambda's ``errorType``."""
    logs: str
    duration_ms: float
    init_duration_ms: float | None
    max_memory_used_mb: int
    aws_calls: tuple[AwsCall, ...] | None = None
    """What the function's code sent to AWS (INIT's calls with the first invocation)."""


class LocalFunction:
    def __init__(
        self,
        config: FunctionConfig,
        *,
        region: str,
        env_overrides: Mapping[str, str],
        deps: DependencyCache,
        default_concurrency: int,
        python: str | None = None,
        host_aws: bool = False,
    ) -> None:
        """``python``: the interpreter of its workers; default: its runtime's when installed
        here, else this one (:func:`stepkit.runtime.interpreters.choose`, which is logged)."""
        self.config = config
        if python is None:
            python, why = choose(config.runtime, config.code_dir, config.name)
            warn_once(why)
        self.python = python
        self._region = region
        self._env_overrides = dict(env_overrides)
        self._host_aws = host_aws
        self._deps = deps
        limit = config.reserved_concurrency
        self.pool = WorkerPool(default_concurrency if limit is None else max(limit, 1))
        self._spec: WorkerSpec | None = None
        self._spec_lock = threading.Lock()

    def worker_spec(self) -> WorkerSpec:
        """Built on first use: installing the function's requirements can take a while."""
        with self._spec_lock:
            if self._spec is None:
                cfg = self.config
                foreign = self.python != sys.executable
                deps = self._deps
                if foreign:  # the user's cache: the same requirements serve every project
                    from stepkit.runtime.service import default_cache_dir

                    deps = DependencyCache(default_cache_dir(), self.python)
                deps_dir = cfg.deps_dir
                if deps_dir is None and cfg.requirements_file is not None:
                    deps_dir = deps.site_dir(cfg.requirements_file)
                env = worker_environment(cfg, region=self._region, deps_dir=deps_dir,
                                         overrides=self._env_overrides, host_aws=self._host_aws)
                if foreign and "_STEPKIT_HOST_SITE" not in self._env_overrides:
                    # The host's packages are built for its version: lend only Lambda's own (boto3).
                    env["_STEPKIT_HOST_SITE"] = str(platform_site(deps.root))
                self._spec = WorkerSpec(env=env, cwd=cfg.code_dir, memory_limit_mb=cfg.memory_size,
                                        python=self.python)
            return self._spec

    def run(self, request_id: str, payload: bytes, invoked_arn: str) -> FunctionRun:
        if self.config.reserved_concurrency == 0:
            raise TooManyRequests("Rate Exceeded.")
        spec = self.worker_spec()
        worker = self.pool.acquire()
        reusable = False
        try:
            preamble, init_ms = "", None
            if worker is None:
                started = time.perf_counter()
                env = {**spec.env, "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name()}
                worker = WorkerProcess.spawn(dataclasses.replace(spec, env=env))
                ready = worker.wait_ready(max(INIT_TIMEOUT_S, self.config.timeout))
                init_ms = (time.perf_counter() - started) * 1000
                preamble = worker.take_logs()
                if ready.kind != "ready":
                    failed = self._init_failed(request_id, ready, preamble, init_ms, worker.peak_kb)
                    return dataclasses.replace(failed, aws_calls=ready.calls)
            header = {
                "id": request_id,
                "deadline": int((time.time() + self.config.timeout) * 1000),
                "arn": invoked_arn,
                "trace": _trace_id(),
            }
            started = time.perf_counter()
            outcome = worker.invoke(header, payload, self.config.timeout)
            duration_ms = (time.perf_counter() - started) * 1000
            reusable = outcome.kind in ("ok", "error")
            output = worker.take_logs()
            run = self._finish(request_id, outcome, preamble, output, duration_ms, init_ms, worker.peak_kb)
            return dataclasses.replace(run, aws_calls=outcome.calls)
        finally:
            self.pool.release(worker, reusable=reusable)

    def close(self) -> None:
        self.pool.close()

    def _finish(
        self,
        request_id: str,
        outcome: WorkerOutcome,
        preamble: str,
        output: str,
        duration_ms: float,
        init_ms: float | None,
        peak_kb: int,
    ) -> FunctionRun:
        status = None
        body = outcome.body
        error_type = outcome.error_type if outcome.kind == "error" else None
        if outcome.kind == "ok" and len(body) > MAX_RESPONSE_BYTES:
            error_type = RESPONSE_SIZE_TOO_LARGE
            body = _platform_error(
                f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
                error_type,
                message_first=True,
            )
        elif outcome.kind not in ("ok", "error"):
            error_type, message, fault_lines = self._platform_fault(request_id, outcome, self.config.timeout)
            body = _platform_error(message, error_type)
            output += fault_lines
            status = "timeout" if error_type == SANDBOX_TIMEDOUT else "error"
        return self._execution(
            request_id, body, error_type, preamble + reports.start_line(request_id, "$LATEST") + output,
            duration_ms, init_ms, peak_kb, status,
        )

    def _init_failed(
        self, request_id: str, outcome: WorkerOutcome, preamble: str, init_ms: float, peak_kb: int
    ) -> FunctionRun:
        if outcome.kind == "init_error":
            body = outcome.body
            error_type = json.loads(body).get("errorType") or "Runtime.Unknown"
            fault_lines = ""
        else:
            limit = max(INIT_TIMEOUT_S, self.config.timeout)
            error_type, message, fault_lines = self._platform_fault(request_id, outcome, limit)
            body = _platform_error(message, error_type)
        logs = preamble + reports.start_line(request_id, "$LATEST") + fault_lines
        status = "timeout" if error_type == SANDBOX_TIMEDOUT else "error"
        return self._execution(request_id, body, error_type, logs, 0.0, init_ms, peak_kb, status)

    def _execution(
        self,
        request_id: str,
        body: bytes,
        error_type: str | None,
        logs: str,
        duration_ms: float,
        init_ms: float | None,
        peak_kb: int,
        status: str | None,
    ) -> FunctionRun:
        memory_size = self.config.memory_size
        used_mb = min(max(math.ceil(peak_kb / 1024), 1), memory_size)
        logs += reports.end_line(request_id) + reports.report_line(
            request_id,
            duration_ms=duration_ms,
            memory_size=memory_size,
            max_memory_used_mb=used_mb,
            init_duration_ms=init_ms,
            status=status,
            error_type=error_type if status == "error" else None,
        )
        return FunctionRun(body, error_type, logs, duration_ms, init_ms, used_mb)

    @staticmethod
    def _platform_fault(request_id: str, outcome: WorkerOutcome, timeout_s: float) -> tuple[str, str, str]:
        """(errorType, errorMessage, log lines) of a worker the platform stopped or lost."""
        if outcome.kind == "timeout":
            message = f"RequestId: {request_id} Error: {reports.timed_out_message(timeout_s)}"
            return SANDBOX_TIMEDOUT, message, reports.timeout_line(request_id, timeout_s)
        if outcome.kind == "oom":
            error_type, reason = RUNTIME_OUT_OF_MEMORY, "signal: killed"
        else:
            error_type, reason = RUNTIME_EXIT_ERROR, outcome.exit_reason
        if reason:
            message = f"RequestId: {request_id} Error: Runtime exited with error: {reason}"
        else:
            message = f"RequestId: {request_id} Error: Runtime exited without providing a reason"
        return error_type, message, f"{message}\n{error_type}\n"


def _platform_error(message: str, error_type: str, *, message_first: bool = False) -> bytes:
    """Errors written by the Lambda service itself (compact JSON, unlike the Python runtime's)."""
    fields = {"errorMessage": message, "errorType": error_type}
    if not message_first:
        fields = {"errorType": error_type, "errorMessage": message}
    return json.dumps(fields, separators=(",", ":")).encode()


def _trace_id() -> str:
    """An X-Ray trace header, as Lambda sets ``_X_AMZN_TRACE_ID`` for each invocation."""
    rand = os.urandom(20).hex()
    return f"Root=1-{int(time.time()):08x}-{rand[:24]};Parent={rand[24:40]};Sampled=0"
