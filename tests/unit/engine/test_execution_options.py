"""ExecutionRun's declared options: the ARN and redrive count a caller gives, the history
streamed to a sink instead of kept, and Distributed Map children's histories kept or not."""

from __future__ import annotations

import re

from stepkit import StateMachine
from stepkit.engine.execution import derive_execution_arn
from stepkit.engine.history import HistoryEvent

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:Flow"
CONTEXT = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"id.$": "$$.Execution.Id",
                                                                            "redrives.$": "$$.Execution.RedriveCount"},
                                            "End": True}}}


def test_the_execution_arn_is_derived_in_one_place():
    assert derive_execution_arn(MACHINE, "run-1", express=False) == \
        "arn:aws:states:us-east-1:123456789012:execution:Flow:run-1"
    express = derive_execution_arn(MACHINE, "run-1", express=True)
    assert re.fullmatch(r"arn:aws:states:us-east-1:123456789012:express:Flow:run-1:[0-9a-f-]{36}", express)
    assert derive_execution_arn(MACHINE, "run-1", express=True) != express  # a new id each time
    run = StateMachine(CONTEXT, name="Flow").prepare({}, name="run-1")
    assert run.execution_arn == derive_execution_arn(MACHINE, "run-1", express=False)


def test_a_given_arn_and_redrive_count_are_what_the_execution_sees():
    arn = "arn:aws:states:us-east-1:123456789012:execution:Flow:given"
    run = StateMachine(CONTEXT, name="Flow").prepare({}, name="given", execution_arn=arn, redrive_count=2)
    result = run.start()
    assert result.execution_arn == arn
    assert result.output == {"id": arn, "redrives": 2}


def test_without_keep_history_events_stream_to_the_sink_only():
    seen: list[HistoryEvent] = []
    machine = StateMachine({"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        "End": True}}})
    run = machine.prepare(list(range(100)), listener=seen.append, keep_history=False)
    result = run.start()
    assert result.status == "SUCCEEDED" and result.output == list(range(100))
    assert run.history == [] and result.history == []
    assert len(seen) == 406 and sorted(e.event_id for e in seen) == list(range(1, 407))
    kept = machine.prepare(list(range(100))).start()  # the default keeps the list (stepkit.run)
    assert [e.event_type for e in kept.history] == [e.event_type for e in sorted(seen, key=lambda e: e.event_id)]


def _distributed(states: dict) -> dict:
    return {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ToleratedFailurePercentage": 100,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "C", "States": states},
        "End": True}}}


FAIL_ODD = {
    "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 1, "Next": "F"}], "Default": "P"},
    "P": {"Type": "Pass", "End": True},
    "F": {"Type": "Fail", "Error": "Odd"},
}


def test_retain_child_histories_is_a_declared_option():
    machine = StateMachine(_distributed(FAIL_ODD), name="Flow")
    run = machine.prepare([0, 1, 2])
    assert run.retain_child_histories is True
    run.start()
    (map_run,) = run.map_runs.values()
    assert all(child.history for child in map_run.executions())
    lean = machine.prepare([0, 1, 2], retain_child_histories=False)
    lean.start()
    (map_run,) = lean.map_runs.values()
    kept = {child.status: bool(child.history) for child in map_run.executions()}
    assert kept == {"SUCCEEDED": False, "FAILED": True}  # a redrive needs the failed one's
