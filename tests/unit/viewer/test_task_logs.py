"""A Task state's Lambda log lines, found by request id (the history's ``lambda:invoke``
results, else the endpoint's ledger), never by time alone."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from stepkit.runtime.reports import end_line, report_line, start_line
from stepkit.viewer.task_logs import InvocationLedger, function_name, task_logs

ARN = "arn:aws:lambda:us-east-1:123456789012:function:greet"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:m:e"


def _history(*, invoke_id: str | None) -> list[dict[str, Any]]:
    """Call (a plain ARN, one retry) then Invoke (lambda:invoke, its result naming ``invoke_id``)."""
    params = json.dumps({"FunctionName": ARN, "Payload": {}})
    output = json.dumps({"Payload": {}, "SdkHttpMetadata": {"HttpHeaders": {"x-amzn-RequestId": invoke_id}}})
    rows = [
        ("ExecutionStarted", None, {}),
        ("TaskStateEntered", 1, {"name": "Call"}),
        ("LambdaFunctionScheduled", 2, {"resource": ARN}),
        ("LambdaFunctionFailed", 3, {"error": "ValueError"}),
        ("LambdaFunctionScheduled", 4, {"resource": ARN}),
        ("LambdaFunctionSucceeded", 5, {"output": "{}"}),
        ("TaskStateExited", 6, {"name": "Call"}),
        ("TaskStateEntered", 7, {"name": "Invoke"}),
        ("TaskScheduled", 8, {"resourceType": "lambda", "resource": "invoke", "parameters": params}),
        ("TaskSucceeded", 9, {"output": output} if invoke_id else {"output": "{}"}),
        ("TaskStateExited", 10, {"name": "Invoke"}),
    ]
    return [{"id": i + 1, "previousEventId": prev, "type": kind, "timestamp": 100.0 + i,
             "detailsEventDetails": details} for i, (kind, prev, details) in enumerate(rows)]


def _logs(*request_ids: str) -> dict[str, list[dict[str, Any]]]:
    lines = []
    for n, rid in enumerate(request_ids):
        for line in (start_line(rid, "$LATEST"), f"working {rid}", end_line(rid),
                     report_line(rid, duration_ms=2.0, memory_size=128, max_memory_used_mb=9, init_duration_ms=None)):
            lines.append({"timestamp": 101_000 + n, "message": line, "logStreamName": "s", "eventId": str(len(lines))})
    return {"greet": lines}


def _reader(logs: dict[str, list[dict[str, Any]]], asked: list[tuple[str, int, int | None]]):
    def read(function: str, start: int, end: int | None) -> list[dict[str, Any]]:
        asked.append((function, start, end))
        return logs.get(function, [])

    return read


def test_the_ledger_and_the_history_name_each_states_invocations():
    ledger = InvocationLedger()
    ledger.note(EXECUTION, "Call", ARN, "call-1")
    ledger.note(EXECUTION, "Call", "greet:prod", "call-2")
    ledger.note("another-execution", "Call", ARN, "elsewhere")
    asked: list[tuple[str, int, int | None]] = []
    read = _reader(_logs("call-1", "elsewhere", "call-2", "inv-1"), asked)
    events = _history(invoke_id="inv-1")

    call = task_logs(events, "Call", False, read, ledger.noted(EXECUTION, "Call"))
    assert [i["requestId"] for i in call["invocations"]] == ["call-2", "call-1"]  # newest first
    assert call["invocations"][0]["lines"][1] == "working call-2" and call["invocations"][0]["function"] == "greet"
    assert (call["calls"], call["unrecorded"], call["unlogged"]) == (2, 0, 0)
    assert asked == [("greet", 100_000, 107_000)]  # the state's time, a second either side

    invoke = task_logs(events, "Invoke", False, read, ledger.noted(EXECUTION, "Invoke"))
    assert [i["requestId"] for i in invoke["invocations"]] == ["inv-1"] and invoke["unrecorded"] == 0


def test_what_nobody_recorded_is_counted_not_guessed():
    read = _reader(_logs("call-1", "call-2"), [])
    call = task_logs(_history(invoke_id=None), "Call", False, read)
    assert call["invocations"] == [] and (call["calls"], call["unrecorded"]) == (2, 2)
    assert task_logs(_history(invoke_id=None), "Nowhere", False, read)["calls"] == 0


def test_a_running_state_reads_up_to_now_and_counts_lines_not_written_yet():
    asked: list[tuple[str, int, int | None]] = []
    running = _history(invoke_id=None)[:4]
    answer = task_logs(running, "Call", True, _reader({}, asked), [SimpleNamespace(request_id="r", function="greet")])
    assert asked == [("greet", 100_000, None)] and answer["unlogged"] == 1


def test_the_ledger_keeps_the_latest_executions_and_the_integration_notes_request_ids():
    ledger = InvocationLedger(limit=2)
    for n in range(3):
        ledger.note(f"e{n}", "S", f"123456789012:function:f{n}:1", f"r{n}")
    assert ledger.noted("e0", "S") == [] and ledger.noted("e2", "S")[0].function == "f2"
    assert function_name(ARN + ":$LATEST") == "greet" and function_name("greet") == "greet"

    class Service:
        def invoke(self, name: str, payload: bytes, **options: Any) -> Any:
            return SimpleNamespace(request_id="from-runtime", function_error=None, payload=b'{"ok": 1}',
                                   status_code=200, executed_version="$LATEST", error_type=None)

    resource = SimpleNamespace(is_lambda_function=True, arn=ARN)
    run = ledger.integration(Service())
    assert run(SimpleNamespace(resource=resource, parameters={}, execution_arn="e9", state_name="T")) == {"ok": 1}
    assert [(n.state, n.function, n.request_id) for n in ledger.noted("e9", "T")] == [("T", "greet", "from-runtime")]
