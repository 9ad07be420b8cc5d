"""Following an execution through GetExecutionHistory: new events as they come, the
training candidates' results, and how long each top-level state took."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
_EXECUTION_END = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"}


@dataclass
class Candidate:
    candidate_id: str
    family: str = ""
    status: str = "RUNNING"
    score: float | None = None
    error: str | None = None
    seconds: float | None = None


@dataclass
class StageTime:
    name: str
    kind: str
    started: float
    ended: float | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.ended is None else self.ended - self.started


@dataclass
class MapItems:
    """How many items one Map state ran: iterations of an inline Map (from the history),
    item counts of a Distributed Map's Map Run (DescribeMapRun)."""

    name: str
    started: int = 0
    succeeded: int = 0
    failed: int = 0
    map_run_arn: str | None = None

    def describe(self) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        return f"{self.succeeded}/{self.started} items{failed}"


@dataclass
class ExecutionView:
    """What the demo shows of one execution, built from its history events."""

    arn: str
    metric: str = "balanced_accuracy"
    candidate_state: str = "Train"
    events: dict[int, dict[str, Any]] = field(default_factory=dict)
    depths: dict[int, int] = field(default_factory=dict)
    stages: list[StageTime] = field(default_factory=list)
    candidates: dict[str, Candidate] = field(default_factory=dict)
    maps: dict[str, MapItems] = field(default_factory=dict)
    ended: dict[str, Any] | None = None

    def _state_of(self, event: dict[str, Any]) -> str | None:
        """The state an event belongs to: follow previousEventId back to its StateEntered."""
        current: dict[str, Any] | None = event
        while current is not None:
            details = current.get("stateEnteredEventDetails")
            if details is not None:
                return details["name"]
            current = self.events.get(current.get("previousEventId", 0))
        return None

    def add(self, event: dict[str, Any]) -> Candidate | StageTime | None:
        """Take one event; returns what it changed that is worth showing."""
        self.events[event["id"]] = event
        depth = self._depth(event)
        kind = event["type"]
        ts = event["timestamp"].timestamp() if hasattr(event["timestamp"], "timestamp") else float(event["timestamp"])
        if kind in _EXECUTION_END:
            self.ended = event
            return None
        if kind.endswith("StateEntered") and depth == 0:
            stage = StageTime(event["stateEnteredEventDetails"]["name"], kind[: -len("StateEntered")], ts)
            self.stages.append(stage)
            return stage
        if kind.endswith("StateExited") and depth == 0:
            name = event["stateExitedEventDetails"]["name"]
            for stage in reversed(self.stages):
                if stage.name == name and stage.ended is None:
                    stage.ended = ts
                    return stage
            return None
        if kind in ("TaskSucceeded", "TaskFailed") and self._state_of(event) == self.candidate_state:
            return self._candidate(event, ts)
        self._count_map_items(event)
        return None

    def _count_map_items(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind not in ("MapIterationStarted", "MapIterationSucceeded", "MapIterationFailed", "MapRunStarted"):
            return
        details = event.get("mapIterationStartedEventDetails") or event.get("mapIterationSucceededEventDetails") \
            or event.get("mapIterationFailedEventDetails") or {}
        name = details.get("name") or self._state_of(event) or "Map"
        items = self.maps.setdefault(name, MapItems(name))
        if kind == "MapRunStarted":
            items.map_run_arn = event["mapRunStartedEventDetails"]["mapRunArn"]
        elif kind == "MapIterationStarted":
            items.started += 1
        elif kind == "MapIterationSucceeded":
            items.succeeded += 1
        else:
            items.failed += 1

    def count_map_runs(self, sfn: Any) -> None:
        """Fill in the items of each Distributed Map from its Map Run (its items are child
        executions, not events of this history)."""
        for items in self.maps.values():
            if items.map_run_arn:
                counts = sfn.describe_map_run(mapRunArn=items.map_run_arn)["itemCounts"]
                items.started, items.succeeded = counts["total"], counts["succeeded"]
                items.failed = counts["failed"] + counts.get("timedOut", 0) + counts.get("aborted", 0)

    def _depth(self, event: dict[str, Any]) -> int:
        """How deep in Map iterations / Parallel branches an event is (0: the top level).

        An iteration's events chain back to its MapIterationStarted, a branch's to the
        ParallelStateStarted; everything else is as deep as the event before it.
        """
        prev = self.events.get(event.get("previousEventId", 0))
        depth = 0 if prev is None else self.depths.get(prev["id"], 0)
        if event["type"] == "MapIterationStarted" or (prev is not None and prev["type"] == "ParallelStateStarted"):
            depth += 1
        self.depths[event["id"]] = depth
        return depth

    def _candidate(self, event: dict[str, Any], ts: float) -> Candidate:
        if event["type"] == "TaskSucceeded":
            payload = json.loads(event["taskSucceededEventDetails"]["output"]).get("Payload") or {}
            cid = str(payload.get("candidate_id", f"#{len(self.candidates)}"))
            validation = payload.get("validation") or {}
            cand = Candidate(cid, payload.get("family", ""), "SUCCEEDED", validation.get(self.metric),
                             seconds=payload.get("train_seconds"))
        else:
            details = event["taskFailedEventDetails"]
            cid = f"failed #{sum(c.status == 'FAILED' for c in self.candidates.values()) + 1}"
            cand = Candidate(cid, status="FAILED", error=f"{details.get('error')}: {str(details.get('cause'))[:120]}")
        self.candidates[cid] = cand
        return cand


def cold_starts(logs: Any, groups: list[str]) -> list[float]:
    """When each cold start of these functions ended (epoch seconds): the REPORT lines that
    carry an Init Duration, as Lambda writes one for an invocation that started a worker."""
    found: list[float] = []
    for group in groups:
        kwargs: dict[str, Any] = {"logGroupName": group}
        while True:
            try:
                page = logs.filter_log_events(**kwargs)
            except ClientError:  # a function never invoked has no log group: no cold start
                break
            found.extend(e["timestamp"] / 1000 for e in page.get("events", [])
                         if e["message"].startswith("REPORT") and "Init Duration" in e["message"])
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    return sorted(found)


def follow(sfn: Any, arn: str, *, poll: float = 0.3, deadline: float = 1800.0,
           should_stop: Callable[[], bool] | None = None) -> Iterator[dict[str, Any]]:
    """Yield an execution's history events as they are recorded, until it ends."""
    seen = 0
    give_up = time.monotonic() + deadline
    while True:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        yield from events[seen:]
        seen = len(events)
        if any(e["type"] in _EXECUTION_END for e in events[-1:]):
            return
        if time.monotonic() > give_up or (should_stop is not None and should_stop()):
            raise TimeoutError(f"{arn} did not finish within {deadline:.0f}s")
        time.sleep(poll)


def wait_for_new_execution(sfn: Any, machine_arn: str, known: set[str], *, deadline: float = 60.0) -> str:
    """The ARN of an execution of ``machine_arn`` not in ``known`` (one a trigger started)."""
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        for item in sfn.list_executions(stateMachineArn=machine_arn)["executions"]:
            if item["executionArn"] not in known:
                return item["executionArn"]
        time.sleep(0.2)
    raise TimeoutError(f"no execution of {machine_arn} started within {deadline:.0f}s of the upload")
