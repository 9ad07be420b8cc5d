"""Activity Tasks in the engine, with an in-memory scheduler standing in for the endpoint's."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from stepkit import StateMachine
from stepkit.engine.task_tokens import TaskTokens, TokenTimedOut
from stepkit.engine.tasks import ActivityTicket, TaskInvocation
from stepkit.integrations.activities import ACTIVITY_RESOURCES
from stepkit.integrations.registry import IntegrationRegistry

ACTIVITY = "arn:aws:states:us-east-1:123456789012:activity:work"


def _definition(**fields: Any) -> dict:
    return {"StartAt": "W", "States": {"W": {"Type": "Task", "Resource": ACTIVITY, "End": True, **fields}}}


class Scheduler:
    """Publishes tasks to a list; ``adopt`` makes the next reserve take over a started task."""

    def __init__(self, tokens: TaskTokens) -> None:
        self.tokens = tokens
        self.published: list[tuple[str, Any]] = []
        self.finished_tokens: list[str] = []
        self.adopt: str | None = None
        self.ready = threading.Event()

    def reserve(self, invocation: TaskInvocation) -> ActivityTicket:
        if self.adopt is not None:
            self.tokens.new_token(invocation.execution_arn, self.adopt)
            self.tokens.start(self.adopt, "old-worker", since=0.0)
            self.tokens.send_success(self.adopt, {"adopted": True})
            return ActivityTicket(self.adopt, ACTIVITY, adopted=True, elapsed=5.0, started=True)
        assert invocation.task_token is not None
        return ActivityTicket(invocation.task_token, ACTIVITY)

    def publish(self, ticket: ActivityTicket, invocation: TaskInvocation) -> None:
        self.published.append((ticket.token, invocation.parameters))
        self.ready.set()

    def finished(self, ticket: ActivityTicket) -> None:
        self.finished_tokens.append(ticket.token)

    def __call__(self, invocation: TaskInvocation) -> Any:
        raise AssertionError("activities are not invoked")


def _machine(**fields: Any) -> tuple[StateMachine, Scheduler]:
    registry = IntegrationRegistry()
    tokens = TaskTokens()
    scheduler = Scheduler(tokens)
    registry.register(ACTIVITY_RESOURCES, scheduler)
    return StateMachine(_definition(**fields), registry=registry, tokens=tokens), scheduler


def test_a_worker_takes_and_answers_the_task() -> None:
    machine, scheduler = _machine(TimeoutSeconds=60)

    def worker() -> None:
        scheduler.ready.wait(60)
        token, params = scheduler.published[0]
        assert machine.tokens.start(token, "w1")
        machine.tokens.send_success(token, {"got": params})

    threading.Thread(target=worker, daemon=True).start()
    ex = machine.run({"n": 1})
    assert (ex.status, ex.output) == ("SUCCEEDED", {"got": {"n": 1}})
    assert ex.event_types[2:5] == ["ActivityScheduled", "ActivityStarted", "ActivitySucceeded"]
    assert ex.history[2].details == {"resource": ACTIVITY, "input": {"n": 1}, "timeoutInSeconds": 60}
    assert ex.history[3].details == {"workerName": "w1"}
    assert scheduler.finished_tokens == [scheduler.published[0][0]]


def test_no_worker_within_timeout_is_activity_timed_out() -> None:
    machine, scheduler = _machine(TimeoutSeconds=1)
    ex = machine.run({})
    assert (ex.status, ex.error) == ("FAILED", "States.Timeout")
    assert ex.event_types[2:4] == ["ActivityScheduled", "ActivityTimedOut"]
    token = scheduler.published[0][0]
    assert not machine.tokens.start(token, "late")  # a late worker does not get it
    with pytest.raises(TokenTimedOut):
        machine.tokens.send_success(token, {})


def test_an_adopted_started_task_goes_on_without_publishing() -> None:
    machine, scheduler = _machine()
    scheduler.adopt = "a" * 64
    ex = machine.run({})
    assert (ex.status, ex.output) == ("SUCCEEDED", {"adopted": True})
    assert ex.event_types[2:5] == ["ActivityScheduled", "ActivityStarted", "ActivitySucceeded"]
    assert scheduler.published == [] and scheduler.finished_tokens == ["a" * 64]


def test_without_a_scheduler_the_state_fails_before_scheduling() -> None:
    ex = StateMachine(_definition(), registry=IntegrationRegistry()).run({})
    assert (ex.status, ex.error) == ("FAILED", "States.Runtime")
    assert ACTIVITY in (ex.cause or "")
    assert "ActivityScheduled" not in ex.event_types
