"""The endpoint's execution history: streamed to SQLite (nothing kept in memory), read a page at
a time by event id (a page reads its own rows, not the history), and the redrive rule of
AWS's history quota."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from stepkit.endpoint.protocol import AwsError, RequestContext
from stepkit.endpoint.stepfunctions import StepFunctionsService
from stepkit.endpoint.store import Store, page_query
from stepkit.engine.history import HistoryEvent
from stepkit.integrations.registry import IntegrationRegistry

CTX = RequestContext()
ROLE = "arn:aws:iam::123456789012:role/test"
STANDARD_ARN = "arn:aws:states:us-east-1:123456789012:execution:express:run"  # a machine named "express"
EXPRESS_ARN = "arn:aws:states:us-east-1:123456789012:express:flow:run:0d5b5f9c-7e52-4d7e-9d7a-0d6f1f1b7a11"


def _map(count: int) -> dict[str, Any]:
    """An inline Map over ``count`` items: 4 events per item, 6 around them."""
    return {
        "QueryLanguage": "JSONata",
        "StartAt": "Each",
        "States": {"Each": {
            "Type": "Map", "Items": f"{{% [1..{count}] %}}",
            "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}},
            "Output": "{% $count($states.result) %}", "End": True,
        }},
    }


def _run(svc: StepFunctionsService, definition: dict, machine_type: str = "STANDARD", name: str = "m") -> str:
    machine = svc.CreateStateMachine({"name": name, "type": machine_type, "definition": json.dumps(definition),
                                      "roleArn": ROLE}, CTX)["stateMachineArn"]
    arn = svc.StartExecution({"stateMachineArn": machine}, CTX)["executionArn"]
    assert svc.wait_idle(120)
    return arn


def _fill(store: Store, arn: str, count: int) -> None:
    store.add_events(arn, (HistoryEvent(i, i - 1, "PassStateEntered", 0.0, {"name": "P", "input": i}, 1)
                           for i in range(1, count + 1)))


def _vm_steps(path: Path, sql: str, args: tuple) -> tuple[int, int]:
    """SQLite virtual-machine steps a query takes (the rows it reads, not the time), and its rows."""
    db = sqlite3.connect(str(path))
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    db.set_progress_handler(count, 1)
    rows = db.execute(sql, args).fetchall()
    db.close()
    return steps[0], len(rows)


@pytest.mark.parametrize("reverse", [False, True])
def test_a_history_page_reads_only_its_rows(tmp_path: Path, reverse: bool) -> None:
    store = Store(tmp_path / "h.db")
    _fill(store, "small", 1_000)
    _fill(store, "large", 50_000)
    store.close()
    small = _vm_steps(tmp_path / "h.db", *page_query("small", 100, reverse=reverse))
    large = _vm_steps(tmp_path / "h.db", *page_query("large", 100, reverse=reverse))
    assert small == large and small[1] == 100  # the first page of 50,000 events costs what 1,000's does
    later = _vm_steps(tmp_path / "h.db", *page_query("large", 100, boundary=25_000, reverse=reverse))
    assert later == _vm_steps(tmp_path / "h.db", *page_query("small", 100, boundary=500, reverse=reverse))
    whole, rows = _vm_steps(tmp_path / "h.db", "SELECT data FROM history WHERE arn = ?", ("large",))
    assert rows == 50_000 and whole > 100 * large[0]  # the counter does see rows read


def test_a_history_page_is_a_range_search_of_the_primary_key(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.db")
    store.close()
    db = sqlite3.connect(str(tmp_path / "h.db"))
    for arn, table in ((STANDARD_ARN, "history"), (EXPRESS_ARN, "express_history")):
        for boundary in (None, 10):
            for reverse in (False, True):
                sql, args = page_query(arn, 100, boundary=boundary, reverse=reverse)
                plan = " ".join(row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", args))
                # the (arn, id) primary key's index, searched and read in order: no scan, no sort
                assert plan.startswith(f"SEARCH {table} USING INDEX sqlite_autoindex_{table}_1 (arn=?"), plan
                assert "SCAN" not in plan and "TEMP B-TREE" not in plan, plan
                if boundary is not None:
                    assert ("id<?" if reverse else "id>?") in plan, plan
    db.close()


def test_express_histories_do_not_outlive_the_endpoint_process(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.db")
    _fill(store, STANDARD_ARN, 3)
    _fill(store, EXPRESS_ARN, 3)
    store.close()
    store = Store(tmp_path / "h.db")
    StepFunctionsService(store, IntegrationRegistry).load()
    assert (store.last_event_id(STANDARD_ARN), store.last_event_id(EXPRESS_ARN)) == (3, 0)
    store.close()


def test_get_execution_history_pages_as_aws_in_both_orders(sfn_service: StepFunctionsService) -> None:
    arn = _run(sfn_service, _map(60))
    pages, token = [], None
    while True:
        p = {"executionArn": arn, "maxResults": 50, **({"nextToken": token} if token else {})}
        answer = sfn_service.GetExecutionHistory(p, CTX)
        pages.append(answer["events"])
        token = answer.get("nextToken")
        if token is None:
            break
    ids = [e["id"] for page in pages for e in page]
    assert [len(page) for page in pages] == [50, 50, 50, 50, 46] and ids == list(range(1, 247))
    assert pages[-1][-1]["type"] == "ExecutionSucceeded"
    first = sfn_service.GetExecutionHistory({"executionArn": arn, "reverseOrder": True, "maxResults": 3}, CTX)
    assert [e["id"] for e in first["events"]] == [246, 245, 244]
    second = sfn_service.GetExecutionHistory({"executionArn": arn, "reverseOrder": True, "maxResults": 3,
                                          "nextToken": first["nextToken"]}, CTX)
    assert [e["id"] for e in second["events"]] == [243, 242, 241]
    whole = sfn_service.GetExecutionHistory({"executionArn": arn, "maxResults": 1000}, CTX)
    assert "nextToken" not in whole and len(whole["events"]) == 246
    machine = sfn_service.executions[arn].machine_arn
    listed = sfn_service.ListExecutions({"stateMachineArn": machine, "maxResults": 1}, CTX)
    for bad in ("garbage", listed.get("nextToken") or "x"):
        with pytest.raises(AwsError) as exc:
            sfn_service.GetExecutionHistory({"executionArn": arn, "nextToken": bad}, CTX)
        assert exc.value.code == "InvalidToken"


def test_an_ended_execution_keeps_no_history_in_memory(sfn_service: StepFunctionsService) -> None:
    arn = _run(sfn_service, _map(50))
    assert sfn_service.supervisor.running == {}  # the run (and anything it held) is gone
    assert sfn_service.store.last_event_id(arn) == 206
    machine = sfn_service.CreateStateMachine({"name": "x", "type": "EXPRESS", "definition": json.dumps(_map(5)),
                                          "roleArn": ROLE}, CTX)["stateMachineArn"]
    answer = sfn_service.StartSyncExecution({"stateMachineArn": machine}, CTX)
    assert (answer["status"], answer["output"]) == ("SUCCEEDED", "5")
    assert sfn_service.store.last_event_id(answer["executionArn"]) == 0  # AWS keeps no Express record
    assert answer["executionArn"] not in sfn_service.executions


def test_an_express_history_is_readable_while_its_record_lives(sfn_service: StepFunctionsService) -> None:
    arn = _run(sfn_service, _map(1_000), "EXPRESS")  # 4,006 events, more than one batch of writes
    events = sfn_service.GetExecutionHistory({"executionArn": arn, "reverseOrder": True, "maxResults": 1}, CTX)
    assert events["events"][0]["id"] == 4006 and events["events"][0]["type"] == "ExecutionSucceeded"
    assert [e["id"] for e in sfn_service.execution_events(arn)] == list(range(1, 4007))


def test_redrive_of_an_execution_failed_at_the_history_quota_is_refused(sfn_service: StepFunctionsService) -> None:
    arn = _run(sfn_service, _map(8_000))
    described = sfn_service.DescribeExecution({"executionArn": arn}, CTX)
    assert (described["status"], described["error"]) == ("FAILED", "States.Runtime")
    assert described["cause"] == "The execution reached the maximum number of history events (25000)."
    assert (described["redriveStatus"], described["redriveStatusReason"]) == (
        "NOT_REDRIVABLE", "Execution history event limit exceeded.")
    with pytest.raises(AwsError) as exc:
        sfn_service.RedriveExecution({"executionArn": arn}, CTX)
    assert exc.value.code == "ExecutionNotRedrivable"
    assert str(exc.value.message).endswith("cannot be redriven: Execution history event limit exceeded.")
    assert sfn_service.DescribeExecution({"executionArn": arn}, CTX)["redriveCount"] == 0  # nothing changed
    assert sfn_service.store.last_event_id(arn) == 25_000


def test_a_failed_execution_under_the_quota_is_still_redrivable(sfn_service: StepFunctionsService) -> None:
    fail = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}
    arn = _run(sfn_service, fail)
    assert sfn_service.DescribeExecution({"executionArn": arn}, CTX)["redriveStatus"] == "REDRIVABLE"
