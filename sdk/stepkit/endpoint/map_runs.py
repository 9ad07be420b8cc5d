"""Distributed Map runs as the Step Functions API shows them: AWS's response shapes for a
Map Run and its child executions, and where the endpoint finds a Map Run by ARN (in a
running execution, in memory after it ended, or in the store after a restart)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from stepkit.endpoint.protocol import AwsError
from stepkit.endpoint.sfn_records import EXECUTION_ARN
from stepkit.endpoint.store import Store
from stepkit.engine.execution import ExecutionRun
from stepkit.engine.map_run import ChildExecution, MapRun

_FAILED = ("FAILED", "ABORTED", "TIMED_OUT")
_COUNT_KEY = {"RUNNING": "running", "SUCCEEDED": "succeeded", "FAILED": "failed", "TIMED_OUT": "timedOut",
              "ABORTED": "aborted", "PENDING": "pending", "PENDING_REDRIVE": "pendingRedrive"}


# -- AWS's shapes (dates as epoch seconds) ----------------------------------------------------
def _counts(map_run: MapRun, *, by_items: bool) -> dict[str, int]:
    counts = dict.fromkeys(
        ("pending", "running", "succeeded", "failed", "timedOut", "aborted", "total", "resultsWritten",
         "failuresNotRedrivable", "pendingRedrive"),
        0,
    )
    for child in list(map_run.children):
        n = child.items if by_items else 1
        counts[_COUNT_KEY.get(child.status, "pending")] += n
        counts["total"] += n
        if child.result_written:
            counts["resultsWritten"] += n
        if child.status in _FAILED and child.express:
            counts["failuresNotRedrivable"] += n
    for unit in list(map_run.pending):
        n = unit.items if by_items else 1
        counts["pending"] += n
        counts["total"] += n
    return counts


def _map_run_fields(map_run: MapRun) -> dict[str, Any]:
    """What DescribeMapRun and a ListMapRuns entry both give."""
    out: dict[str, Any] = {"mapRunArn": map_run.arn, "executionArn": map_run.execution_arn,
                           "startDate": map_run.start_date}
    if map_run.stop_date is not None:
        out["stopDate"] = map_run.stop_date
    return out


def describe_map_run(map_run: MapRun) -> dict[str, Any]:
    """DescribeMapRun's answer."""
    out = _map_run_fields(map_run)
    out.update(
        status=map_run.status,
        maxConcurrency=map_run.max_concurrency,
        toleratedFailurePercentage=float(map_run.tolerated_failure_percentage or 0),
        toleratedFailureCount=int(map_run.tolerated_failure_count or 0),
        itemCounts=_counts(map_run, by_items=True),
        executionCounts=_counts(map_run, by_items=False),
        redriveCount=map_run.redrive_count,
    )
    if map_run.redrive_date is not None:
        out["redriveDate"] = map_run.redrive_date
    return out


def map_run_summary(map_run: MapRun) -> dict[str, Any]:
    """A ListMapRuns entry."""
    return _map_run_fields(map_run) | {"stateMachineArn": map_run.state_machine_arn}


def _child_fields(child: ChildExecution) -> dict[str, Any]:
    out: dict[str, Any] = {
        "executionArn": child.arn,
        "stateMachineArn": child.state_machine_arn,
        "name": child.name,
        "status": child.status,
        "startDate": child.start_date,
        "mapRunArn": child.map_run.arn,
    }
    if child.stop_date is not None:
        out["stopDate"] = child.stop_date
    return out


def describe_child(child: ChildExecution) -> dict[str, Any]:
    """DescribeExecution's answer for a Map Run's child execution."""
    out = _child_fields(child)
    out.update(input=child.input_text, inputDetails={"included": True})
    if child.status == "SUCCEEDED":
        out.update(output=child.output_text, outputDetails={"included": True})
    if child.error is not None:
        out["error"] = child.error
    if child.cause is not None:
        out["cause"] = child.cause
    status, reason = child.redrive_status()
    out.update(redriveCount=child.redrive_count, redriveStatus=status)
    if reason:
        out["redriveStatusReason"] = reason
    if child.redrive_date is not None:
        out["redriveDate"] = child.redrive_date
    return out


def child_summary(child: ChildExecution) -> dict[str, Any]:
    """A ListExecutions entry (``mapRunArn`` and ``itemCount`` as AWS gives them for children)."""
    out = _child_fields(child)
    out["itemCount"] = child.items
    if child.redrive_count:
        out.update(redriveCount=child.redrive_count, redriveDate=child.redrive_date)
    return out


# -- finding Map Runs ----------------------------------------------------------------------------
class MapRunDirectory:
    """Every Map Run the endpoint knows: those of running executions (``live`` lists them as
    ``(execution ARN, run)``), those kept in memory since their execution ended, and those
    of the store (read on demand after a restart)."""

    def __init__(self, store: Store, live: Callable[[], list[tuple[str, ExecutionRun]]]) -> None:
        self.store = store
        self.live = live
        self._lock = threading.Lock()
        self._ended: dict[str, MapRun] = {}  # Map Runs of finished executions, read on demand
        self._owner: dict[str, str] = {}  # Map Run ARN -> execution ARN

    def load(self) -> None:
        for rec in self.store.all("map_run_owner"):
            self._owner[rec["map_run_arn"]] = rec["execution_arn"]

    def _live(self) -> dict[str, MapRun]:
        found: dict[str, MapRun] = {}
        for execution_arn, run in self.live():
            for arn, map_run in list(run.map_runs.items()):
                found[arn] = map_run
                with self._lock:
                    self._owner.setdefault(arn, execution_arn)
        return found

    def get(self, arn: str) -> MapRun:
        """The Map Run ``arn``, or AWS's ResourceNotFound."""
        live = self._live()
        if arn in live:
            return live[arn]
        map_run = self._ended.get(arn)
        if map_run is None and arn in self._owner:
            record = self.store.get("map_run", arn)
            if record is not None:
                map_run = self._ended[arn] = MapRun.from_record(record)
        if map_run is None:
            raise AwsError("ResourceNotFound", f"Resource not found: '{arn}'")
        return map_run

    def known(self, owner: str | None = None) -> list[MapRun]:
        """Every Map Run this endpoint knows (of the execution ``owner`` when given)."""
        live = self._live()
        found = []
        with self._lock:
            owners = list(self._owner.items())
        for arn, owned_by in owners:
            if owner is not None and owned_by != owner:
                continue
            map_run = live.get(arn)
            if map_run is None:
                with contextlib.suppress(AwsError):  # an execution that never finished has none kept
                    map_run = self.get(arn)
            if map_run is not None:
                found.append(map_run)
        return found

    def started_by(self, execution_arn: str) -> list[MapRun]:
        """The Map Runs an execution (or a child execution) started itself."""
        runs = self.known()
        return sorted((m for m in runs if m.execution_arn == execution_arn), key=lambda m: (m.start_date, m.arn))

    def child(self, arn: str) -> ChildExecution | None:
        """A Distributed Map child execution, if ``arn`` names one."""
        if EXECUTION_ARN.fullmatch(arn) is None or "/" not in arn.split(":")[6]:
            return None
        for map_run in self.known():
            child = map_run.find(arn)
            if child is not None:
                return child
        return None

    def keep(self, execution_arn: str, run: ExecutionRun, *, persist: bool) -> None:
        """Keep the Map Runs of an execution that ended (DescribeMapRun, ListExecutions of
        a Map Run, the children's histories, and a later redrive need them)."""
        for arn, map_run in list(run.map_runs.items()):
            self._ended[arn] = map_run
            with self._lock:
                self._owner[arn] = execution_arn
            if persist:
                self.store.put("map_run", arn, map_run.to_record())
                self.store.put("map_run_owner", arn, {"map_run_arn": arn, "execution_arn": execution_arn})
