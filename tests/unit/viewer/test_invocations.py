"""A function's invocations read back from its log lines (Lambda's START/END/REPORT format)."""

from __future__ import annotations

from stepkit.runtime.reports import end_line, report_line, start_line
from stepkit.viewer.invocations import invocations


def _event(ms: int, message: str, stream: str = "s") -> dict:
    return {"timestamp": ms, "message": message, "logStreamName": stream}


def test_interleaved_invocations_with_their_reports():
    a, b = "11111111-aaaa", "22222222-bbbb"
    events = [
        _event(1000, start_line(a, "$LATEST")),
        _event(1001, start_line(b, "$LATEST")),
        _event(1002, f"[INFO] {a} working on a"),
        _event(1003, "a line naming no request"),
        _event(1004, end_line(a)),
        _event(1005, report_line(a, duration_ms=12.5, memory_size=128, max_memory_used_mb=40, init_duration_ms=55.0)),
        _event(1006, end_line(b)),
        _event(1007, report_line(b, duration_ms=3000.0, memory_size=256, max_memory_used_mb=41, init_duration_ms=None,
                                 status="timeout", error_type="Runtime.Timeout")),
    ]
    newest, oldest = invocations(events)
    assert (oldest.requestId, newest.requestId) == (a, b)
    assert oldest.report == {"durationMs": 12.5, "billedMs": 68.0, "memoryMB": 128.0, "maxMemoryMB": 40.0,
                             "initMs": 55.0}
    assert newest.report["status"] == "timeout" and newest.report["errorType"] == "Runtime.Timeout"
    assert f"[INFO] {a} working on a" in oldest.lines
    assert "a line naming no request" in newest.lines  # the latest started in its stream
    assert oldest.started == 1.0


def test_limit_keeps_the_newest_and_a_running_one_has_no_report():
    events = [_event(i, start_line(f"r{i}", "$LATEST")) for i in range(5)]
    found = invocations(events, limit=2)
    assert [i.requestId for i in found] == ["r4", "r3"] and found[0].report == {}


def test_lines_of_one_millisecond_keep_the_order_they_were_written():
    """moto counts event ids from 0: "10" is written after "9"."""
    lines = [start_line("r", "$LATEST"), "one", "two", "three", "four", "five", "six", "seven", "eight",
             end_line("r"), report_line("r", duration_ms=1.0, memory_size=128, max_memory_used_mb=10,
                                        init_duration_ms=None)]
    events = [dict(_event(5, line), eventId=str(i)) for i, line in enumerate(lines)]
    (only,) = invocations(list(reversed(events)))
    assert only.lines == [line.rstrip("\n") for line in lines] and only.report["durationMs"] == 1.0
