"""A frame: one thread of control in an execution (the top level, one Map iteration or one
Parallel branch) with its variable scope and its place in the history."""

from __future__ import annotations

import json
from collections import ChainMap
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stepkit.asl.errors import StateEvaluationError

if TYPE_CHECKING:
    from stepkit.engine.execution import ExecutionRun


MAX_VARIABLE_BYTES = 256 * 1024
MAX_ASSIGN_BYTES = 256 * 1024
MAX_VARIABLES_BYTES = 10 * 1024 * 1024


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _check_sizes(values: dict[str, Any], scope: Mapping[str, Any]) -> None:
    sizes = {name: _size(value) for name, value in values.items()}
    for name, size in sizes.items():
        if size > MAX_VARIABLE_BYTES:
            raise StateEvaluationError(
                f"The value assigned to the variable '{name}' is {size} bytes, over the limit of "
                f"{MAX_VARIABLE_BYTES} bytes for one variable."
            )
    total = sum(sizes.values())
    if total > MAX_ASSIGN_BYTES:
        raise StateEvaluationError(
            f"The variables assigned by this state are {total} bytes together, over the limit of "
            f"{MAX_ASSIGN_BYTES} bytes for one Assign."
        )
    kept = sum(_size(v) for k, v in scope.items() if k not in values) if total else 0
    if kept + total > MAX_VARIABLES_BYTES:
        raise StateEvaluationError(
            f"The execution's variables would hold {kept + total} bytes, over the limit of {MAX_VARIABLES_BYTES} bytes."
        )


_last_iso: tuple[float, str] = (-1.0, "")
_second_prefix: dict[int, str] = {}


def iso_millis(ts: float) -> str:
    """A timestamp as the context object shows it: ``2024-01-01T00:00:00.123Z``.

    strftime costs more than a Map iteration, so the text up to the second is cached per
    second and the last answer is kept (every iteration shows the Map's entered time).
    """
    global _last_iso
    last_ts, text = _last_iso
    if ts == last_ts:
        return text
    millis = round(ts * 1000)
    second, ms = divmod(millis, 1000)
    prefix = _second_prefix.get(second)
    if prefix is None:
        if len(_second_prefix) > 4096:
            _second_prefix.clear()
        prefix = _second_prefix[second] = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
    text = f"{prefix}{ms:03d}Z"
    _last_iso = (ts, text)
    return text


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
        """Set variables in this frame's own scope (all at once, after evaluation).

        AWS's rules: an inner scope (a Map iteration, a Parallel branch) reads the outer
        variables but may not assign them; one variable, and one state's assignments
        together, hold at most 256 KiB; an execution's variables at most 10 MiB.
        """
        variables = self.variables
        if isinstance(variables, ChainMap):
            target = variables.maps[0]
            for name in values:
                if name not in target and any(name in outer for outer in variables.maps[1:]):
                    raise StateEvaluationError(
                        f"Cannot assign the variable '{name}' here: it belongs to an outer scope, which a "
                        "Map iteration or a Parallel branch can read but not change."
                    )
        else:
            target = variables
        _check_sizes(values, target)
        target.update(values)
        if self.assigned is None:
            self.assigned = dict(values)
        else:
            self.assigned.update(values)
