"""Map and Parallel: ordering, bounded concurrency, failures, tolerated failures, size."""

import threading
import time

import pytest

from stepkit import StateMachine, run
from stepkit.asl.errors import StatesError
from stepkit.integrations.registry import IntegrationRegistry


def map_of(processor_state: dict, **fields) -> dict:
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "P", "States": {"P": {**processor_state, "End": True}}},
                "End": True,
                **fields,
            }
        },
    }


class Gauge:
    """A task that records how many calls run at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def __call__(self, invocation):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(0.02)
        with self.lock:
            self.now -= 1
        return invocation.parameters


def test_results_keep_item_order():
    ex = run(map_of({"Type": "Pass"}), [3, 1, 2])
    assert ex.output == [3, 1, 2]


def test_item_selector_sees_index_and_value():
    ex = run(
        map_of({"Type": "Pass"}, ItemSelector={"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value"}), ["a", "b"]
    )
    assert ex.output == [{"i": 0, "v": "a"}, {"i": 1, "v": "b"}]


@pytest.mark.parametrize("limit", [1, 3])
def test_max_concurrency_bounds_tasks_in_flight(limit):
    gauge = Gauge()
    registry = IntegrationRegistry()
    registry.register("arn:aws:states:::gauge:run", gauge)
    definition = map_of({"Type": "Task", "Resource": "arn:aws:states:::gauge:run"}, MaxConcurrency=limit)
    ex = StateMachine(definition, registry=registry).run(list(range(12)))
    assert ex.output == list(range(12))
    assert gauge.peak <= limit
    if limit > 1:
        assert gauge.peak > 1


def test_one_failing_iteration_fails_the_inline_map():
    def fn(event):
        if event == 3:
            raise StatesError("Bad", "item 3")
        return event

    definition = map_of({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f"})
    ex = run(definition, [1, 2, 3, 4], functions={"f": fn})
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "Bad", "item 3")
    assert "MapIterationFailed" in ex.event_types and "MapStateFailed" in ex.event_types


def test_distributed_map_tolerates_failures_up_to_the_threshold():
    processor = {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 0, "Next": "Boom"}], "Default": "Ok"}
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ToleratedFailureCount": 1,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "C",
                    "States": {"C": processor, "Boom": {"Type": "Fail", "Error": "Zero"}, "Ok": {"Type": "Succeed"}},
                },
                "End": True,
            }
        },
    }
    ok = run(definition, [0, 1, 2])
    assert ok.status == "SUCCEEDED"
    assert ok.output[1:] == [1, 2]
    assert "MapRunStarted" in ok.event_types and "MapIterationStarted" not in ok.event_types
    failed = run(definition, [0, 0, 2])
    assert (failed.status, failed.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")


def test_item_batcher_groups_items():
    definition = map_of(
        {"Type": "Pass"},
        ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {"tag": "t"}},
        ItemProcessor={
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "P",
            "States": {"P": {"Type": "Pass", "End": True}},
        },
    )
    ex = run(definition, [1, 2, 3])
    assert ex.output == [{"BatchInput": {"tag": "t"}, "Items": [1, 2]}, {"BatchInput": {"tag": "t"}, "Items": [3]}]


def test_large_map_runs_without_recursion():
    # EXPRESS: a STANDARD execution would reach the 25,000-event history quota, as on AWS
    ex = StateMachine(map_of({"Type": "Pass", "Parameters": {"x.$": "$"}}), type="EXPRESS").run(list(range(20_000)))
    assert ex.status == "SUCCEEDED"
    assert ex.output[-1] == {"x": 19_999}


def test_parallel_branches_get_the_same_input_and_keep_order():
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"a.$": "$.v"}, "End": True}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "Parameters": {"b.$": "$.v"}, "End": True}}},
                ],
                "End": True,
            }
        },
    }
    assert run(definition, {"v": 1}).output == [{"a": 1}, {"b": 1}]


def test_failing_branch_fails_the_parallel_with_its_error():
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Fail", "Error": "BranchBroke", "Cause": "b"}}},
                ],
                "End": True,
            }
        },
    }
    ex = run(definition, {})
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "BranchBroke", "b")
    assert ex.event_types[-2:] == ["ParallelStateFailed", "ExecutionFailed"]


def test_variables_of_an_iteration_do_not_leak_out():
    definition = {
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"outer": 1}, "Next": "M"},
            "M": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "In",
                    "States": {
                        "In": {"Type": "Pass", "Assign": {"inner.$": "$"}, "Parameters": {"o.$": "$outer"}, "End": True}
                    },
                },
                "ItemsPath": "$.items",
                "Next": "After",
            },
            "After": {"Type": "Pass", "Parameters": {"seen.$": "$outer"}, "End": True},
        },
    }
    ex = run(definition, {"items": [1, 2]})
    assert ex.output == {"seen": 1}
