"""An execution's events read state by state: statuses, retries, errors, interleaved branches."""

from __future__ import annotations

from typing import Any

from stepkit.viewer.history import StateRunFold, state_runs


def _events(*specs: tuple[str, int, dict[str, Any] | None]) -> list[dict[str, Any]]:
    """(type, previous id, details) triples, numbered from 1, a second apart."""
    out = []
    for i, (kind, previous, details) in enumerate(specs, 1):
        event: dict[str, Any] = {"id": i, "previousEventId": previous, "type": kind, "timestamp": 1000.0 + i}
        if details is not None:
            event["someEventDetails"] = details
        out.append(event)
    return out


def test_retry_then_success_counts_one_retry_and_the_last_output():
    events = _events(
        ("ExecutionStarted", 0, {"input": "{}"}),
        ("TaskStateEntered", 1, {"name": "Work", "input": '{"a":1}'}),
        ("LambdaFunctionScheduled", 2, {}),
        ("LambdaFunctionFailed", 3, {"error": "Boom", "cause": "first try"}),
        ("LambdaFunctionScheduled", 4, {}),
        ("LambdaFunctionSucceeded", 5, {"output": '{"ok":true}'}),
        ("TaskStateExited", 6, {"name": "Work", "output": '{"ok":true}'}),
    )
    (work,) = state_runs(events, "SUCCEEDED")
    data = work.to_dict()
    assert (data["status"], data["retries"], data["errors"], data["error"]) == ("SUCCEEDED", 1, 1, "Boom")
    assert data["durationMs"] == 5000 and data["output"] == '{"ok":true}' and data["type"] == "Task"


def test_failure_left_by_a_catch_is_caught_and_an_unhandled_one_failed():
    events = _events(
        ("TaskStateEntered", 0, {"name": "A"}),
        ("TaskScheduled", 1, {}),
        ("TaskFailed", 2, {"error": "E", "cause": "c"}),
        ("TaskStateExited", 3, {"name": "A", "output": "{}"}),
        ("TaskStateEntered", 4, {"name": "B"}),
        ("TaskScheduled", 5, {}),
        ("TaskFailed", 6, {"error": "F", "cause": "d"}),
        ("ExecutionFailed", 7, {"error": "F", "cause": "d"}),
    )
    runs = {r.name: r for r in state_runs(events, "FAILED")}
    assert runs["A"].status == "CAUGHT" and runs["B"].status == "FAILED" and runs["B"].cause == "d"


def test_interleaved_branches_follow_previous_event_ids():
    events = _events(
        ("ParallelStateEntered", 0, {"name": "P"}),
        ("ParallelStateStarted", 1, None),
        ("PassStateEntered", 2, {"name": "Left"}),
        ("WaitStateEntered", 2, {"name": "Right"}),
        ("PassStateExited", 3, {"name": "Left", "output": "1"}),
    )
    runs = {r.name: r for r in state_runs(events, "RUNNING")}
    assert runs["Left"].status == "SUCCEEDED" and runs["Right"].status == "RUNNING"
    assert runs["P"].status == "RUNNING" and runs["P"].retries == 0
    aborted = {r.name: r for r in state_runs(events, "ABORTED")}
    assert aborted["Right"].status == "ABORTED"


def test_a_state_entered_per_item_spans_first_entry_to_last_exit():
    events = _events(
        ("MapStateEntered", 0, {"name": "M"}),
        ("MapStateStarted", 1, None),
        ("PassStateEntered", 2, {"name": "Item"}),
        ("PassStateEntered", 2, {"name": "Item"}),
        ("PassStateExited", 3, {"name": "Item", "output": "a"}),
        ("PassStateExited", 4, {"name": "Item", "output": "b"}),
    )
    item = next(r for r in state_runs(events, "RUNNING") if r.name == "Item")
    assert (item.entries, item.exits, item.status, item.output) == (2, 2, "SUCCEEDED", "b")
    assert item.to_dict()["durationMs"] == 3000


def test_a_fold_fed_in_pieces_agrees_with_one_read_and_a_stopped_execution_aborts_running_states():
    events = _events(
        ("ExecutionStarted", 0, {}),
        ("ParallelStateEntered", 1, {"name": "Both"}),
        ("PassStateEntered", 2, {"name": "Left"}),
        ("TaskStateEntered", 2, {"name": "Right"}),
        ("PassStateExited", 3, {"name": "Left", "output": "1"}),
        ("TaskScheduled", 4, {}),
        ("TaskFailed", 6, {"error": "E"}),
        ("TaskScheduled", 7, {}),
    )
    whole = [run.to_dict() for run in state_runs(events, "RUNNING")]
    fold = StateRunFold()
    for piece in (events[:3], events[3:6], events[6:]):
        fold.feed(piece)
    assert [run.to_dict() for run in fold.runs("RUNNING")] == whole
    assert (fold.count, fold.last_id) == (8, 8)
    assert {r.name: r.status for r in fold.runs("ABORTED")} == {"Both": "ABORTED", "Left": "SUCCEEDED",
                                                              "Right": "ABORTED"}
    assert {r.name: r.status for r in fold.runs("RUNNING")}["Right"] == "RUNNING"  # asking changed nothing
