"""Executions: history shape, stop, resume after a crash, waits, invalid definitions, mocks."""

import threading
import time

import pytest

from stepkit import InvalidDefinition, StateMachine, run
from stepkit.engine.clock import VirtualClock
from stepkit.engine.history import HistoryEvent
from stepkit.integrations.mock_config import MockConfig

CHAIN = {
    "StartAt": "A",
    "States": {
        "A": {"Type": "Pass", "Result": 1, "ResultPath": "$.a", "Assign": {"seen": "a"}, "Next": "B"},
        "B": {"Type": "Pass", "Parameters": {"a.$": "$.a", "seen.$": "$seen"}, "Next": "C"},
        "C": {"Type": "Pass", "End": True},
    },
}


def test_history_has_aws_shape_and_links():
    ex = run(CHAIN, {"x": 0})
    events = ex.events()
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "ExecutionStarted" and events[0]["previousEventId"] == 0
    assert all(e["previousEventId"] == e["id"] - 1 for e in events[1:])
    entered = events[1]["stateEnteredEventDetails"]
    assert entered == {"name": "A", "input": '{"x":0}', "inputDetails": {"truncated": False}}
    exited = events[2]["stateExitedEventDetails"]
    assert exited["assignedVariables"] == {"seen": '"a"'}
    assert events[-1]["executionSucceededEventDetails"]["output"] == '{"a":1,"seen":"a"}'


def test_resume_after_a_crash_continues_from_the_last_transition():
    full = run(CHAIN, {"x": 0})
    for cut in range(1, len(full.history) - 1):
        kept = [HistoryEvent.from_record(e.to_record()) for e in full.history[:cut]]
        machine = StateMachine(CHAIN)
        resumed = machine.prepare({"x": 0}, name=full.name).resume(kept)
        assert resumed.status == "SUCCEEDED", cut
        assert resumed.output == full.output, cut
        assert [e.event_id for e in resumed.history] == list(range(1, len(resumed.history) + 1))


MAPPED = {
    "StartAt": "A",
    "States": {
        "A": {"Type": "Pass", "Result": [1, 2, 3], "ResultPath": "$.items", "Assign": {"seen": "a"}, "Next": "M"},
        "M": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.mapped", "Next": "B", "ItemProcessor": {
            "StartAt": "I", "States": {"I": {"Type": "Pass", "Assign": {"inner": 1}, "End": True}}}},
        "B": {"Type": "Pass", "Parameters": {"mapped.$": "$.mapped", "seen.$": "$seen"}, "End": True},
    },
}


def test_resume_needs_only_the_top_level_events_and_the_last_id():
    """``resume(events, last_event_id=...)`` given only the depth-0 events (what the endpoint
    reads) goes on exactly as a resume given the whole history, at every cut, Map
    iterations included."""
    full = run(MAPPED, {})
    for cut in range(1, len(full.history) - 1):
        kept = [HistoryEvent.from_record(e.to_record()) for e in full.history[:cut]]
        whole = StateMachine(MAPPED).prepare({}, name=full.name).resume(kept)
        streamed: list[HistoryEvent] = []
        top_level = iter([e for e in kept if e.depth == 0])
        run_ = StateMachine(MAPPED).prepare({}, name=full.name, listener=streamed.append, keep_history=False)
        resumed = run_.resume(top_level, last_event_id=kept[-1].event_id)
        assert (resumed.status, resumed.output) == (whole.status, whole.output) == ("SUCCEEDED", full.output), cut
        new = whole.history[cut:]
        assert [(e.event_id, e.previous_id, e.event_type, e.depth) for e in streamed] == [
            (e.event_id, e.previous_id, e.event_type, e.depth) for e in new], cut


def test_resume_of_a_finished_history_changes_nothing():
    full = run(CHAIN, {})
    again = StateMachine(CHAIN).prepare({}, name=full.name).resume(list(full.history))
    assert (again.status, again.output, len(again.history)) == ("SUCCEEDED", full.output, len(full.history))


def test_stop_aborts_a_running_execution():
    definition = {
        "StartAt": "W",
        "States": {
            "W": {"Type": "Wait", "Seconds": 1, "Next": "W2"},
            "W2": {"Type": "Wait", "Seconds": 1, "End": True},
        },
    }
    machine = StateMachine(definition)
    run_ = machine.prepare({})
    threading.Timer(0.2, lambda: run_.stop("Stopped", "by test")).start()
    ex = run_.start()
    assert (ex.status, ex.error, ex.cause) == ("ABORTED", "Stopped", "by test")
    assert ex.event_types[-1] == "ExecutionAborted"


def test_wait_uses_the_clock():
    definition = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    clock = VirtualClock()
    t0 = time.monotonic()
    before = clock.now()
    ex = run(definition, {}, clock=clock)
    assert ex.status == "SUCCEEDED"
    assert clock.now() - before >= 3600
    assert time.monotonic() - t0 < 60  # the hour was not slept


def test_invalid_definition_lists_every_problem():
    with pytest.raises(InvalidDefinition) as info:
        StateMachine({"StartAt": "Nowhere", "States": {"A": {"Type": "Pass", "Next": "Missing"}}})
    assert len(info.value.diagnostics) >= 2
    assert "Invalid State Machine Definition" in str(info.value)


def test_path_to_nothing_is_a_runtime_error_naming_the_state():
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.missing", "End": True}}}
    ex = run(definition, {})
    assert ex.error == "States.Runtime"
    assert ex.cause == (
        "An error occurred while executing the state 'P' (entered at the event id #2). "
        "Invalid path '$.missing' : No results for path: $['missing']"
    )


def test_no_choice_matched():
    definition = {
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": 1, "Next": "E"}]},
            "E": {"Type": "Succeed"},
        },
    }
    ex = run(definition, {"x": 2})
    assert ex.error == "States.NoChoiceMatched"


def test_mock_config_ranges_and_throws():
    config = MockConfig.load(
        {
            "StateMachines": {"sm": {"TestCases": {"flaky": {"T": "FlakyThenOk"}}}},
            "MockedResponses": {
                "FlakyThenOk": {
                    "0-1": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "boom"}},
                    "2": {"Return": {"done": True}},
                }
            },
        }
    )
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
                "Retry": [{"ErrorEquals": ["Lambda.ServiceException"], "MaxAttempts": 3, "IntervalSeconds": 1}],
                "End": True,
            }
        },
    }
    ex = run(definition, {}, mock_config=config, test_case="flaky", skip_waits=True)
    assert (ex.status, ex.output) == ("SUCCEEDED", {"done": True})
    assert ex.event_types.count("LambdaFunctionFailed") == 2


def test_mock_config_errors_name_the_problem():
    with pytest.raises(ValueError, match="test case 'nope'"):
        run(
            {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
            {},
            mock_config={"StateMachines": {}, "MockedResponses": {}},
            test_case="nope",
        )
    with pytest.raises(ValueError, match="exactly one of Return or Throw"):
        MockConfig.load({"MockedResponses": {"M": {"0": {}}}})


def test_express_execution_arn_and_context():
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"e.$": "$$.Execution"}, "End": True}}}
    ex = run(definition, {}, state_machine_type="EXPRESS")
    assert ":express:" in ex.execution_arn
    assert "RedriveCount" not in ex.output["e"]


def test_input_over_the_limit_is_refused_before_running():
    from stepkit import InvalidExecutionInput

    with pytest.raises(InvalidExecutionInput, match="over the maximum"):
        run(CHAIN, {"blob": "x" * (256 * 1024)})


def test_intrinsic_with_wrong_arguments_fails_with_intrinsic_failure():
    definition = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Parameters": {"v.$": "States.MathAdd($.a, 'x')"}, "End": True}},
    }
    ex = run(definition, {"a": 1})
    assert ex.error == "States.IntrinsicFailure"
    assert ex.cause.startswith("An error occurred while executing the state 'P' (entered at the event id #2).")


def test_a_redriven_execution_resumed_after_a_crash_goes_on_without_a_new_redrive():
    calls = []

    def flaky(event):
        calls.append(event)
        if len(calls) == 1:
            from stepkit.asl.errors import StatesError

            raise StatesError("Flaky", "first time")
        return {"ok": True}

    definition = {
        "StartAt": "Count",
        "States": {
            "Count": {"Type": "Pass", "Parameters": {"redrives.$": "$$.Execution.RedriveCount"}, "Next": "Work"},
            "Work": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:flaky",
                "Next": "Seen",
            },
            "Seen": {"Type": "Pass", "Parameters": {"redrives.$": "$$.Execution.RedriveCount"}, "End": True},
        },
    }
    machine = StateMachine(definition, functions={"flaky": flaky})
    failed = machine.run({}, name="x")
    assert failed.status == "FAILED"
    redriven = machine.prepare({}, name="x").resume(list(failed.history), redrive_count=1)
    assert redriven.status == "SUCCEEDED" and redriven.output == {"redrives": 1}
    # the process died right after the redrive entered Work again: resume that history
    cut = next(i for i, e in enumerate(redriven.history) if e.event_type == "ExecutionRedriven") + 2
    calls.clear()
    calls.append("already failed once")
    again = machine.prepare({}, name="x").resume(list(redriven.history[:cut]))
    assert again.status == "SUCCEEDED" and again.output == {"redrives": 1}
    assert again.event_types.count("ExecutionRedriven") == 1
