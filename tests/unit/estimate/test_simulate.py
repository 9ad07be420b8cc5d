"""The simulation against arithmetic it must agree with (no wall-clock: simulated time only)."""

from __future__ import annotations

from typing import Any

import pytest

from stepkit.estimate.prices import load_prices
from stepkit.estimate.quotas import load_quotas
from stepkit.estimate.simulate import FunctionModel, Settings, Simulation, downsample, simulation_document
from stepkit.estimate.trace import Step, stub_trace

FN = "arn:aws:lambda:us-east-1:123456789012:function:work"
ON_THROTTLE = [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1, "BackoffRate": 2,
                "MaxAttempts": 20, "MaxDelaySeconds": 4, "JitterStrategy": "FULL"}]


def _map(mode: str, retry: list | None = None, states: dict | None = None, **extra: Any) -> dict:
    config: dict[str, Any] = {"Mode": mode}
    if mode == "DISTRIBUTED":
        config["ExecutionType"] = extra.pop("execution_type", "EXPRESS")
    inner = states or {"T": {"Type": "Task", "Resource": FN, "End": True, **({"Retry": retry} if retry else {})}}
    return {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "End": True, **extra,
        "ItemProcessor": {"ProcessorConfig": config, "StartAt": next(iter(inner)), "States": inner}}}}


def _simulation(definition: dict, items: int, **settings: Any) -> Simulation:
    trace = stub_trace(definition, {"items": list(range(items))}).steps
    options: dict[str, Any] = {"task_seconds": {}, "default_task_seconds": 1.0, "functions": {},
                               "account_concurrency": 1000, **settings}
    return Simulation(trace, Settings(**options), load_quotas())


def _simulate(definition: dict, items: int, **settings: Any) -> Any:
    return _simulation(definition, items, **settings).run()


def test_an_inline_map_of_1000_one_second_tasks_needs_25_seconds() -> None:
    outcome = _simulate(_map("INLINE"), 1000)
    assert outcome.status == "SUCCEEDED"
    assert outcome.makespan_seconds >= 1000 / 40
    assert outcome.makespan_seconds == pytest.approx(25.0)
    assert outcome.peak_concurrency == 40 and outcome.transitions == 1001


def test_10000_one_second_tasks_at_1000_concurrency_take_at_least_10_seconds() -> None:
    outcome = _simulate(_map("DISTRIBUTED", ON_THROTTLE, MaxConcurrency=10000), 10_000)
    assert outcome.status == "SUCCEEDED", outcome.error
    assert outcome.makespan_seconds >= 10_000 / 1000
    assert outcome.peak_concurrency == 1000
    assert outcome.invocations == 10_000  # throttled calls are not invocations
    assert outcome.throttles["Lambda.TooManyRequestsException"] == outcome.retries > 0


def test_a_throttle_no_retrier_takes_fails_the_run() -> None:
    outcome = _simulate(_map("DISTRIBUTED", MaxConcurrency=2000), 2000)
    assert outcome.status == "FAILED"
    assert (outcome.error, outcome.failed_state) == ("Lambda.TooManyRequestsException", "T")


def test_reserved_concurrency_caps_the_function() -> None:
    functions = {"work": FunctionModel(reserved=10)}
    outcome = _simulate(_map("DISTRIBUTED", ON_THROTTLE, MaxConcurrency=100), 100, functions=functions)
    assert outcome.status == "SUCCEEDED"
    assert outcome.peak_concurrency == 10 and outcome.makespan_seconds >= 100 / 10


def test_a_function_adds_1000_environments_per_10_seconds() -> None:
    retry = [{**ON_THROTTLE[0], "MaxAttempts": 100}]
    simulation = _simulation(_map("DISTRIBUTED", retry, MaxConcurrency=3000), 3000, account_concurrency=5000,
                             default_task_seconds=30.0)
    outcome = simulation.run()
    assert outcome.status == "SUCCEEDED"
    assert max(n for t, n in simulation.series if t < 10) == 1000
    assert max(n for t, n in simulation.series if t < 20) == 2000
    assert outcome.peak_concurrency == 3000 and outcome.makespan_seconds >= 20 + 30


def test_standard_children_wait_for_state_transition_tokens() -> None:
    chain = {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "C"}, "C": {"Type": "Pass", "End": True}}
    standard = _simulate(_map("DISTRIBUTED", states=chain, MaxConcurrency=10000, execution_type="STANDARD"), 3000)
    bucket = load_quotas().stepfunctions.buckets("us-east-1").state_transition
    assert standard.transitions == 1 + 3 * 3000
    least = (standard.transitions - bucket.bucket) / bucket.refill_per_second
    assert standard.makespan_seconds == pytest.approx(least) and standard.makespan_seconds >= least - 1e-9
    assert standard.throttles["StateTransition"] > 0
    express = _simulate(_map("DISTRIBUTED", states=chain, MaxConcurrency=10000), 3000)
    assert "StateTransition" not in express.throttles and express.makespan_seconds == 0


def test_start_execution_tokens_pace_many_executions() -> None:
    trace = stub_trace({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, {}).steps
    settings = Settings(task_seconds={}, default_task_seconds=0, functions={}, account_concurrency=1000,
                        executions=2000)
    outcome = Simulation(trace, settings, load_quotas()).run()
    bucket = load_quotas().stepfunctions.buckets("us-east-1").start_execution
    assert outcome.throttles["StartExecution"] == 2000 - bucket.bucket
    assert outcome.makespan_seconds == pytest.approx((2000 - bucket.bucket) / bucket.refill_per_second)
    assert len(outcome.execution_seconds) == 2000


def test_cold_start_once_then_warm() -> None:
    definition = {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": FN, "Next": "B"},
                                             "B": {"Type": "Task", "Resource": FN, "End": True}}}
    trace = stub_trace(definition, {}).steps
    settings = Settings(task_seconds={"B": 2.0}, default_task_seconds=1.0,
                        functions={"work": FunctionModel(cold_start_seconds=0.5)}, account_concurrency=10)
    outcome = Simulation(trace, settings, load_quotas()).run()
    assert outcome.makespan_seconds == pytest.approx(0.5 + 1 + 2)
    assert outcome.cold_starts == 1 and outcome.environments == {"work": 1}
    assert [i.init_duration_ms for i in outcome.states["A"].lambda_invocations] == [500]


def test_a_traced_failure_is_retried_with_the_states_backoff() -> None:
    retry = [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "BackoffRate": 2, "MaxAttempts": 3}]
    step = Step("T", "Task", {"Type": "Task", "Retry": retry}, function="work", attempts=3)
    settings = Settings(task_seconds={}, default_task_seconds=1.0, functions={}, account_concurrency=10)
    outcome = Simulation([step], settings, load_quotas()).run()
    assert outcome.makespan_seconds == pytest.approx(1 + 2 + 1 + 4 + 1)
    assert outcome.retries == 2 and outcome.transitions == 3 and outcome.invocations == 3


def test_parallel_branches_run_together() -> None:
    branch = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN, "End": True}}}
    wait = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3, "End": True}}}
    trace = stub_trace({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True,
                                                         "Branches": [branch, wait]}}}, {}).steps
    settings = Settings(task_seconds={}, default_task_seconds=1.0, functions={}, account_concurrency=10)
    assert Simulation(trace, settings, load_quotas()).run().makespan_seconds == pytest.approx(3)


def test_the_document_prices_the_simulated_run() -> None:
    definition = _map("INLINE")
    traced = stub_trace(definition, {"items": list(range(80))})
    trace, shape = traced.steps, traced.usage
    settings = Settings(task_seconds={}, default_task_seconds=1.0,
                        functions={"work": FunctionModel(memory_mb=1024)}, account_concurrency=1000)
    outcome = Simulation(trace, settings, load_quotas()).run()
    document = simulation_document(outcome, settings, load_quotas(), shape, load_prices())
    assert document["makespan_seconds"] == 2.0
    assert document["cost"]["lambda"]["requests"] == 80
    assert document["cost"]["lambda"]["gb_seconds"] == pytest.approx(80.0)
    assert document["cost"]["standard"]["transitions"] == 81
    assert document["quotas"]["sources"]["lambda_scaling"].startswith("https://docs.aws.amazon.com/lambda/")


def test_downsample_keeps_peaks_and_the_end() -> None:
    series = [(i / 100, (i % 7) * 10) for i in range(10_000)] + [(100.0, 0)]
    sampled = downsample(series, 50)
    assert len(sampled) <= 50 and sampled[-1] == (100.0, 0)
    assert max(n for _, n in sampled) == 60


def test_a_traced_failure_fails_the_simulated_run_where_it_ended() -> None:
    definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": FN, "Next": "F"},
                                             "F": {"Type": "Fail", "Error": "Bad", "Cause": "no"}}}
    traced = stub_trace(definition, {})
    assert (traced.status, traced.error) == ("FAILED", "Bad")
    settings = Settings(task_seconds={}, default_task_seconds=1.0, functions={}, account_concurrency=10)
    outcome = Simulation(traced.steps, settings, load_quotas(), traced.error).run()
    assert (outcome.status, outcome.error, outcome.makespan_seconds) == ("FAILED", "Bad", 1.0)


def test_an_item_reader_is_not_read_from_aws() -> None:
    definition = _map("DISTRIBUTED", MaxConcurrency=10)
    definition["States"]["M"].pop("ItemsPath")
    definition["States"]["M"]["ItemReader"] = {"Resource": "arn:aws:states:::s3:getObject",
                                               "ReaderConfig": {"InputType": "JSON"},
                                               "Parameters": {"Bucket": "b", "Key": "k.json"}}
    traced = stub_trace(definition, {})
    assert traced.status == "FAILED" and "calls no AWS service (s3)" in (traced.cause or "")


@pytest.mark.parametrize("execution_type", ["EXPRESS", "STANDARD"])
def test_distributed_map_children_are_priced_as_their_type(execution_type: str) -> None:
    definition = _map("DISTRIBUTED", execution_type=execution_type)
    traced = stub_trace(definition, {"items": list(range(50))})
    settings = Settings(task_seconds={}, default_task_seconds=2.0,
                        functions={"work": FunctionModel(memory_mb=1024)}, account_concurrency=1000)
    outcome = Simulation(traced.steps, settings, load_quotas()).run()
    cost = simulation_document(outcome, settings, load_quotas(), traced.usage, load_prices())["cost"]
    assert cost["lambda"]["requests"] == 50 and outcome.invocations == 50
    children = cost["map_children"]
    if execution_type == "EXPRESS":  # 50 Express executions of 2 s each; the parent's one transition
        assert cost["standard"]["transitions"] == 1
        assert (children["express"]["requests"], children["express"]["billed_seconds"]) == (50, 100.0)
        assert cost["total"]["standard"] == pytest.approx(cost["standard"]["usd"] + cost["lambda"]["usd"]
                                                          + children["express"]["usd"])
    else:  # Standard children's transitions are Standard transitions of the run
        assert cost["standard"]["transitions"] == 51 and children["express"]["requests"] == 0
