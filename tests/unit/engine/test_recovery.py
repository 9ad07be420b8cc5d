"""Retry and Catch: AWS's matching rules, backoff arithmetic and what the history shows."""

import pytest

from stepkit import StateMachine
from stepkit.asl.errors import StatesError
from stepkit.engine.clock import VirtualClock
from stepkit.engine.recovery import RetryRule, error_matches
from stepkit.integrations.registry import IntegrationRegistry


class Flaky:
    """Fails ``failures`` times with ``error``, then returns its input."""

    def __init__(self, failures: int, error: str = "Transient") -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self, invocation):
        self.calls += 1
        if self.calls <= self.failures:
            raise StatesError(self.error, f"attempt {self.calls}")
        return {"ok": self.calls}


def machine(task: dict, handler) -> StateMachine:
    registry = IntegrationRegistry()
    registry.register("arn:aws:states:::custom:work", handler)
    definition = {
        "StartAt": "Work",
        "States": {"Work": {"Type": "Task", "Resource": "arn:aws:states:::custom:work", **task}},
    }
    if "Next" in task:
        definition["States"]["Done"] = {"Type": "Pass", "End": True}
    else:
        definition["States"]["Work"]["End"] = True
    return StateMachine(definition, registry=registry)


@pytest.mark.parametrize(
    ("equals", "error", "expected"),
    [
        (["States.ALL"], "Anything", True),
        (["States.ALL"], "States.Runtime", False),
        (["States.Runtime"], "States.Runtime", False),
        (["States.ALL"], "States.DataLimitExceeded", True),
        (["States.TaskFailed"], "Lambda.ServiceException", True),
        (["States.TaskFailed"], "States.Timeout", False),
        (["States.Timeout"], "States.Timeout", True),
        (["A", "B"], "B", True),
        (["A"], "B", False),
    ],
)
def test_error_matching(equals, error, expected):
    assert error_matches(equals, error) is expected


def test_backoff_grows_and_is_capped():
    r = RetryRule({"ErrorEquals": ["X"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxDelaySeconds": 10})
    assert [r.delay(n) for n in range(4)] == [2, 6, 10, 10]


def test_full_jitter_stays_within_the_delay():
    r = RetryRule({"ErrorEquals": ["X"], "IntervalSeconds": 4, "JitterStrategy": "FULL"})
    delays = [r.delay(1) for _ in range(200)]
    assert all(0 <= d <= 8 for d in delays)
    assert len(set(delays)) > 1


def test_retry_until_success_waits_the_backoff_on_the_clock():
    flaky = Flaky(2)
    clock = VirtualClock()
    start = clock.now()
    retry = [{"ErrorEquals": ["Transient"], "IntervalSeconds": 3, "BackoffRate": 2, "MaxAttempts": 3}]
    ex = machine({"Retry": retry}, flaky).run({}, clock=clock)
    assert ex.status == "SUCCEEDED"
    assert ex.output == {"ok": 3}
    assert clock.now() - start >= 3 + 6
    assert ex.event_types.count("TaskFailed") == 2
    assert ex.event_types.count("TaskScheduled") == 3


def test_retries_exhausted_fail_with_the_last_error():
    flaky = Flaky(10)
    retry = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2}]
    ex = machine({"Retry": retry}, flaky).run({}, skip_waits=True)
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "Transient", "attempt 3")
    assert flaky.calls == 3


def test_max_attempts_zero_never_retries():
    flaky = Flaky(1)
    retry = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}]
    ex = machine({"Retry": retry}, flaky).run({}, skip_waits=True)
    assert ex.status == "FAILED" and flaky.calls == 1


def test_first_matching_retrier_decides():
    flaky = Flaky(5, error="Specific")
    retry = [
        {"ErrorEquals": ["Specific"], "MaxAttempts": 1, "IntervalSeconds": 1},
        {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5, "IntervalSeconds": 1},
    ]
    ex = machine({"Retry": retry}, flaky).run({}, skip_waits=True)
    assert ex.status == "FAILED" and flaky.calls == 2


def test_catch_places_the_error_with_result_path_and_goes_on():
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.problem", "Next": "Done"}]
    ex = machine({"Catch": catch, "Next": "Done"}, Flaky(1)).run({"keep": 1})
    assert ex.status == "SUCCEEDED"
    assert ex.output == {"keep": 1, "problem": {"Error": "Transient", "Cause": "attempt 1"}}
    assert ex.event_types[-4:] == ["TaskStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]


def test_catch_does_not_take_an_error_it_does_not_name():
    catch = [{"ErrorEquals": ["Other"], "Next": "Done"}]
    ex = machine({"Catch": catch, "Next": "Done"}, Flaky(1)).run({})
    assert (ex.status, ex.error) == ("FAILED", "Transient")


def test_retry_count_is_visible_in_the_context_object():
    seen = []

    def handler(invocation):
        seen.append(invocation.parameters["retry"])
        if len(seen) < 3:
            raise StatesError("Again")
        return {}

    task = {
        "Parameters": {"retry.$": "$$.State.RetryCount"},
        "Retry": [{"ErrorEquals": ["Again"], "IntervalSeconds": 1, "MaxAttempts": 5}],
    }
    assert machine(task, handler).run({}, skip_waits=True).status == "SUCCEEDED"
    assert seen == [0, 1, 2]
