"""A discrete-event model of a traced execution on AWS, under AWS's quotas.

What it models (the quotas are ``stepkit/data/quotas.json``):

- Step Functions: every state entered and every retry takes a StateTransition token
  (Standard only; Express is not throttled), every execution a StartExecution token; a
  token not there yet delays the step (tokens are reserved first come, first served) and
  counts as a throttle. Inline Map runs at most 40 iterations at once (or its
  MaxConcurrency), a Distributed Map at most MaxConcurrency child executions (10,000).
- Lambda: the account's concurrency (functions with reserved concurrency keep theirs, the
  others share the rest), each function's scaling rate (1,000 more environments per 10 s
  after its first invocation), cold starts when no environment of the function is idle. An
  invocation beyond these fails with ``Lambda.TooManyRequestsException`` and the state's
  own Retry policy (ErrorEquals, IntervalSeconds, BackoffRate, MaxAttempts,
  MaxDelaySeconds, JitterStrategy with a seeded random) decides what happens next; with
  no retrier left the execution fails there.
- Tasks retried in the traced run are retried here too (their first retrier's backoff).

Not modelled: Catch (a failure ends the run), Wait states other than ``Seconds``,
per-service throttles of non-Lambda tasks, and the Distributed Map's own start rate.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stepkit.estimate.prices import PriceTable
from stepkit.estimate.quotas import QuotaTable, TokenBucket
from stepkit.estimate.report import price_run
from stepkit.estimate.trace import Step
from stepkit.estimate.usage import ChildUsage, LambdaInvocation, RunUsage, StateUsage

THROTTLED = "Lambda.TooManyRequestsException"
SERIES_POINTS = 200


@dataclass(frozen=True, slots=True)
class FunctionModel:
    memory_mb: int = 128
    architecture: str = "x86_64"
    reserved: int | None = None
    cold_start_seconds: float = 0.0


@dataclass(slots=True)
class Settings:
    task_seconds: Mapping[str, float]
    """Seconds per Task state name; ``default_task_seconds`` for the others."""
    default_task_seconds: float
    functions: Mapping[str, FunctionModel]
    account_concurrency: int
    region: str = "us-east-1"
    workflow_type: str = "STANDARD"
    executions: int = 1
    seed: int = 0


class _Bucket:
    """A token bucket whose tokens are reserved in order: ``take`` says how long to wait."""

    def __init__(self, spec: TokenBucket | None) -> None:
        self.spec = spec
        self.tokens = spec.bucket if spec else math.inf
        self.last = 0.0

    def take(self, now: float) -> float:
        if self.spec is None:
            return 0.0
        self.tokens = min(self.spec.bucket, self.tokens + (now - self.last) * self.spec.refill_per_second)
        self.last = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.spec.refill_per_second


@dataclass(slots=True)
class _Function:
    model: FunctionModel
    busy: int = 0
    environments: int = 0
    first_invoke: float | None = None


@dataclass(slots=True)
class SimulationOutcome:
    makespan_seconds: float
    status: str
    error: str | None
    failed_state: str | None
    transitions: int
    retries: int
    throttles: dict[str, int]
    cold_starts: int
    peak_concurrency: int
    concurrency: list[tuple[float, int]]
    states: dict[str, StateUsage]
    execution_seconds: list[float]
    environments: dict[str, int]
    events: int = 0
    invocations: int = field(default=0)
    express_child_states: dict[str, StateUsage] = field(default_factory=dict)
    """The states of a STANDARD run's EXPRESS Distributed Map children (billed as those children)."""
    express_child_seconds: list[float] = field(default_factory=list)


class Simulation:
    def __init__(self, trace: list[Step], settings: Settings, quotas: QuotaTable,
                 traced_error: str | None = None) -> None:
        """``traced_error``: the traced run failed with it, so the simulated run ends there too."""
        self.trace = trace
        self.traced_error = traced_error
        self.settings = settings
        self.quotas = quotas
        sfn = quotas.stepfunctions
        buckets = sfn.buckets(settings.region)
        express = settings.workflow_type == "EXPRESS"
        self.transitions_bucket = _Bucket(None if express else buckets.state_transition)
        self.start_bucket = _Bucket(sfn.express_start_execution if express else buckets.start_execution)
        self.functions: dict[str, _Function] = {}
        reserved = sum(m.reserved or 0 for m in settings.functions.values())
        self.unreserved = settings.account_concurrency - reserved
        self.unreserved_busy = 0
        self.busy = 0
        self.now = 0.0
        self.heap: list[tuple[float, int, Callable[[], None]]] = []
        self.order = itertools.count()
        self.random = random.Random(settings.seed)
        self.states: dict[str, StateUsage] = {}
        self.express_run = settings.workflow_type == "EXPRESS"
        self.child_states: dict[str, StateUsage] = {}  # EXPRESS children of a STANDARD run's Distributed Maps
        self.child_seconds: list[float] = []
        self.throttles: Counter[str] = Counter()
        self.retries = 0
        self.cold_starts = 0
        self.peak = 0
        self.series: list[tuple[float, int]] = [(0.0, 0)]
        self.failure: tuple[str, str] | None = None
        self.execution_seconds: list[float] = []
        self.handled = 0
        _mark_express(trace, settings.workflow_type == "EXPRESS")

    # -- the event loop ---------------------------------------------------------------------

    def at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self.heap, (when, next(self.order), action))

    def run(self) -> SimulationOutcome:
        for _ in range(self.settings.executions):
            delay = self.start_bucket.take(0.0)
            if delay:
                self.throttles["StartExecution"] += 1
            self.at(delay, functools.partial(self._start, delay))
        while self.heap and self.failure is None:
            self.now, _, action = heapq.heappop(self.heap)
            self.handled += 1
            action()
        return self._outcome()

    def _ended(self, started: float) -> None:
        self.execution_seconds.append(self.now - started)

    # -- states -----------------------------------------------------------------------------

    def _usage(self, step: Step) -> StateUsage:
        states = self.child_states if step.express and not self.express_run else self.states
        usage = states.get(step.name)
        if usage is None:
            usage = states[step.name] = StateUsage(step.name)
        return usage

    def _transition(self, step: Step, action: Callable[[], None]) -> None:
        delay = 0.0 if step.express else self.transitions_bucket.take(self.now)
        if delay:
            self.throttles["StateTransition"] += 1
        self.at(self.now + delay, action)

    def _start(self, start: float) -> None:
        """One execution, started at ``start``: its steps, then its end."""
        self._sequence(self.trace, 0, lambda: self._ended(start))

    def _sequence(self, steps: list[Step], index: int, done: Callable[[], None]) -> None:
        if index == len(steps):
            done()
            return
        step = steps[index]
        self._usage(step).entries += 1
        self._transition(step, lambda: self._step(step, lambda: self._sequence(steps, index + 1, done)))

    def _step(self, step: Step, done: Callable[[], None]) -> None:
        if step.kind == "Task":
            self._attempt(step, 1, defaultdict(int), done)
        elif step.kind == "Wait":
            self.at(self.now + float(step.definition.get("Seconds") or 0), done)
        elif step.kind == "Map":
            self._map(step, done)
        elif step.kind == "Parallel":
            self._all(step.children, len(step.children), done)
        else:
            done()

    def _map(self, step: Step, done: Callable[[], None]) -> None:
        sfn = self.quotas.stepfunctions
        processor = step.definition.get("ItemProcessor") or {}
        distributed = (processor.get("ProcessorConfig") or {}).get("Mode") == "DISTRIBUTED"
        cap = sfn.distributed_map_max_concurrency if distributed else sfn.inline_map_concurrency
        wanted = int(step.definition.get("MaxConcurrency") or 0)
        express_children = distributed and (processor.get("ProcessorConfig") or {}).get("ExecutionType") == "EXPRESS"
        self._all(step.children, min(cap, wanted) if wanted > 0 else cap, done,
                  timed=express_children and not self.express_run)

    def _all(self, sequences: list[list[Step]], limit: int, done: Callable[[], None], timed: bool = False) -> None:
        """Run ``sequences`` at most ``limit`` at a time; ``done`` once all finished. ``timed``:
        each is an EXPRESS child execution, whose duration it is billed by."""
        pending = iter(sequences)
        left = [len(sequences)]

        def launch() -> None:
            sequence = next(pending, None)
            if sequence is not None:
                self.at(self.now, lambda: self._child(sequence, finished, timed))

        def finished() -> None:
            left[0] -= 1
            if left[0] == 0:
                done()
            else:
                launch()

        if not sequences:
            done()
        for _ in range(min(limit, len(sequences))):
            launch()

    def _child(self, sequence: list[Step], finished: Callable[[], None], timed: bool) -> None:
        started = self.now

        def ended() -> None:
            if timed:
                self.child_seconds.append(self.now - started)
            finished()

        self._sequence(sequence, 0, ended)

    # -- tasks and Lambda ---------------------------------------------------------------------

    def _attempt(self, step: Step, attempt: int, used: dict[int, int], done: Callable[[], None]) -> None:
        seconds = self.settings.task_seconds.get(step.name, self.settings.default_task_seconds)
        failing = used[-1] < step.attempts - 1  # the traced run failed this many attempts
        if step.function is None:
            self.at(self.now + seconds, lambda: self._after(step, attempt, used, done, failing, "States.TaskFailed"))
            return
        function = self._function(step.function)
        if not self._admit(function):
            self.throttles[THROTTLED] += 1
            self._retry(step, attempt, used, done, THROTTLED)
            return
        cold = function.busy >= function.environments
        function.busy += 1
        self._count(+1, function)
        if cold:
            function.environments += 1
            self.cold_starts += 1
        init = function.model.cold_start_seconds if cold else 0.0
        invocation = LambdaInvocation(step.function, function.model.memory_mb, seconds * 1000,
                                      init * 1000 if cold else None, function.model.architecture)
        self._usage(step).lambda_invocations.append(invocation)

        def finish() -> None:
            function.busy -= 1
            self._count(-1, function)
            self._after(step, attempt, used, done, failing, "States.TaskFailed")

        self.at(self.now + init + seconds, finish)

    def _after(self, step: Step, attempt: int, used: dict[int, int], done: Callable[[], None], failing: bool,
               error: str) -> None:
        if failing:
            used[-1] += 1
            self._retry(step, attempt, used, done, error)
        else:
            done()

    def _function(self, name: str) -> _Function:
        function = self.functions.get(name)
        if function is None:
            function = self.functions[name] = _Function(self.settings.functions.get(name, FunctionModel()))
        return function

    def _admit(self, function: _Function) -> bool:
        """Lambda's concurrency checks: reserved or unreserved pool, then the scaling rate."""
        model, quotas = function.model, self.quotas.lambda_
        if model.reserved is not None:
            if function.busy >= model.reserved:
                return False
        elif self.unreserved_busy >= self.unreserved:
            return False
        if function.first_invoke is None:
            function.first_invoke = self.now
        periods = math.floor((self.now - function.first_invoke) / quotas.scale_period_seconds)
        return function.busy < quotas.scale_step * (1 + periods)

    def _count(self, delta: int, function: _Function) -> None:
        self.busy += delta
        if function.model.reserved is None:
            self.unreserved_busy += delta
        self.peak = max(self.peak, self.busy)
        self.series.append((self.now, self.busy))

    def _retry(self, step: Step, attempt: int, used: dict[int, int], done: Callable[[], None], error: str) -> None:
        """The state's first retrier matching ``error`` with attempts left retries the task."""
        for index, retrier in enumerate(step.definition.get("Retry") or []):  # used[-1]: replayed failures
            equals = retrier.get("ErrorEquals") or []
            if not (error in equals or "States.ALL" in equals or "States.TaskFailed" in equals):
                continue
            if used[index] >= int(retrier.get("MaxAttempts", 3)):
                break
            delay = float(retrier.get("IntervalSeconds", 1)) * float(retrier.get("BackoffRate", 2.0)) ** used[index]
            if retrier.get("MaxDelaySeconds"):
                delay = min(delay, float(retrier["MaxDelaySeconds"]))
            if retrier.get("JitterStrategy") == "FULL":
                delay = self.random.uniform(0, delay)
            used[index] += 1
            self.retries += 1
            self._usage(step).retries += 1
            self.at(self.now + delay,
                    lambda: self._transition(step, lambda: self._attempt(step, attempt + 1, used, done)))
            return
        self.failure = (step.name, error)

    # -- the answer ---------------------------------------------------------------------------

    def _outcome(self) -> SimulationOutcome:
        failed = self.failure is not None or self.traced_error is not None
        return SimulationOutcome(
            makespan_seconds=self.now,
            status="FAILED" if failed else "SUCCEEDED",
            error=self.failure[1] if self.failure else self.traced_error,
            failed_state=self.failure[0] if self.failure else None,
            transitions=sum(s.transitions for s in self.states.values()),
            retries=self.retries,
            throttles=dict(self.throttles),
            cold_starts=self.cold_starts,
            peak_concurrency=self.peak,
            concurrency=downsample(self.series, SERIES_POINTS),
            states=self.states,
            execution_seconds=self.execution_seconds or [self.now],
            environments={name: f.environments for name, f in self.functions.items()},
            events=self.handled,
            invocations=sum(len(s.lambda_invocations) for s in [*self.states.values(), *self.child_states.values()]),
            express_child_states=self.child_states,
            express_child_seconds=self.child_seconds,
        )


def _mark_express(steps: list[Step], express: bool) -> None:
    """Mark the steps Express executions run: all of an Express workflow's, and those of the
    children of a Distributed Map whose ExecutionType is EXPRESS."""
    for step in steps:
        step.express = express
        processor = step.definition.get("ItemProcessor") or {}
        config = processor.get("ProcessorConfig") or {}
        child_express = express or (config.get("Mode") == "DISTRIBUTED" and config.get("ExecutionType") == "EXPRESS")
        for child in step.children:
            _mark_express(child, child_express)


def downsample(series: list[tuple[float, int]], points: int) -> list[tuple[float, int]]:
    """At most ``points`` samples of a step series: each time bucket keeps its highest value
    (so peaks survive), the last sample is kept as is."""
    if len(series) <= points:
        return series
    end = series[-1][0] or 1.0
    width = end / (points - 1)
    buckets: dict[int, int] = {}
    for when, value in series:
        index = min(points - 1, int(when / width))
        buckets[index] = max(buckets.get(index, 0), value)
    sampled = [(round(index * width, 3), value) for index, value in sorted(buckets.items())]
    sampled[-1] = (series[-1][0], series[-1][1])
    return sampled


def simulation_document(outcome: SimulationOutcome, settings: Settings, quotas: QuotaTable, shape: RunUsage,
                        prices: PriceTable) -> dict[str, Any]:
    """``stepkit simulate --json``: the outcome, the quotas it ran against, the predicted cost
    (``shape`` gives the traced run's definition and data sizes for Express's memory)."""
    usage = RunUsage(
        states=outcome.states,
        duration_seconds=outcome.makespan_seconds,
        definition_bytes=shape.definition_bytes,
        data_bytes=shape.data_bytes,
        map_parallel_steps=shape.map_parallel_steps,
        execution_durations=outcome.execution_seconds,
    )
    if outcome.express_child_seconds:
        children = RunUsage(states=outcome.express_child_states, duration_seconds=sum(outcome.express_child_seconds),
                            definition_bytes=shape.definition_bytes, data_bytes=shape.data_bytes, map_parallel_steps=0,
                            execution_durations=outcome.express_child_seconds)
        usage.map_children.append(ChildUsage(True, children))
    buckets = quotas.stepfunctions.buckets(settings.region)
    return {
        "makespan_seconds": round(outcome.makespan_seconds, 3),
        "status": outcome.status,
        "error": outcome.error,
        "failed_state": outcome.failed_state,
        "type": settings.workflow_type,
        "executions": settings.executions,
        "transitions": outcome.transitions,
        "retries": outcome.retries,
        "throttles": outcome.throttles,
        "lambda": {
            "invocations": outcome.invocations,
            "cold_starts": outcome.cold_starts,
            "peak_concurrency": outcome.peak_concurrency,
            "environments": outcome.environments,
        },
        "concurrency": [[round(t, 3), n] for t, n in outcome.concurrency],
        "quotas": {
            "checked": quotas.checked,
            "sources": quotas.sources,
            "account_concurrency": settings.account_concurrency,
            "state_transition": buckets.state_transition.model_dump(),
            "start_execution": buckets.start_execution.model_dump(),
            "inline_map_concurrency": quotas.stepfunctions.inline_map_concurrency,
            "distributed_map_max_concurrency": quotas.stepfunctions.distributed_map_max_concurrency,
        },
        "cost": price_run(usage, prices, settings.region),
        "events": outcome.events,
    }
