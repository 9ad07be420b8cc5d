"""The answer of one ``invoke``, with the fields of Lambda's Invoke response."""

from __future__ import annotations

from dataclasses import dataclass

from stepkit.runtime.calls import AwsCall


@dataclass(frozen=True, slots=True)
class InvokeResult:
    status_code: int
    """200 RequestResponse, 202 Event, 204 DryRun."""
    payload: bytes
    function_error: str | None
    """``"Unhandled"`` when the invocation failed, else ``None``."""
    log_result: str | None
    """Base64 of the last 4 KB of ``logs`` when asked with ``log_type="Tail"``."""
    executed_version: str
    request_id: str
    logs: str
    """The invocation's whole log: START, the function's output, END, REPORT."""
    error_type: str | None = None
    """The failed invocation's ``errorType`` (``Sandbox.Timedout``, the handler's exception...)."""
    duration_ms: float = 0.0
    init_duration_ms: float | None = None
    max_memory_used_mb: int = 0
    aws_calls: tuple[AwsCall, ...] | None = None
    """The AWS API requests the function's code sent (``stepkit.runtime.calls``); None when not
    known (the worker was stopped before it could say)."""
