"""The shape of one execution, for the simulation: the states each branch, Map iteration and
child execution went through, in order, read from histories in GetExecutionHistory's shape.

Events chain by ``previousEventId``: an iteration's ``MapIterationStarted`` and a branch's
first ``*StateEntered`` point at their ``MapStateStarted`` / ``ParallelStateStarted``, every
other event at the event before it in its own branch. A Distributed Map's children are
separate executions: ``children(map_run_arn)`` gives their histories.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stepkit.estimate.usage import function_of, scheduled_kinds


@dataclass(slots=True)
class Step:
    """One state entered. ``children``: a Map's iterations (or child executions) or a
    Parallel's branches, each a list of steps."""

    name: str
    kind: str
    definition: Mapping[str, Any]
    function: str | None = None
    """The Lambda function a Task calls."""
    attempts: int = 0
    """Times the Task was scheduled in the traced run (more than one: it was retried)."""
    children: list[list[Step]] = field(default_factory=list)
    express: bool = False
    """Run by an Express execution (a Distributed Map's EXPRESS child): its transitions are not
    throttled."""


def state_definitions(definition: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Every state of a definition, at any depth, by name (the first of a repeated name)."""
    found: dict[str, Mapping[str, Any]] = {}

    def walk(machine: Mapping[str, Any]) -> None:
        for name, state in (machine.get("States") or {}).items():
            if not isinstance(state, Mapping):
                continue
            found.setdefault(name, state)
            for branch in state.get("Branches") or []:
                walk(branch)
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if isinstance(processor, Mapping):
                walk(processor)

    walk(definition)
    return found


def build_trace(
    events: Iterable[Mapping[str, Any]],
    states: Mapping[str, Mapping[str, Any]],
    children: Callable[[str], list[list[Mapping[str, Any]]]] = lambda arn: [],
) -> list[Step]:
    """The steps of one execution's history (children traced from ``children``' histories)."""
    root: list[Step] = []
    sequence_of: dict[int, list[Step]] = {}
    step_of: dict[int, Step | None] = {}
    container_of: dict[int, Step] = {}  # MapStateStarted / ParallelStateStarted id -> its step
    for event in sorted(events, key=lambda e: e["id"]):
        kind, eid, previous = event["type"], event["id"], event.get("previousEventId") or 0
        details = next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, Mapping)), {})
        sequence = sequence_of.get(previous, root)
        step = step_of.get(previous)
        if kind in ("MapStateStarted", "ParallelStateStarted") and step is not None:
            container_of[eid] = step
        elif kind == "MapIterationStarted" and previous in container_of:
            sequence = []
            container_of[previous].children.append(sequence)
            step = None
        elif kind == "MapRunStarted" and step is not None:
            for child in children(str(details.get("mapRunArn", ""))):
                step.children.append(build_trace(child, states, children))
        if kind.endswith("StateEntered"):
            if previous in container_of and container_of[previous].kind == "Parallel":
                sequence = []
                container_of[previous].children.append(sequence)
            name = str(details.get("name"))
            definition = states.get(name, {})
            step = Step(name, str(definition.get("Type", kind[: -len("StateEntered")])), definition)
            sequence.append(step)
        elif kind in scheduled_kinds() and step is not None:
            step.attempts += 1
            step.function = step.function or function_of(event)
        sequence_of[eid] = sequence
        step_of[eid] = step
    return root


def _echo(invocation: Any) -> Any:
    """Every Task's stand-in while tracing: its input back (``lambda:invoke``: in an envelope)."""
    resource = invocation.resource
    if resource.resource_type == "lambda" and resource.action == "invoke":
        params = invocation.parameters if isinstance(invocation.parameters, dict) else {}
        return {"Payload": params.get("Payload"), "StatusCode": 200, "ExecutedVersion": "$LATEST"}
    return invocation.parameters


def _no_aws(service: str, region_name: str | None = None) -> Any:
    from stepkit.asl.errors import StatesError

    raise StatesError("States.Runtime", f"stepkit simulate calls no AWS service ({service}): give a "
                      "Distributed Map's items in the input instead of an ItemReader")


@dataclass(slots=True)
class Traced:
    steps: list[Step]
    usage: Any
    """The traced run's usage (sizes for Express's memory formula)."""
    status: str
    error: str | None = None
    cause: str | None = None


def traced_execution(definition: Mapping[str, Any], execution: Any,
                     children: Callable[[str], list[list[Mapping[str, Any]]]] = lambda arn: []) -> Traced:
    """The trace of a finished local execution (``Execution`` of the engine) of ``definition``."""
    import json

    from stepkit.estimate.usage import usage_from_history

    events = execution.events()
    trace = build_trace(events, state_definitions(definition), children)
    return Traced(trace, usage_from_history(events, json.dumps(definition)), execution.status, execution.error,
                  execution.cause)


def stub_trace(definition: Mapping[str, Any], payload: Any, mock_config: Any = None,
               test_case: str | None = None) -> Traced:
    """The trace of ``definition`` run locally with every Task answering its own input (or
    what a Step Functions Local ``mock_config`` test case answers): no function runs, no
    Wait waits, no AWS call. The path, the Map items and the Distributed Map children the
    input gives, and how that run ended.

    Raises the engine's errors (``InvalidDefinition``, ``InvalidExecutionInput``, and
    ``ValueError`` for a bad mock config).
    """
    from stepkit.integrations.registry import IntegrationRegistry
    from stepkit.runner import StateMachine

    registry = IntegrationRegistry()
    registry.register("*", _echo)
    registry.set_client_factory(_no_aws)
    run = StateMachine(dict(definition), registry=registry).prepare(
        payload, skip_waits=True, mock_config=mock_config, test_case=test_case)
    execution = run.start()

    def children(arn: str) -> list[list[Mapping[str, Any]]]:
        map_run = run.map_runs.get(arn)
        return [[e.to_aws() for e in child.history] for child in map_run.executions()] if map_run is not None else []

    return traced_execution(definition, execution, children)
