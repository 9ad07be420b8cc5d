"""The local Lambda service: functions by name or ARN, and ``invoke`` as AWS's Invoke API."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from stepkit.runtime import reports
from stepkit.runtime.arn import function_arn, parse_function_ref
from stepkit.runtime.async_queue import AsyncInvocation, AsyncQueue
from stepkit.runtime.clock import RealSleeper, Sleeper
from stepkit.runtime.config import FunctionConfig
from stepkit.runtime.deps import DependencyCache
from stepkit.runtime.environment import VERSION
from stepkit.runtime.errors import (
    UNHANDLED,
    FunctionNotFound,
    InvalidParameterValue,
    InvalidRequestContent,
    RequestTooLarge,
    RuntimeClosed,
)
from stepkit.runtime.function import LocalFunction
from stepkit.runtime.invoker import JsonPayload
from stepkit.runtime.results import InvokeResult
from stepkit.stack.project import Project

InvocationType = Literal["RequestResponse", "Event", "DryRun"]
SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
ASYNC_PAYLOAD_LIMIT = 256 * 1024


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stepkit" / "site"


class LambdaRuntime:
    """Local AWS Lambda: warm worker processes per function, Lambda's limits and errors.

    Thread-safe: ``invoke`` may be called from many threads at once; each function runs at
    most its reserved concurrency (default: one worker per CPU) at a time, and callers
    beyond that wait for a worker.

    ``host_aws``: workers get the host's AWS configuration (credentials, profile, endpoint
    URLs; see :mod:`stepkit.runtime.environment`), for functions run on this machine against
    the user's own AWS (``stepkit invoke``). Off by default: a worker then
    gets only its function's variables, Lambda's and ``env_overrides``.
    """

    def __init__(
        self,
        functions: Iterable[FunctionConfig] = (),
        *,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        env_overrides: Mapping[str, str] | None = None,
        clock: Sleeper | None = None,
        on_invoke: Callable[[FunctionConfig, InvokeResult], None] | None = None,  # each run: settings, result
        cache_dir: Path | None = None,
        default_concurrency: int | None = None,
        on_async_complete: Callable[[AsyncInvocation], None] | None = None,
        host_aws: bool = False,
    ) -> None:
        self.region = region
        self._host_aws = host_aws
        self.account_id = account_id
        self._env_overrides = dict(env_overrides or {})
        self._deps = DependencyCache(cache_dir or default_cache_dir())
        self._default_concurrency = default_concurrency or os.cpu_count() or 1
        self._on_invoke = on_invoke
        self._functions: dict[str, LocalFunction] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._async = AsyncQueue(clock or RealSleeper(self._stop), self._stop, on_async_complete)
        for config in functions:
            self.add_function(config)

    @classmethod
    def from_stack(cls, stack_path: Path | str, **options: Any) -> LambdaRuntime:
        """Every function of a project's ``infra/stack.yaml`` (and of its ``functions/`` folder)."""
        return cls.from_project(Project.load(stack_path), **options)

    @classmethod
    def from_project(cls, project: Project, **options: Any) -> LambdaRuntime:
        project.check_code_dirs()
        options.setdefault("cache_dir", project.root / ".stepkit" / "site")
        return cls((FunctionConfig.in_project(project, fn) for fn in project.functions()), **options)

    # -- functions ------------------------------------------------------------------------

    def add_function(self, config: FunctionConfig) -> None:
        """Add a function, or replace one of the same name (its workers are stopped)."""
        function = LocalFunction(
            config,
            region=self.region,
            env_overrides=self._env_overrides,
            deps=self._deps,
            default_concurrency=self._default_concurrency,
            host_aws=self._host_aws,
        )
        with self._lock:
            old = self._functions.get(config.name)
            self._functions[config.name] = function
        if old is not None:
            old.close()

    def remove_function(self, name: str) -> None:
        with self._lock:
            function = self._functions.pop(name, None)
        if function is None:
            raise FunctionNotFound(f"Function not found: {self.function_arn(name)}")
        function.close()

    def function_names(self) -> list[str]:
        with self._lock:
            return sorted(self._functions)

    def get_function(self, name: str) -> FunctionConfig:
        return self._function(name).config

    def function_arn(self, name: str, qualifier: str | None = None) -> str:
        return function_arn(name, self.region, self.account_id, qualifier)

    def worker_counts(self, name: str) -> tuple[int, int]:
        """(workers alive, of which idle) for one function."""
        return self._function(name).pool.stats()

    # -- invoke ---------------------------------------------------------------------------

    def invoke(
        self,
        name_or_arn: str,
        payload: bytes = b"",
        *,
        invocation_type: InvocationType | str = "RequestResponse",
        log_type: str | None = None,
        qualifier: str | None = None,
    ) -> InvokeResult:
        if self._stop.is_set():
            raise RuntimeClosed("The Lambda runtime is closed.")
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{invocation_type}' at 'invocationType' failed to "
                "satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
            )
        if log_type not in (None, "None", "Tail"):
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{log_type}' at 'logType' failed to satisfy "
                "constraint: Member must satisfy enum value set: [None, Tail]"
            )
        ref = parse_function_ref(name_or_arn, qualifier, region=self.region, account_id=self.account_id)
        if ref.qualifier not in (None, VERSION):  # no published versions or aliases locally
            raise FunctionNotFound(f"Function not found: {self.function_arn(ref.name, ref.qualifier)}")
        function = self._function(ref.name)
        payload = _checked_payload(payload, invocation_type)
        request_id = str(uuid.uuid4())
        invoked_arn = self.function_arn(ref.name, ref.qualifier)

        if invocation_type == "DryRun":
            return InvokeResult(204, b"", None, None, VERSION, request_id, "")
        if invocation_type == "Event":
            invocation = AsyncInvocation(request_id, ref.name)
            self._async.submit(
                invocation,
                lambda: self._run(function, request_id, payload, invoked_arn, None),
                function.config.max_retry_attempts,
            )
            return InvokeResult(202, b"", None, None, VERSION, request_id, "")
        return self._run(function, request_id, payload, invoked_arn, log_type)

    def wait_for_async(self, timeout: float | None = None) -> bool:
        """Wait until every ``Event`` invocation (with its retries) has finished."""
        return self._async.wait(timeout)

    def async_invocations(self) -> list[AsyncInvocation]:
        return self._async.records()

    # -- life cycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Stop every worker. Events not started yet are dropped; pending retries are cut."""
        self._stop.set()
        self._async.shutdown()
        with self._lock:
            functions, self._functions = list(self._functions.values()), {}
        for function in functions:
            function.close()

    def __enter__(self) -> LambdaRuntime:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------

    def _function(self, name: str) -> LocalFunction:
        with self._lock:
            function = self._functions.get(name)
        if function is None:
            raise FunctionNotFound(f"Function not found: {self.function_arn(name)}")
        return function

    def _run(
        self, function: LocalFunction, request_id: str, payload: bytes, invoked_arn: str, log_type: str | None
    ) -> InvokeResult:
        run = function.run(request_id, payload, invoked_arn)
        result = InvokeResult(
            status_code=200,
            payload=run.payload,
            function_error=UNHANDLED if run.error_type else None,
            log_result=reports.tail(run.logs) if log_type == "Tail" else None,
            executed_version=VERSION,
            request_id=request_id,
            logs=run.logs,
            error_type=run.error_type,
            duration_ms=run.duration_ms,
            init_duration_ms=run.init_duration_ms,
            max_memory_used_mb=run.max_memory_used_mb,
            aws_calls=run.aws_calls,
        )
        if self._on_invoke is not None:
            self._on_invoke(function.config, result)
        return result


def _checked_payload(payload: bytes, invocation_type: str) -> bytes:
    limit = ASYNC_PAYLOAD_LIMIT if invocation_type == "Event" else SYNC_PAYLOAD_LIMIT
    if len(payload) > limit:
        raise RequestTooLarge(f"Request must be smaller than {limit} bytes for the InvokeFunction operation")
    if isinstance(payload, JsonPayload):  # serialised from a value: JSON by construction
        return payload
    if not payload.strip():
        return b"{}"  # Lambda hands an invocation without a payload the event {}
    try:
        json.loads(payload)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than the parser goes
        raise InvalidRequestContent(
            f"Could not parse request body into json: Could not parse payload into json: {exc}"
        ) from None
    return payload
