"""The platform's lines in an invocation's log: START, END, REPORT and the fault lines."""

from __future__ import annotations

import base64
import math
import time

TAIL_BYTES = 4096


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}\n"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}\n"


def report_line(
    request_id: str,
    *,
    duration_ms: float,
    memory_size: int,
    max_memory_used_mb: int,
    init_duration_ms: float | None,
    status: str | None = None,
    error_type: str | None = None,
) -> str:
    """Lambda's REPORT line. Billed Duration rounds up to the millisecond and, since AWS began
    billing the INIT phase of on-demand functions (August 2025), includes Init Duration."""
    billed = math.ceil(duration_ms + (init_duration_ms or 0.0))
    parts = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {billed} ms",
        f"Memory Size: {memory_size} MB",
        f"Max Memory Used: {max_memory_used_mb} MB",
    ]
    if init_duration_ms is not None:
        parts.append(f"Init Duration: {init_duration_ms:.2f} ms")
    if status:
        parts.append(f"Status: {status}")
    if error_type:
        parts.append(f"Error Type: {error_type}")
    return "\t".join(parts) + "\t\n"


def timeout_line(request_id: str, timeout_s: float) -> str:
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    return f"{stamp} {request_id} {timed_out_message(timeout_s)}\n"


def timed_out_message(timeout_s: float) -> str:
    return f"Task timed out after {timeout_s:.2f} seconds"


def tail(logs: str) -> str:
    return base64.b64encode(logs.encode()[-TAIL_BYTES:]).decode()
