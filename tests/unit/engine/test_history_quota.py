"""AWS's 25,000-event history quota: a STANDARD execution fails on event 25,000 (unless that
event is its ExecutionSucceeded), EXPRESS has no such quota, and a local run may opt out.

The shape is AWS's, as recorded by floci-io/floci#2734: event 25,000 is an ExecutionFailed
with States.Runtime and "The execution reached the maximum number of history events (25000).",
its previousEventId 24,999 (the last event the machine produced).
"""

from __future__ import annotations

import stepkit
from stepkit.engine.execution import HISTORY_LIMIT

LOOP = {
    "StartAt": "Loop",
    "States": {
        "Loop": {"Type": "Choice", "Choices": [{"Variable": "$.spin", "BooleanEquals": True, "Next": "Loop"}],
                 "Default": "Done"},
        "Done": {"Type": "Succeed"},
    },
}
MAP = {
    "StartAt": "M",
    "States": {
        "M": {
            "Type": "Map",
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
            "End": True,
        }
    },
}
CAUGHT_MAP = {
    "StartAt": "M",
    "States": {
        "M": {
            **MAP["States"]["M"],
            "ToleratedFailurePercentage": 100,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
            "End": True,
        },
        "Caught": {"Type": "Pass", "End": True},
    },
}


def test_a_standard_execution_fails_on_event_25000_as_aws_records_it():
    execution = stepkit.run(LOOP, {"spin": True})
    assert execution.status == "FAILED"
    assert execution.error == "States.Runtime"
    assert execution.cause == "The execution reached the maximum number of history events (25000)."
    assert len(execution.history) == HISTORY_LIMIT == 25_000
    last = execution.events()[-1]
    assert (last["type"], last["id"], last["previousEventId"]) == ("ExecutionFailed", 25_000, 24_999)
    assert last["executionFailedEventDetails"] == {"error": execution.error, "cause": execution.cause}
    assert execution.history[-2].event_type == "ChoiceStateExited"


def test_an_inline_map_over_8000_items_fails_on_standard_whatever_catches_it():
    for definition in (MAP, CAUGHT_MAP):  # States.Runtime: no Catch, no tolerated failure takes it
        execution = stepkit.run(definition, list(range(8000)))
        assert (execution.status, execution.error) == ("FAILED", "States.Runtime")
        assert [e.event_id for e in execution.history] == list(range(1, 25_001))
        assert [e.event_type for e in execution.history].count("ExecutionFailed") == 1


def test_express_executions_have_no_history_quota():
    execution = stepkit.run(MAP, list(range(8000)), state_machine_type="EXPRESS")
    assert execution.status == "SUCCEEDED"
    assert len(execution.history) > HISTORY_LIMIT


def test_unlimited_history_opts_a_local_standard_run_out():
    execution = stepkit.run(MAP, list(range(8000)), unlimited_history=True)
    assert execution.status == "SUCCEEDED"
    assert len(execution.history) == 32_006
    machine = stepkit.StateMachine(MAP)
    assert machine.prepare(list(range(8000)), unlimited_history=True).start().status == "SUCCEEDED"


def test_an_execution_that_ends_on_event_25000_succeeds():
    # ExecutionStarted + 2 events per Pass state: 12,499 Pass states end with event 24,999 and
    # the ExecutionSucceeded is event 25,000; one more Pass state and it fails.
    def chain(count: int) -> dict:
        states = {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"} for i in range(count - 1)}
        states[f"S{count - 1}"] = {"Type": "Pass", "End": True}
        return {"StartAt": "S0", "States": states}

    ok = stepkit.run(chain(12_499), {})
    assert ok.status == "SUCCEEDED"
    assert (ok.history[-1].event_type, ok.history[-1].event_id) == ("ExecutionSucceeded", 25_000)
    over = stepkit.run(chain(12_500), {})
    assert (over.status, over.history[-1].event_type, over.history[-1].event_id) == (
        "FAILED",
        "ExecutionFailed",
        25_000,
    )
