"""The viewer's execution API polled with ``after``: it reads from the endpoint's store only the
events after that id (counted here as the rows the store returns, never as time), and a poll
for an execution it holds no summary of reads the history a page at a time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stepkit.endpoint.protocol import RequestContext
from stepkit.endpoint.stepfunctions import StepFunctionsService
from stepkit.endpoint.store import Store
from stepkit.engine.history import HistoryEvent
from stepkit.integrations.registry import IntegrationRegistry
from stepkit.viewer.api import ViewerApp

CTX = RequestContext()
ROLE = "arn:aws:iam::123456789012:role/test"
ITEMS = 300  # an inline Map: 4 events per item, 6 around them
TOTAL = 4 * ITEMS + 6
MAP = {
    "QueryLanguage": "JSONata",
    "StartAt": "Each",
    "States": {"Each": {
        "Type": "Map", "Items": f"{{% [1..{ITEMS}] %}}",
        "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}},
        "End": True,
    }},
}


class _CountingStore(Store):
    """A store that counts the history rows it hands out, and how often a whole history is read."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.rows = 0
        self.whole_reads = 0
        self.largest_page = 0

    def events(self, arn: str) -> list[HistoryEvent]:
        found = super().events(arn)
        self.whole_reads += 1
        self.rows += len(found)
        return found

    def events_page(self, arn: str, limit: int, *, boundary: int | None = None,
                    reverse: bool = False) -> list[HistoryEvent]:
        found = super().events_page(arn, limit, boundary=boundary, reverse=reverse)
        self.rows += len(found)
        self.largest_page = max(self.largest_page, len(found))
        return found


class _Endpoint:
    def __init__(self, service: StepFunctionsService) -> None:
        self.stepfunctions = service
        self.guard = None

    def client(self, service: str) -> Any:
        raise AssertionError("the execution API calls no AWS client")


@pytest.fixture
def setup(tmp_path: Path) -> Any:
    store = _CountingStore(tmp_path / "state.db")
    service = StepFunctionsService(store, IntegrationRegistry)
    machine = service.CreateStateMachine({"name": "m", "definition": json.dumps(MAP), "roleArn": ROLE},
                                         CTX)["stateMachineArn"]
    arn = service.StartExecution({"stateMachineArn": machine}, CTX)["executionArn"]
    assert service.wait_idle(120)
    yield store, service, arn
    service.close()
    store.close()


def _get(app: ViewerApp, arn: str, after: int | None = None) -> dict[str, Any]:
    query = {"arn": [arn]} if after is None else {"arn": [arn], "after": [str(after)]}
    return app.execution(query)


def _append(store: Store, arn: str, first: int, count: int) -> None:
    """Events a still-running execution would add: entries of a state the summary must show."""
    store.add_events(arn, (HistoryEvent(i, i - 1, "PassStateEntered", 0.0, {"name": "Late", "input": "{}"}, 1)
                           for i in range(first, first + count)))


def test_a_poll_reads_only_the_new_rows(setup: Any) -> None:
    store, service, arn = setup
    app = ViewerApp(_Endpoint(service))
    whole = _get(app, arn)
    assert whole["eventCount"] == TOTAL == len(whole["events"])
    assert store.whole_reads == 1

    store.rows = store.whole_reads = 0
    quiet = _get(app, arn, TOTAL)
    assert quiet["events"] == [] and quiet["eventCount"] == TOTAL and quiet["states"] == whole["states"]
    assert store.rows == 0 and store.whole_reads == 0

    _append(store, arn, TOTAL + 1, 5)
    store.rows = 0
    tail = _get(app, arn, TOTAL)
    assert [e["id"] for e in tail["events"]] == list(range(TOTAL + 1, TOTAL + 6))
    assert tail["eventCount"] == TOTAL + 5
    assert store.rows == 5 and store.whole_reads == 0  # the 5 new rows, not the history
    late = next(s for s in tail["states"] if s["name"] == "Late")
    assert late["entries"] == 5 and late["status"] == "ABORTED"  # entered, in an execution that ended


def test_a_page_behind_the_summary_reads_from_its_own_last_event(setup: Any) -> None:
    """Two pages on one execution: the one that last saw event 10 gets every event after 10,
    and the rows read are those events."""
    store, service, arn = setup
    app = ViewerApp(_Endpoint(service))
    whole = _get(app, arn)
    store.rows = store.whole_reads = 0
    behind = _get(app, arn, 10)
    assert behind["events"] == whole["events"][10:] and behind["states"] == whole["states"]
    assert store.rows == TOTAL - 10 and store.whole_reads == 0


def test_after_a_restart_a_poll_streams_the_history_once(setup: Any) -> None:
    """A viewer with no summary of the execution (a restarted endpoint) builds it from the
    whole history read a page at a time (never the whole history in one list), then goes on
    reading only new rows."""
    store, service, arn = setup
    reference = _get(ViewerApp(_Endpoint(service)), arn)
    app = ViewerApp(_Endpoint(service))  # knows nothing of the execution
    store.rows = store.whole_reads = store.largest_page = 0
    first = _get(app, arn, TOTAL - 2)
    assert [e["id"] for e in first["events"]] == [TOTAL - 1, TOTAL]
    assert first["states"] == reference["states"] and first["eventCount"] == TOTAL
    assert store.whole_reads == 0 and store.rows == TOTAL and store.largest_page < TOTAL
    _append(store, arn, TOTAL + 1, 2)
    store.rows = 0
    assert len(_get(app, arn, TOTAL)["events"]) == 2 and store.rows == 2


def test_a_history_shorter_than_what_was_read_is_read_again(setup: Any) -> None:
    store, service, arn = setup
    app = ViewerApp(_Endpoint(service))
    _get(app, arn)
    _append(store, arn, TOTAL + 1, 3)
    assert _get(app, arn, TOTAL)["eventCount"] == TOTAL + 3
    store.delete_events(arn, TOTAL)  # the history was written again, shorter
    again = _get(app, arn, TOTAL)
    assert again["events"] == [] and again["eventCount"] == TOTAL
    assert all(s["name"] != "Late" for s in again["states"])
