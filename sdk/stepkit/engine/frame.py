"""A frame: one thread of control in an execution (the top level, one Map iteration or one
Parallel branch) with its variable scope and its place in the history."""

from __future__ import annotations

from collections import ChainMap
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stepkit.engine.execution import ExecutionRun


def iso_millis(ts: float) -> str:
    """A timestamp as the context object shows it: ``2024-01-01T00:00:00.123Z``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Frame:
    __slots__ = (
        "assigned",
        "depth",
        "entered_id",
        "entered_time",
        "map_item",
        "prev",
        "retry_count",
        "run",
        "silent",
        "state_name",
        "task_token",
        "variables",
    )

    def __init__(self, run: ExecutionRun, variables: ChainMap | dict, prev: int) -> None:
        self.run = run
        self.variables = variables
        self.prev = prev
        self.state_name = ""
        self.entered_id = 0
        self.entered_time = 0.0
        self.retry_count = -1  # -1: the state has no Retry, so no $$.State.RetryCount
        self.map_item: dict[str, Any] | None = None
        self.task_token: str | None = None
        self.silent = False
        self.depth = 0
        self.assigned: dict[str, Any] | None = None  # what the current state assigned

    def child(self, prev: int, map_item: dict[str, Any] | None = None) -> Frame:
        """A frame for a Map iteration or Parallel branch: a new inner variable scope that
        reads this one's variables."""
        parent = self.variables
        scope = ChainMap({}, *parent.maps) if isinstance(parent, ChainMap) else ChainMap({}, parent)
        frame = Frame(self.run, scope, prev)
        frame.map_item = map_item
        frame.silent = self.silent
        frame.depth = self.depth + 1
        return frame

    def context(self) -> dict[str, Any]:
        """The context object ``$$`` as the current state sees it (a new dict each time)."""
        run = self.run
        state: dict[str, Any] = {"EnteredTime": iso_millis(self.entered_time), "Name": self.state_name}
        if self.retry_count >= 0:
            state["RetryCount"] = self.retry_count
        ctx: dict[str, Any] = {
            "Execution": run.execution_context,
            "State": state,
            "StateMachine": run.state_machine_context,
        }
        if self.task_token is not None:
            ctx["Task"] = {"Token": self.task_token}
        if self.map_item is not None:
            ctx["Map"] = {"Item": self.map_item}
        return ctx

    def assign(self, values: dict[str, Any]) -> None:
        """Set variables in this frame's own scope (all at once, after evaluation)."""
        target = self.variables.maps[0] if isinstance(self.variables, ChainMap) else self.variables
        target.update(values)
        if self.assigned is None:
            self.assigned = dict(values)
        else:
            self.assigned.update(values)
