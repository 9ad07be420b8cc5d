"""Execution history: cheap records while running, AWS-shaped dicts on demand."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

# The details key AWS uses for each event type (GetExecutionHistory's shape).
_DETAILS_KEY_BY_SUFFIX = (
    ("StateEntered", "stateEnteredEventDetails"),
    ("StateExited", "stateExitedEventDetails"),
)
_DETAILS_KEY = {
    "ExecutionStarted": "executionStartedEventDetails",
    "ExecutionSucceeded": "executionSucceededEventDetails",
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
    "ExecutionRedriven": "executionRedrivenEventDetails",
    "ActivityScheduled": "activityScheduledEventDetails",
    "ActivityScheduleFailed": "activityScheduleFailedEventDetails",
    "ActivityStarted": "activityStartedEventDetails",
    "ActivitySucceeded": "activitySucceededEventDetails",
    "ActivityFailed": "activityFailedEventDetails",
    "ActivityTimedOut": "activityTimedOutEventDetails",
    "TaskScheduled": "taskScheduledEventDetails",
    "TaskStarted": "taskStartedEventDetails",
    "TaskSubmitted": "taskSubmittedEventDetails",
    "TaskSucceeded": "taskSucceededEventDetails",
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "LambdaFunctionScheduled": "lambdaFunctionScheduledEventDetails",
    "LambdaFunctionStartFailed": "lambdaFunctionStartFailedEventDetails",
    "LambdaFunctionSucceeded": "lambdaFunctionSucceededEventDetails",
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventDetails",
    "MapStateStarted": "mapStateStartedEventDetails",
    "MapIterationStarted": "mapIterationStartedEventDetails",
    "MapIterationSucceeded": "mapIterationSucceededEventDetails",
    "MapIterationFailed": "mapIterationFailedEventDetails",
    "MapIterationAborted": "mapIterationAbortedEventDetails",
    "MapRunStarted": "mapRunStartedEventDetails",
    "MapRunFailed": "mapRunFailedEventDetails",
    "MapRunRedriven": "mapRunRedrivenEventDetails",
    "EvaluationFailed": "evaluationFailedEventDetails",
}
_SERIALISED = {"input", "output", "parameters"}
_SERIALISED_MAPS = {"assignedVariables"}


def _details_key(event_type: str) -> str | None:
    key = _DETAILS_KEY.get(event_type)
    if key is None:
        for suffix, name in _DETAILS_KEY_BY_SUFFIX:
            if event_type.endswith(suffix):
                return name
    return key


class HistoryEvent:
    """One event. ``details`` holds raw values; ``to_aws`` serialises them as AWS does."""

    __slots__ = ("depth", "details", "event_id", "event_type", "previous_id", "timestamp")

    def __init__(
        self,
        event_id: int,
        previous_id: int,
        event_type: str,
        timestamp: float,
        details: dict | None,
        depth: int = 0,
    ) -> None:
        self.event_id = event_id
        self.previous_id = previous_id
        self.event_type = event_type
        self.timestamp = timestamp
        self.details = details
        self.depth = depth  # 0 for the top level, +1 per Map iteration / Parallel branch

    def to_record(self) -> dict[str, Any]:
        """A JSON-serialisable record for a durable store (``from_record`` reads it back)."""
        return {
            "id": self.event_id,
            "previous_id": self.previous_id,
            "type": self.event_type,
            "timestamp": self.timestamp,
            "details": self.details,
            "depth": self.depth,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> HistoryEvent:
        return cls(
            record["id"], record["previous_id"], record["type"], record["timestamp"], record["details"], record["depth"]
        )

    def to_aws(self) -> dict[str, Any]:
        event: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(self.timestamp, UTC),
            "type": self.event_type,
            "id": self.event_id,
            "previousEventId": self.previous_id,
        }
        key = _details_key(self.event_type)
        if key is not None and self.details is not None:
            details: dict[str, Any] = {}
            for name, value in self.details.items():
                if name.startswith("_"):  # stepkit's own bookkeeping (e.g. the next state)
                    continue
                if name in _SERIALISED_MAPS:
                    details[name] = {k: json.dumps(v, separators=(",", ":")) for k, v in value.items()}
                    details[f"{name}Details"] = {"truncated": False}
                elif name in _SERIALISED:
                    details[name] = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
                    details[f"{name}Details"] = {"truncated": False}
                elif value is not None:
                    details[name] = value
            event[key] = details
        return event

    def __repr__(self) -> str:
        return f"HistoryEvent({self.event_id}, {self.event_type})"


#: Where an execution's events go as they are recorded (``ExecutionRun``'s ``listener``):
#: with ``keep_history=False`` the run keeps no list and the sink is the history (the
#: endpoint's writes each event to SQLite); ``stepkit.run`` keeps the list.
EventSink = Callable[[HistoryEvent], None]
