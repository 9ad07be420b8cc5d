"""What one execution used: state transitions per state (retries included), its duration and
data size for Express, and its Lambda invocations with their measured durations.

Read from the execution's history in GetExecutionHistory's shape (a local run's
``execution.events()`` or boto3's answer) and from Lambda's invocation reports: the runtime's
results for a local run, the REPORT lines of CloudWatch Logs for an endpoint's execution.

How transitions are counted (AWS's pricing page: "a state transition each time a step of your
workflow is executed ... including retries"): one per ``*StateEntered`` event, at every
depth (Map iterations and Parallel branches run steps too), plus one per retry, that is per
extra scheduling of a Task within one entry of its state, plus one per redrive (AWS's
developer guide, "Transitions": a redrive is a state transition, and so is each state it
reruns). Other events (``MapStateStarted``, ``MapIterationStarted``, ``*StateExited``...)
are not billed (as an answer to "How are Map states priced in AWS Step Functions?" on Stack
Overflow puts it: only the events ending in "Entered" are charged).
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from stepkit.runtime.calls import AwsCall
from stepkit.runtime.worker.awscalls import SQS_CHUNK_BYTES

_SCHEDULED = {"LambdaFunctionScheduled", "TaskScheduled", "ActivityScheduled"}
_REPORT = re.compile(
    r"REPORT RequestId: (?P<rid>\S+)\s+Duration: (?P<dur>[\d.]+) ms\s+Billed Duration: (?P<billed>\d+) ms"
    r"\s+Memory Size: (?P<mem>\d+) MB(?:.*?Init Duration: (?P<init>[\d.]+) ms)?"
)


@dataclass(frozen=True, slots=True)
class LambdaInvocation:
    """One Lambda invocation as its REPORT line gives it."""

    function: str
    memory_mb: int
    duration_ms: float
    init_duration_ms: float | None = None
    architecture: str = "x86_64"
    request_id: str = ""
    billed_ms: int | None = None
    """Billed Duration as reported; computed from the durations when absent."""
    aws_calls: tuple[AwsCall, ...] | None = None
    """The AWS requests the function's code sent (the local runtime counts them); None: not
    known (Lambda on AWS does not say)."""

    @property
    def billed(self) -> int:
        if self.billed_ms is not None:
            return self.billed_ms
        return math.ceil(round(self.duration_ms + (self.init_duration_ms or 0.0), 6))


def parse_report(function: str, line: str, architecture: str = "x86_64") -> LambdaInvocation | None:
    """A REPORT line's figures, or None when ``line`` is not one."""
    match = _REPORT.search(line)
    if match is None:
        return None
    init = match.group("init")
    return LambdaInvocation(
        function=function,
        memory_mb=int(match.group("mem")),
        duration_ms=float(match.group("dur")),
        init_duration_ms=float(init) if init else None,
        architecture=architecture,
        request_id=match.group("rid"),
        billed_ms=int(match.group("billed")),
    )


#: S3's request classes (its pricing page): PUT, COPY, POST and LIST requests (multipart uploads are
#: PUT/POST requests); GET, SELECT and every other request; DELETE and CANCEL requests are free.
_S3_TIER1 = ("put", "copy", "post", "list", "create", "upload", "complete")
_S3_FREE = ("delete", "abort")


def s3_request_class(action: str) -> str:
    """The :class:`ServiceRequests` field an S3 action's request counts in (any case:
    ``putObject``, ``PutObject``)."""
    action = action.lower()
    if action.startswith(_S3_FREE):
        return "s3_free"
    return "s3_tier1" if action.startswith(_S3_TIER1) else "s3_tier2"


@dataclass(slots=True)
class ServiceRequests:
    """S3 and SQS requests: a run's Task states' (service integrations, ``aws-sdk:``) or its
    Lambda functions' own."""

    s3_tier1: int = 0
    s3_tier2: int = 0
    s3_free: int = 0
    sqs_standard: int = 0
    sqs_fifo: int = 0

    def add(self, other: ServiceRequests) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    def count(self, event: Mapping[str, Any]) -> None:
        """One ``TaskScheduled`` event's requests (each attempt is a request)."""
        details = _details(event)
        service = str(details.get("resourceType", "")).removeprefix("aws-sdk:")
        action = str(details.get("resource", "")).lower()
        parameters = str(details.get("parameters") or "")
        if service == "s3":
            self._add(s3_request_class(action), 1)
        elif service == "sqs":
            chunks = max(1, math.ceil(len(parameters.encode()) / SQS_CHUNK_BYTES)) if action.startswith("send") else 1
            if re.search(r'"QueueUrl"\s*:\s*"[^"]*\.fifo"', parameters):
                self.sqs_fifo += chunks
            else:
                self.sqs_standard += chunks

    def count_call(self, call: AwsCall) -> None:
        """A function's requests of one action (each HTTP request sent, SQS per 64 KB chunk)."""
        if call.service == "s3":
            self._add(s3_request_class(call.operation), call.requests)
        elif call.service == "sqs":
            self._add("sqs_fifo" if call.fifo else "sqs_standard", call.units)

    def _add(self, name: str, amount: int) -> None:
        setattr(self, name, getattr(self, name) + amount)


def function_requests(invocations: Iterable[LambdaInvocation]) -> ServiceRequests:
    """The S3 and SQS requests the functions' own code sent, over the invocations whose calls are known."""
    total = ServiceRequests()
    for invocation in invocations:
        for call in invocation.aws_calls or ():
            total.count_call(call)
    return total


def function_calls(invocations: Iterable[LambdaInvocation]) -> dict[str, dict[str, int]]:
    """Every AWS request the functions' code sent (priced or not), by service then action."""
    found: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for invocation in invocations:
        for call in invocation.aws_calls or ():
            found[call.service][call.operation] += call.requests
    return {service: dict(sorted(actions.items())) for service, actions in sorted(found.items())}


@dataclass(slots=True)
class StateUsage:
    name: str
    entries: int = 0
    retries: int = 0
    lambda_invocations: list[LambdaInvocation] = field(default_factory=list)

    @property
    def transitions(self) -> int:
        return self.entries + self.retries


@dataclass(slots=True)
class RunUsage:
    """One execution's usage."""

    states: dict[str, StateUsage]
    duration_seconds: float
    definition_bytes: int
    data_bytes: int
    """The largest state input or output: the pricing page's "execution data size"."""
    map_parallel_steps: int
    """Map iterations and Parallel branches run: the steps the Express memory formula multiplies."""
    unmatched_invocations: list[LambdaInvocation] = field(default_factory=list)
    redrives: int = 0
    execution_durations: list[float] | None = None
    """Several executions' durations (a simulation of many); None: one, ``duration_seconds``."""
    map_children: list[ChildUsage] = field(default_factory=list)
    """The child executions of its Distributed Maps, each billed as its own type."""
    requests: ServiceRequests = field(default_factory=ServiceRequests)
    """S3 and SQS requests of its Task states (its Distributed Maps' children's apart)."""

    @property
    def all_requests(self) -> ServiceRequests:
        """The run's S3 and SQS requests, its Distributed Maps' children's included."""
        total = ServiceRequests()
        for usage in [self, *(c.usage for c in self.map_children)]:
            total.add(usage.requests)
        return total

    @property
    def transitions(self) -> int:
        """The execution's own state transitions (its Distributed Maps' children apart)."""
        return sum(s.transitions for s in self.states.values()) + self.redrives

    @property
    def lambda_invocations(self) -> list[LambdaInvocation]:
        """Every Lambda invocation of the run, its Distributed Maps' children's included."""
        found = [i for s in self.states.values() for i in s.lambda_invocations]
        return found + self.unmatched_invocations + [i for c in self.map_children for i in c.usage.lambda_invocations]


@dataclass(slots=True)
class ChildUsage:
    """A Distributed Map's child execution: a STANDARD one bills its state transitions, an
    EXPRESS one a request and its duration x memory (AWS's pricing page, Distributed Map)."""

    express: bool
    usage: RunUsage


@dataclass(frozen=True, slots=True)
class ChildHistory:
    """What is known of one child execution: its history (empty when the service keeps none,
    as AWS for Express children), its item processor's definition, its type and duration."""

    events: list[Mapping[str, Any]]
    definition: str
    express: bool
    duration_seconds: float | None = None
    """From ListExecutions' dates when the history is not at hand."""


def _seconds(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    return next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, Mapping)), {})


def function_of(event: Mapping[str, Any]) -> str | None:
    """The function a Lambda scheduling event calls (by name), else None."""
    details = _details(event)
    if event["type"] == "LambdaFunctionScheduled":
        return str(details.get("resource", "")).split(":function:")[-1].split(":")[0] or None
    if event["type"] == "TaskScheduled" and details.get("resourceType") == "lambda":
        try:
            params = json.loads(details.get("parameters") or "{}")
        except ValueError:
            return None
        name = str(params.get("FunctionName", "")) if isinstance(params, dict) else ""
        return name.split(":function:")[-1].split(":")[0] if name else None
    return None


def scheduled_kinds() -> frozenset[str]:
    """The event types that schedule a Task's attempt."""
    return frozenset(_SCHEDULED)


def scheduled_functions(events: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many Lambda invocations (retries included) the history scheduled, per function name."""
    counts: dict[str, int] = defaultdict(int)
    for event in events:
        if event["type"] in _SCHEDULED and (function := function_of(event)):
            counts[function] += 1
    return dict(counts)


def lambda_request_ids(events: Iterable[Mapping[str, Any]]) -> set[str]:
    """The request ids that ``lambda:invoke`` tasks' results name (their SDK metadata)."""
    found: set[str] = set()
    for event in events:
        output = _details(event).get("output") if event["type"] == "TaskSucceeded" else None
        if isinstance(output, str) and "x-amzn-RequestId" in output:
            found.update(re.findall(r'"x-amzn-RequestId":\s*"([^"]+)"', output))
    return found


def _parallel_branches(definition: Mapping[str, Any]) -> dict[str, int]:
    """Branch counts of every Parallel state, at any depth, by state name."""
    found: dict[str, int] = {}
    for name, state in (definition.get("States") or {}).items():
        if not isinstance(state, Mapping):
            continue
        if state.get("Type") == "Parallel":
            found[name] = len(state.get("Branches") or [])
        for branch in state.get("Branches") or []:
            found.update(_parallel_branches(branch))
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(processor, Mapping):
            found.update(_parallel_branches(processor))
    return found


def usage_from_history(
    events: Iterable[Mapping[str, Any]],
    definition: str,
    invocations: Iterable[LambdaInvocation] = (),
    aliases: Mapping[str, str] | None = None,
) -> RunUsage:
    """An execution's usage from its history (any order; sorted by id) and the reports of
    the Lambda invocations it made.

    Each event belongs to the state whose ``*StateEntered`` its ``previousEventId`` chain
    reaches first. Invocations go to the states that scheduled their function, in order; an
    invocation no task asked for (more reports than schedulings) is kept as unmatched.
    ``aliases``: the name the invocations report for a name the history calls a function by
    (a local run's project function for its deployed name).
    """
    ordered = sorted(events, key=lambda e: e["id"])
    entry_of: dict[int, tuple[int, str]] = {}  # event id -> (entry event id, state name)
    states: dict[str, StateUsage] = {}
    schedulings: dict[int, int] = defaultdict(int)
    calls: dict[str, list[str]] = defaultdict(list)  # function -> states, in scheduling order
    data_bytes, steps, redrives = 0, 0, 0
    requests = ServiceRequests()
    branches = _parallel_branches(json.loads(definition))
    for event in ordered:
        kind, details = event["type"], _details(event)
        owner = entry_of.get(event.get("previousEventId") or 0)
        if kind.endswith("StateEntered"):
            name = str(details.get("name"))
            states.setdefault(name, StateUsage(name)).entries += 1
            owner = (event["id"], name)
            steps += branches.get(name, 0) if kind == "ParallelStateEntered" else 0
        elif kind == "MapIterationStarted":
            steps += 1
        elif kind == "ExecutionRedriven":
            redrives += 1
        elif kind == "TaskScheduled":
            requests.count(event)
        if owner is not None:
            entry_of[event["id"]] = owner
            if kind in _SCHEDULED:
                schedulings[owner[0]] += 1
                if schedulings[owner[0]] > 1:
                    states[owner[1]].retries += 1
                function = function_of(event)
                if function:
                    calls[(aliases or {}).get(function, function)].append(owner[1])
        for key in ("input", "output"):
            if isinstance(details.get(key), str):
                data_bytes = max(data_bytes, len(details[key].encode()))
    unmatched: list[LambdaInvocation] = []
    for invocation in invocations:
        queue = calls.get(invocation.function)
        if queue:
            states[queue.pop(0)].lambda_invocations.append(invocation)
        else:
            unmatched.append(invocation)
    times = [_seconds(e["timestamp"]) for e in ordered]
    return RunUsage(
        states=states,
        duration_seconds=(max(times) - min(times)) if times else 0.0,
        definition_bytes=len(definition.encode()),
        data_bytes=data_bytes,
        map_parallel_steps=steps,
        unmatched_invocations=unmatched,
        redrives=redrives,
        requests=requests,
    )


def item_processor(definition: Any, state_name: str) -> dict[str, Any] | None:
    """The ``ItemProcessor`` (or ``Iterator``) of the Map state ``state_name``, wherever it is nested."""
    states = definition.get("States") if isinstance(definition, dict) else None
    for name, state in (states or {}).items():
        if not isinstance(state, dict):
            continue
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if name == state_name and state.get("Type") == "Map" and isinstance(processor, dict):
            return processor
        for nested in [*(state.get("Branches") or []), processor]:
            found = item_processor(nested, state_name) if isinstance(nested, dict) else None
            if found is not None:
                return found
    return None


def is_express_processor(processor: Mapping[str, Any]) -> bool:
    config = processor.get("ProcessorConfig")
    return isinstance(config, Mapping) and config.get("ExecutionType") == "EXPRESS"


def run_usage(
    events: Iterable[Mapping[str, Any]],
    definition: str,
    invocations: Iterable[LambdaInvocation] = (),
    children: Iterable[ChildHistory] = (),
    aliases: Mapping[str, str] | None = None,
) -> RunUsage:
    """``usage_from_history`` of an execution and of its Distributed Maps' children: the
    invocations the parent's states did not schedule go to the children's states."""
    usage = usage_from_history(events, definition, invocations, aliases)
    left = usage.unmatched_invocations
    for child in children:
        child_usage = usage_from_history(child.events, child.definition, left, aliases)
        if not child.events and child.duration_seconds is not None:
            child_usage.duration_seconds = child.duration_seconds
        left = child_usage.unmatched_invocations
        child_usage.unmatched_invocations = []
        usage.map_children.append(ChildUsage(child.express, child_usage))
    usage.unmatched_invocations = left
    return usage
