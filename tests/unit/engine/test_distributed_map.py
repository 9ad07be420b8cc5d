"""Distributed Map: child executions, Map Run records, ItemBatcher, tolerated failures,
UpdateMapRun and redrive (items from the input; the S3 reader and writer are in
test_distributed_map_s3.py)."""

import threading
import time

import pytest

from stepkit import StateMachine, run
from stepkit.endpoint.map_runs import describe_child, describe_map_run
from stepkit.engine.map_run import redrive_execution
from stepkit.integrations.registry import IntegrationRegistry

DISTRIBUTED = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}


def dmap(states: dict, start: str = "P", *, execution_type: str = "STANDARD", **fields) -> dict:
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
                    "StartAt": start,
                    "States": states,
                },
                "End": True,
                **fields,
            }
        },
    }


PASS = {"P": {"Type": "Pass", "End": True}}


def prepared(definition, input, *, registry=None, validate=True, **kw):
    machine = StateMachine(definition, registry=registry, validate=validate, name="Sweep", **kw)
    execution_run = machine.prepare(input)
    return execution_run, execution_run.start()


# -- child executions ------------------------------------------------------------------
def test_each_item_runs_as_a_child_execution_with_its_own_history():
    execution_run, ex = prepared(dmap(PASS, Label="Train"), [1, 2, 3])
    assert ex.status == "SUCCEEDED" and ex.output == [1, 2, 3]
    assert ex.event_types == [
        "ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapRunStarted", "MapRunSucceeded",
        "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded",
    ]
    (map_run,) = execution_run.map_runs.values()
    assert map_run.arn.startswith("arn:aws:states:us-east-1:123456789012:mapRun:Sweep/Train:")
    children = map_run.executions()
    assert [c.input for c in children] == [1, 2, 3]
    for child in children:
        assert child.arn == f"arn:aws:states:us-east-1:123456789012:execution:Sweep/Train:{child.name}"
        assert child.state_machine_arn == "arn:aws:states:us-east-1:123456789012:stateMachine:Sweep/Train"
        assert [e.event_type for e in child.history] == [
            "ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded",
        ]
        assert child.history[0].to_aws()["executionStartedEventDetails"]["stateMachineArn"] == child.state_machine_arn
        assert map_run.find(child.arn) is child
    started = ex.events()[3]
    assert started["mapRunStartedEventDetails"]["mapRunArn"] == map_run.arn


def test_a_map_without_label_gets_a_generated_one_stable_across_runs():
    first, _ = prepared(dmap(PASS), [1])
    second, _ = prepared(dmap(PASS), [1])
    (a,), (b,) = first.map_runs.values(), second.map_runs.values()
    label_a = a.arn.split("mapRun:Sweep/")[1].rsplit(":", 1)[0]
    label_b = b.arn.split("mapRun:Sweep/")[1].rsplit(":", 1)[0]
    assert label_a == label_b and len(label_a) == 36  # a name-based UUID
    assert a.arn != b.arn


def test_children_see_their_own_context_object():
    states = {"P": {"Type": "Pass", "Parameters": {"id.$": "$$.Execution.Id", "sm.$": "$$.StateMachine.Id",
                                                  "input.$": "$$.Execution.Input"}, "End": True}}
    execution_run, ex = prepared(dmap(states, Label="L"), [{"a": 1}])
    (child,) = next(iter(execution_run.map_runs.values())).executions()
    assert ex.output == [{"id": child.arn, "sm": child.state_machine_arn, "input": {"a": 1}}]


def test_express_children_get_express_arns():
    execution_run, ex = prepared(dmap(PASS, execution_type="EXPRESS", Label="E"), [1, 2])
    assert ex.status == "SUCCEEDED"
    for child in next(iter(execution_run.map_runs.values())).executions():
        assert ":express:Sweep/E:" in child.arn
        assert describe_child(child)["redriveStatus"] == "NOT_REDRIVABLE"


def test_children_do_not_see_the_parent_variables_but_item_selector_does():
    definition = {
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"secret": 42}, "Next": "M"},
            "M": {
                "Type": "Map",
                "ItemSelector": {"v.$": "$$.Map.Item.Value", "s.$": "$secret"},
                "ItemProcessor": {"ProcessorConfig": DISTRIBUTED, "StartAt": "P", "States": PASS},
                "End": True,
            },
        },
    }
    ex = run(definition, [1])
    assert ex.output == [{"v": 1, "s": 42}]
    leaking = dict(definition)
    leaking["States"] = dict(definition["States"])
    leaking["States"]["M"] = {
        **definition["States"]["M"],
        "ItemSelector": {"v.$": "$$.Map.Item.Value"},
        "ItemProcessor": {
            "ProcessorConfig": DISTRIBUTED,
            "StartAt": "P",
            "States": {"P": {"Type": "Pass", "Parameters": {"s.$": "$secret"}, "End": True}},
        },
    }
    failed = run(leaking, [1], validate=False)
    assert (failed.status, failed.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")


def test_jsonata_items_and_item_selector():
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "Items": "{% $states.input.xs %}",
                "ItemSelector": {"double": "{% $states.context.Map.Item.Value * 2 %}"},
                "ItemProcessor": {"ProcessorConfig": DISTRIBUTED, "StartAt": "P", "States": PASS},
                "Output": "{% $states.result %}",
                "End": True,
            }
        },
    }
    assert run(definition, {"xs": [1, 2]}).output == [{"double": 2}, {"double": 4}]


# -- batches ---------------------------------------------------------------------------
def test_item_batcher_max_items_batch_input_and_per_item_selector():
    ex = run(
        dmap(
            PASS,
            ItemSelector={"n.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
            ItemBatcher={"MaxItemsPerBatchPath": "$.size", "BatchInput": {"run.$": "$.run"}},
            ItemsPath="$.xs",
        ),
        {"xs": [10, 20, 30], "size": 2, "run": "r1"},
    )
    assert ex.output == [
        {"BatchInput": {"run": "r1"}, "Items": [{"n": 10, "i": 0}, {"n": 20, "i": 1}]},
        {"BatchInput": {"run": "r1"}, "Items": [{"n": 30, "i": 2}]},
    ]


def test_item_batcher_max_input_bytes():
    items = ["x" * 40] * 5  # each item is 42 bytes of JSON
    ex = run(dmap(PASS, ItemBatcher={"MaxInputBytesPerBatch": 100}), items)
    sizes = [len(b["Items"]) for b in ex.output]
    assert sizes == [2, 2, 1]  # {"Items":[..,..]} = 11 + 42 + 1 + 42 = 96 bytes
    too_big = run(dmap(PASS, ItemBatcher={"MaxInputBytesPerBatch": 30}), items)
    assert (too_big.status, too_big.error) == ("FAILED", "States.ItemReaderFailed")
    assert "index 0" in too_big.cause


def test_item_batcher_in_jsonata():
    definition = dmap(PASS, ItemBatcher={"MaxItemsPerBatch": "{% $states.input.n %}", "BatchInput": {"k": "{% 1+1 %}"}},
                      Items="{% $states.input.xs %}")
    definition["QueryLanguage"] = "JSONata"
    ex = run(definition, {"xs": [1, 2, 3], "n": 3})
    assert ex.output == [{"BatchInput": {"k": 2}, "Items": [1, 2, 3]}]


# -- failures --------------------------------------------------------------------------
FAIL_ON_ZERO = {
    "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 0, "Next": "Boom"}], "Default": "Ok"},
    "Boom": {"Type": "Fail", "Error": "Zero", "Cause": "zero item"},
    "Ok": {"Type": "Succeed"},
}


def test_tolerated_failures_are_returned_whole_and_counted():
    execution_run, ex = prepared(dmap(FAIL_ON_ZERO, "C", ToleratedFailureCount=1, Label="T"), [0, 1])
    assert ex.status == "SUCCEEDED"
    failed_record, ok = ex.output
    assert ok == 1
    assert failed_record["Status"] == "FAILED" and failed_record["Error"] == "Zero"
    assert failed_record["Cause"] == "zero item" and failed_record["Input"] == "0"
    described = describe_map_run(next(iter(execution_run.map_runs.values())))
    assert described["status"] == "SUCCEEDED"
    assert described["toleratedFailureCount"] == 1
    assert described["itemCounts"]["failed"] == 1 and described["itemCounts"]["succeeded"] == 1
    assert described["executionCounts"]["total"] == 2


@pytest.mark.parametrize(
    ("fields", "items", "status"),
    [
        ({"ToleratedFailurePercentage": 50}, [0, 1], "SUCCEEDED"),
        ({"ToleratedFailurePercentage": 49}, [0, 1], "FAILED"),
        ({"ToleratedFailureCount": 1}, [0, 0, 1], "FAILED"),
        ({"ToleratedFailureCount": 5, "ToleratedFailurePercentage": 10}, [0, 1, 1], "FAILED"),
        ({}, [1, 0], "FAILED"),
    ],
)
def test_tolerated_failure_thresholds(fields, items, status):
    execution_run, ex = prepared(dmap(FAIL_ON_ZERO, "C", **fields), items)
    assert ex.status == status
    if status == "FAILED":
        assert ex.error == "States.ExceedToleratedFailureThreshold"
        assert ex.cause == "The specified tolerated failure threshold was exceeded"
        assert ex.event_types[-4:] == ["MapRunStarted", "MapRunFailed", "MapStateFailed", "ExecutionFailed"]
        failed_event = ex.events()[-3]["mapRunFailedEventDetails"]
        assert failed_event["error"] == "States.ExceedToleratedFailureThreshold"
        assert next(iter(execution_run.map_runs.values())).status == "FAILED"


def test_a_count_threshold_stops_the_map_run_early_and_keeps_the_rest_pending():
    registry = IntegrationRegistry()
    calls = []
    registry.register("arn:aws:states:::lambda:invoke", lambda inv: calls.append(inv.parameters) or 1 / 0)

    def failing(invocation):
        calls.append(invocation.parameters)
        from stepkit.asl.errors import StatesError

        raise StatesError("Boom", "no")

    registry.register("arn:aws:states:::mine", failing)
    states = {"T": {"Type": "Task", "Resource": "arn:aws:states:::mine", "End": True}}
    execution_run, ex = prepared(dmap(states, "T", MaxConcurrency=1), list(range(10)), registry=registry)
    assert (ex.status, ex.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    map_run = next(iter(execution_run.map_runs.values()))
    assert len(calls) == 1
    assert len(map_run.pending) == 9
    assert describe_map_run(map_run)["itemCounts"]["pending"] == 9


def test_data_limit_of_the_results_without_a_result_writer():
    registry = IntegrationRegistry()
    registry.register("arn:aws:states:::big", lambda invocation: "y" * 100_000)
    states = {"T": {"Type": "Task", "Resource": "arn:aws:states:::big", "End": True}}
    _, ex = prepared(dmap(states, "T"), [1, 2, 3], registry=registry)
    assert (ex.status, ex.error) == ("FAILED", "States.DataLimitExceeded")
    assert "MapRunSucceeded" in ex.event_types and ex.event_types[-2] == "MapStateFailed"


def test_a_catch_takes_the_map_run_failure():
    definition = dmap(FAIL_ON_ZERO, "C")
    definition["States"]["M"]["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
    definition["States"]["M"].pop("End")
    definition["States"]["M"]["Next"] = "Caught"
    definition["States"]["Caught"] = {"Type": "Pass", "End": True}
    ex = run(definition, [0])
    assert ex.status == "SUCCEEDED" and ex.output["Error"] == "States.ExceedToleratedFailureThreshold"


# -- concurrency and UpdateMapRun --------------------------------------------------------
class Gauge:
    def __init__(self, delay=0.05):
        self.lock = threading.Lock()
        self.now = self.peak = self.calls = 0
        self.delay = delay

    def __call__(self, invocation):
        with self.lock:
            self.now += 1
            self.calls += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.delay)
        with self.lock:
            self.now -= 1
        return invocation.parameters


def test_max_concurrency_bounds_the_children_and_update_map_run_changes_it_while_running():
    registry = IntegrationRegistry()
    gauge = Gauge()
    registry.register("arn:aws:states:::gauge", gauge)
    states = {"T": {"Type": "Task", "Resource": "arn:aws:states:::gauge", "End": True}}
    machine = StateMachine(dmap(states, "T", MaxConcurrency=1), registry=registry)
    execution_run = machine.prepare(list(range(30)))
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("ex", execution_run.start()))
    thread.start()
    deadline = time.time() + 5
    while not execution_run.map_runs and time.time() < deadline:
        time.sleep(0.005)
    time.sleep(0.2)
    assert gauge.peak == 1
    map_run = next(iter(execution_run.map_runs.values()))
    assert describe_map_run(map_run)["status"] == "RUNNING"
    assert describe_map_run(map_run)["executionCounts"]["running"] == 1
    map_run.update(max_concurrency=4)
    thread.join(10)
    assert result["ex"].status == "SUCCEEDED" and result["ex"].output == list(range(30))
    assert gauge.peak == 4
    assert describe_map_run(map_run)["maxConcurrency"] == 4
    with pytest.raises(ValueError):
        map_run.update(tolerated_failure_percentage=101)


def test_update_map_run_tolerance_takes_effect_on_a_running_map_run():
    registry = IntegrationRegistry()
    gate = threading.Event()

    def task(invocation):
        if invocation.parameters == 0:
            from stepkit.asl.errors import StatesError

            raise StatesError("Boom", "zero")
        gate.wait(5)
        return invocation.parameters

    registry.register("arn:aws:states:::t", task)
    states = {"T": {"Type": "Task", "Resource": "arn:aws:states:::t", "End": True}}
    machine = StateMachine(dmap(states, "T", ToleratedFailureCount=0, MaxConcurrency=2), registry=registry)
    execution_run = machine.prepare([1, 0, 2])
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("ex", execution_run.start()))
    thread.start()
    while not execution_run.map_runs:
        time.sleep(0.005)
    next(iter(execution_run.map_runs.values())).update(tolerated_failure_count=1)
    gate.set()
    thread.join(10)
    # the failure may have been seen before the update: either way the outcome names it
    assert out["ex"].status in ("SUCCEEDED", "FAILED")
    if out["ex"].status == "SUCCEEDED":
        assert out["ex"].output[0] == 1 and out["ex"].output[2] == 2


def test_stopping_the_parent_aborts_the_running_children():
    registry = IntegrationRegistry()
    registry.register("arn:aws:states:::slow", Gauge(delay=0.3))
    states = {"T": {"Type": "Task", "Resource": "arn:aws:states:::slow", "Next": "W"},
              "W": {"Type": "Pass", "End": True}}
    machine = StateMachine(dmap(states, "T", MaxConcurrency=2), registry=registry)
    execution_run = machine.prepare(list(range(6)))
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("ex", execution_run.start()))
    thread.start()
    time.sleep(0.1)
    execution_run.stop("Stopped", "by test")
    thread.join(10)
    assert out["ex"].status == "ABORTED"
    map_run = next(iter(execution_run.map_runs.values()))
    assert map_run.status == "ABORTED"
    assert {c.status for c in map_run.executions()} <= {"ABORTED", "SUCCEEDED"}


# -- redrive ----------------------------------------------------------------------------
def test_redrive_re_runs_only_the_failed_children():
    registry = IntegrationRegistry()
    calls: list = []
    broken = {2}

    def task(invocation):
        calls.append(invocation.parameters)
        if invocation.parameters in broken:
            from stepkit.asl.errors import StatesError

            raise StatesError("Flaky", "try again")
        return invocation.parameters * 10

    registry.register("arn:aws:states:::flaky", task)
    states = {"T": {"Type": "Task", "Resource": "arn:aws:states:::flaky", "End": True}}
    execution_run, first = prepared(dmap(states, "T", MaxConcurrency=1), [1, 2, 3], registry=registry)
    assert (first.status, first.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    map_run = next(iter(execution_run.map_runs.values()))
    failed_child = map_run.executions("FAILED")[0]
    assert describe_child(failed_child)["redriveStatus"] == "REDRIVABLE_BY_MAP_RUN"
    assert sorted(calls) == [1, 2]  # the threshold stopped the run before item 3
    broken.clear()
    calls.clear()
    second = redrive_execution(execution_run)
    assert second.status == "SUCCEEDED" and second.output == [10, 20, 30]
    assert sorted(calls) == [2, 3]  # the succeeded child did not run again
    types = second.event_types
    assert types.count("ExecutionFailed") == 1 and "ExecutionRedriven" in types
    assert types[types.index("ExecutionRedriven"):] == [
        "ExecutionRedriven", "MapStateEntered", "MapStateStarted", "MapRunRedriven", "MapRunSucceeded",
        "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded",
    ]
    redriven = next(e for e in second.events() if e["type"] == "MapRunRedriven")["mapRunRedrivenEventDetails"]
    assert redriven == {"mapRunArn": map_run.arn, "redriveCount": 1}
    assert map_run.status == "SUCCEEDED" and describe_map_run(map_run)["redriveCount"] == 1
    assert failed_child.status == "SUCCEEDED" and failed_child.redrive_count == 1
    child_types = [e.event_type for e in failed_child.history]
    assert child_types[child_types.index("ExecutionFailed") + 1] == "ExecutionRedriven"
    assert child_types[-1] == "ExecutionSucceeded"


def test_execution_run_resume_with_redrive_count_sets_the_context():
    definition = {"StartAt": "F", "States": {"F": {"Type": "Pass", "Parameters": {"n.$": "$$.Execution.RedriveCount"},
                                                   "End": True}}}
    machine = StateMachine(definition)
    first = machine.prepare({})
    first.start()
    again = machine.prepare({}, name=first.name)
    result = again.resume(list(first.history), redrive_count=1)
    assert result.status == "SUCCEEDED"  # an ended history is returned as it ended


def test_nested_map_runs_are_listed_with_the_top_execution():
    inner = {"Type": "Map", "ItemsPath": "$.xs", "ItemProcessor": {"ProcessorConfig": DISTRIBUTED, "StartAt": "P",
                                                                   "States": PASS}, "End": True}
    execution_run, ex = prepared(dmap({"Inner": inner}, "Inner", Label="Outer"), [{"xs": [1, 2]}, {"xs": [3]}])
    assert ex.status == "SUCCEEDED" and ex.output == [[1, 2], [3]]
    runs = list(execution_run.map_runs.values())
    assert len(runs) == 3
    outer = runs[0]
    assert outer.execution_arn == execution_run.execution_arn
    children = {c.arn for c in outer.executions()}
    assert {r.execution_arn for r in runs[1:]} == children
    assert sorted(len(r.executions()) for r in runs[1:]) == [1, 2]


def test_without_retained_histories_only_failed_children_keep_theirs():
    machine = StateMachine(dmap(FAIL_ON_ZERO, "C", ToleratedFailureCount=1))
    execution_run = machine.prepare([0, 1])
    execution_run.retain_child_histories = False
    assert execution_run.start().status == "SUCCEEDED"
    failed, ok = next(iter(execution_run.map_runs.values())).executions()
    assert failed.status == "FAILED" and failed.history[-1].event_type == "ExecutionFailed"
    assert ok.status == "SUCCEEDED" and ok.history == [] and ok.output == 1 and ok.input == 1


def test_map_run_records_round_trip_and_a_read_back_map_run_can_be_redriven():
    import json as _json

    from stepkit.engine.map_run import MapRun, adopt_map_runs

    registry = IntegrationRegistry()
    broken = {1}

    def task(invocation):
        if invocation.parameters in broken:
            from stepkit.asl.errors import StatesError

            raise StatesError("Flaky", "once")
        return invocation.parameters

    registry.register("arn:aws:states:::f", task)
    states = {"T": {"Type": "Task", "Resource": "arn:aws:states:::f", "End": True}}
    machine = StateMachine(dmap(states, "T", MaxConcurrency=1), registry=registry, name="Sweep")
    first = machine.prepare([0, 1, 2])
    assert first.start().status == "FAILED"
    (original,) = first.map_runs.values()
    record = _json.loads(_json.dumps(original.to_record()))
    restored = MapRun.from_record(record)
    assert describe_map_run(restored) == describe_map_run(original)
    assert [describe_child(c) for c in restored.executions()] == [describe_child(c) for c in original.executions()]
    assert [e.event_type for e in restored.executions()[1].history] == [
        e.event_type for e in original.executions()[1].history
    ]
    broken.clear()
    again = machine.prepare([0, 1, 2], name=first.name)
    adopt_map_runs(again, [restored])
    result = again.resume(list(first.history), redrive_count=1)
    assert result.status == "SUCCEEDED" and result.output == [0, 1, 2]
    assert restored.status == "SUCCEEDED" and restored.redrive_count == 1
