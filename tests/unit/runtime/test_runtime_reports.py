"""The platform's log lines, formatted as Lambda writes them."""

import base64

from stepkit.runtime import reports


def test_report_line_of_a_cold_invocation() -> None:
    line = reports.report_line(
        "rid", duration_ms=3.071, memory_size=128, max_memory_used_mb=59, init_duration_ms=127.514
    )
    assert line == (
        "REPORT RequestId: rid\tDuration: 3.07 ms\tBilled Duration: 131 ms\tMemory Size: 128 MB\t"
        "Max Memory Used: 59 MB\tInit Duration: 127.51 ms\t\n"
    )


def test_report_line_of_a_failed_warm_invocation() -> None:
    line = reports.report_line(
        "rid", duration_ms=1000.4, memory_size=256, max_memory_used_mb=40, init_duration_ms=None,
        status="error", error_type="Runtime.ExitError",
    )
    assert "Billed Duration: 1001 ms" in line and "Init Duration" not in line
    assert line.endswith("Status: error\tError Type: Runtime.ExitError\t\n")


def test_start_end_and_timeout_lines() -> None:
    assert reports.start_line("rid", "$LATEST") == "START RequestId: rid Version: $LATEST\n"
    assert reports.end_line("rid") == "END RequestId: rid\n"
    assert reports.timeout_line("rid", 3).endswith("Z rid Task timed out after 3.00 seconds\n")


def test_tail_is_the_last_4_kb_in_base64() -> None:
    logs = "a" * 5000 + "the end\n"
    tail = base64.b64decode(reports.tail(logs))
    assert len(tail) == 4096 and tail.endswith(b"the end\n")
