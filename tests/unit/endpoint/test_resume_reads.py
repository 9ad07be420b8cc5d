"""Resuming an execution after the endpoint stopped reads the history's top-level events and
its last event (a range search of a partial index), never the events of its Map
iterations: the rows read do not grow with the Map, and the execution still ends right."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from test_history_pages import _vm_steps

from stepkit.endpoint.protocol import RequestContext
from stepkit.endpoint.stepfunctions import StepFunctionsService
from stepkit.endpoint.store import TOP_LEVEL_PAGE, Store, top_level_query
from stepkit.engine.history import HistoryEvent
from stepkit.integrations.registry import IntegrationRegistry

CTX = RequestContext()
ROLE = "arn:aws:iam::123456789012:role/test"
ITEMS = 2_000
DEFINITION = {
    "QueryLanguage": "JSONata",
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map", "Items": f"{{% [1..{ITEMS}] %}}",
            "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}},
            "Assign": {"count": "{% $count($states.result) %}"}, "Next": "Hold",
        },
        "Hold": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:hold",
                 "Output": "{% {'count': $count, 'held': $states.result} %}", "End": True},
    },
}


def _fill(store: Store, arn: str, top: int, inner: int) -> None:
    """``top`` top-level events, then ``inner`` events of Map iterations (depth 1)."""
    store.add_events(arn, (HistoryEvent(i, i - 1, "PassStateEntered", 0.0, {"name": "P", "input": i},
                                        0 if i <= top else 1) for i in range(1, top + inner + 1)))


def test_top_level_events_read_only_top_level_rows(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.db")
    _fill(store, "small", 10, 1_000)
    _fill(store, "large", 10, 50_000)
    assert [e.event_id for e in store.top_level_events("large")] == list(range(1, 11))
    store.close()
    small = _vm_steps(tmp_path / "h.db", *top_level_query("small", 0, TOP_LEVEL_PAGE))
    large = _vm_steps(tmp_path / "h.db", *top_level_query("large", 0, TOP_LEVEL_PAGE))
    # 50,000 events of iterations cost what 1,000 do (give or take the step that finds the
    # end of the range: "large" sorts before "small" in the index)
    assert small[1] == large[1] == 10 and abs(small[0] - large[0]) <= 2
    whole, rows = _vm_steps(tmp_path / "h.db", "SELECT data FROM history WHERE arn = ?", ("large",))
    assert rows == 50_010 and whole > 100 * large[0]  # the counter does see rows read
    db = sqlite3.connect(str(tmp_path / "h.db"))
    sql, args = top_level_query("large", 0, TOP_LEVEL_PAGE)
    plan = " ".join(row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", args))
    db.close()
    assert plan.startswith("SEARCH history USING INDEX history_top (arn=? AND id>?)"), plan


def test_top_level_events_come_a_page_at_a_time_in_id_order(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.db")
    count = 2 * TOP_LEVEL_PAGE + 7
    _fill(store, "arn", count, 3)
    assert [e.event_id for e in store.top_level_events("arn")] == list(range(1, count + 1))
    assert store.last_event("arn").event_id == count + 3  # type: ignore[union-attr]
    assert store.last_event("none") is None
    store.close()


def test_a_history_written_before_the_depth_column_gains_it(tmp_path: Path) -> None:
    """A state dir of an earlier stepkit: its history rows get their depth from their JSON."""
    db = sqlite3.connect(str(tmp_path / "h.db"))
    db.execute("CREATE TABLE history (arn TEXT NOT NULL, id INTEGER NOT NULL, data TEXT NOT NULL, "
               "PRIMARY KEY (arn, id))")
    for i, depth in ((1, 0), (2, 1), (3, 0)):
        record = HistoryEvent(i, i - 1, "PassStateEntered", 0.0, None, depth).to_record()
        db.execute("INSERT INTO history VALUES (?, ?, ?)", ("old", i, json.dumps(record)))
    db.commit()
    db.close()
    store = Store(tmp_path / "h.db")
    assert [e.event_id for e in store.top_level_events("old")] == [1, 3]
    store.close()
    # An earlier stepkit writing to the migrated database leaves depth empty: the next open fills it.
    db = sqlite3.connect(str(tmp_path / "h.db"))
    record = HistoryEvent(4, 3, "PassStateExited", 0.0, None, 0).to_record()
    db.execute("INSERT INTO history (arn, id, data) VALUES (?, ?, ?)", ("old", 4, json.dumps(record)))
    db.commit()
    db.close()
    store = Store(tmp_path / "h.db")
    assert [e.event_id for e in store.top_level_events("old")] == [1, 3, 4]
    store.close()


def test_a_migration_that_fails_leaves_the_database_as_it_was(tmp_path: Path, monkeypatch: Any) -> None:
    """The depth column is added in one transaction: a failure part way rolls it back, and the
    next open migrates the table whole."""
    db = sqlite3.connect(str(tmp_path / "h.db"))
    db.execute("CREATE TABLE history (arn TEXT NOT NULL, id INTEGER NOT NULL, data TEXT NOT NULL, "
               "PRIMARY KEY (arn, id))")
    db.execute("INSERT INTO history VALUES (?, ?, ?)",
               ("old", 1, json.dumps(HistoryEvent(1, 0, "ExecutionStarted", 0.0, None, 0).to_record())))
    db.commit()
    db.close()
    real_connect = sqlite3.connect

    class FailingUpdate:
        """A connection whose first depth UPDATE fails, as a full disk would."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._db = real_connect(*args, **kwargs)

        def execute(self, sql: str, *args: Any) -> Any:
            if sql.startswith("UPDATE history SET depth"):
                raise sqlite3.OperationalError("database or disk is full")
            return self._db.execute(sql, *args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._db, name)

    monkeypatch.setattr(sqlite3, "connect", FailingUpdate)
    with pytest.raises(sqlite3.OperationalError):
        Store(tmp_path / "h.db")
    monkeypatch.undo()
    db = sqlite3.connect(str(tmp_path / "h.db"))
    assert "depth" not in {row[1] for row in db.execute("PRAGMA table_info(history)")}
    db.close()
    store = Store(tmp_path / "h.db")
    assert [e.event_id for e in store.top_level_events("old")] == [1]
    store.close()


def _service(store: Store, hold: Any) -> StepFunctionsService:
    def registry() -> IntegrationRegistry:
        reg = IntegrationRegistry()
        reg.register_function("hold", hold)
        return reg

    return StepFunctionsService(store, registry)


def test_a_resumed_execution_reads_its_top_level_events_not_its_map(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The endpoint stops while the execution is in its Task after a Map of 2,000 items; the
    next endpoint resumes it, reading its top-level rows and its last one (fewer than ten),
    not its 8,000 events of iterations, and the execution ends as it would have."""
    entered, release = threading.Event(), threading.Event()

    def held(event: Any) -> Any:
        entered.set()
        release.wait(300)
        return "first"

    first_store = Store(tmp_path / "state.db")
    first = _service(first_store, held)
    machine = first.CreateStateMachine({"name": "m", "definition": json.dumps(DEFINITION), "roleArn": ROLE},
                                       CTX)["stateMachineArn"]
    arn = first.StartExecution({"stateMachineArn": machine, "name": "long"}, CTX)["executionArn"]
    try:
        assert entered.wait(120)
        first.close()
        recorded = first_store.last_event_id(arn)
        top_level = sum(1 for _ in first_store.top_level_events(arn))
        assert recorded > 4 * ITEMS and top_level < 10

        fetched = []
        real = HistoryEvent.from_record.__func__  # type: ignore[attr-defined]

        def counting(cls: type, record: dict) -> HistoryEvent:
            fetched.append(record["id"])
            return real(cls, record)

        second_store = Store(tmp_path / "state.db")
        second = _service(second_store, lambda event: "second")
        monkeypatch.setattr(HistoryEvent, "from_record", classmethod(counting))
        second.resume_all(second.load())
        assert second.wait_idle(120)
        monkeypatch.undo()
        assert len(fetched) <= top_level + 1, len(fetched)  # the top-level rows and the last one

        described = second.DescribeExecution({"executionArn": arn}, CTX)
        assert described["status"] == "SUCCEEDED"
        assert json.loads(described["output"]) == {"count": ITEMS, "held": "second"}
        # the Task in flight runs again (as AWS re-runs a task), its events numbered on
        events = second.GetExecutionHistory({"executionArn": arn, "reverseOrder": True, "maxResults": 6}, CTX)
        assert [(e["id"], e["type"]) for e in reversed(events["events"])] == [
            (recorded + 1, "TaskStateEntered"), (recorded + 2, "LambdaFunctionScheduled"),
            (recorded + 3, "LambdaFunctionStarted"), (recorded + 4, "LambdaFunctionSucceeded"),
            (recorded + 5, "TaskStateExited"), (recorded + 6, "ExecutionSucceeded"),
        ]
        second.close()
        second_store.close()
    finally:
        release.set()
        first.wait_idle(60)
        first_store.close()
