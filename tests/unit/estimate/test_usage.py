"""Transition counting and Lambda attribution on real executions of the local engine."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepkit.asl.errors import StatesError
from stepkit.estimate.prices import load_prices
from stepkit.estimate.report import price_run
from stepkit.estimate.usage import (
    LambdaInvocation,
    parse_report,
    s3_request_class,
    scheduled_functions,
    usage_from_history,
)
from stepkit.integrations.registry import IntegrationRegistry
from stepkit.runner import StateMachine
from stepkit.runtime.calls import AwsCall
from stepkit.runtime.reports import report_line

FN = "arn:aws:lambda:us-east-1:123456789012:function:"


def _run(definition: dict, payload: Any = None, **functions: Any) -> tuple[Any, str]:
    registry = IntegrationRegistry()
    for name, fn in functions.items():
        registry.register_function(name, fn)
    execution = StateMachine(definition, registry=registry).run(payload or {}, skip_waits=True)
    return execution, json.dumps(definition)


def _usage(definition: dict, payload: Any = None, invocations: tuple = (), **functions: Any) -> Any:
    execution, text = _run(definition, payload, **functions)
    assert execution.status == "SUCCEEDED", execution.cause
    return usage_from_history(execution.events(), text, invocations)


def test_a_pass_chain_is_one_transition_per_state() -> None:
    usage = _usage({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "C"},
                                               "C": {"Type": "Succeed"}}})
    assert usage.transitions == 3
    assert {n: s.transitions for n, s in usage.states.items()} == {"A": 1, "B": 1, "C": 1}
    assert usage.map_parallel_steps == 0


def test_each_retry_is_one_more_transition() -> None:
    calls = []

    def flaky(event: Any) -> Any:
        calls.append(event)
        if len(calls) < 3:
            raise StatesError("Flaky", "not yet")
        return "done"

    definition = {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": f"{FN}flaky", "End": True,
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 3}]}}}
    execution, text = _run(definition, flaky=flaky)
    assert execution.status == "SUCCEEDED"
    usage = usage_from_history(execution.events(), text)
    state = usage.states["T"]
    assert (state.entries, state.retries, state.transitions) == (1, 2, 3)
    assert scheduled_functions(execution.events()) == {"flaky": 3}


def test_a_map_counts_itself_and_every_state_of_every_iteration() -> None:
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "P1",
                          "States": {"P1": {"Type": "Pass", "Next": "P2"}, "P2": {"Type": "Pass", "End": True}}}}}}
    usage = _usage(definition, [1, 2, 3, 4])
    assert usage.transitions == 1 + 4 * 2
    assert usage.states["P1"].entries == 4 and usage.states["M"].entries == 1
    assert usage.map_parallel_steps == 4


def test_a_parallel_counts_itself_and_each_branch_state() -> None:
    branch = {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": True}}}
    other = {"StartAt": "Y", "States": {"Y": {"Type": "Pass", "Next": "Z"}, "Z": {"Type": "Pass", "End": True}}}
    usage = _usage({"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [branch, other], "End": True}}})
    assert usage.transitions == 1 + 1 + 2
    assert usage.map_parallel_steps == 2


def test_invocations_go_to_the_states_that_called_their_function() -> None:
    definition = {"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": f"{FN}echo", "Next": "B"},
        "B": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName": "other", "Payload.$": "$"}, "End": True}}}
    reports = (LambdaInvocation("echo", 256, 10.5), LambdaInvocation("other", 1024, 99.2, 200.1),
               LambdaInvocation("stray", 128, 1.0))
    usage = _usage(definition, {}, reports, echo=lambda e: e, other=lambda e: e)
    assert [i.function for i in usage.states["A"].lambda_invocations] == ["echo"]
    assert [i.billed for i in usage.states["B"].lambda_invocations] == [300]
    assert [i.function for i in usage.unmatched_invocations] == ["stray"]
    document = price_run(usage, load_prices(), "us-east-1")
    assert document["lambda"]["requests"] == 3
    expected = 256 / 1024 * 0.011 + 1024 / 1024 * 0.300 + 128 / 1024 * 0.001
    assert abs(document["lambda"]["gb_seconds"] - expected) < 1e-12
    assert document["lambda"]["unmatched"] == 1
    assert document["standard"]["transitions"] == 2
    assert document["standard"]["usd"] == 2 * 0.025 / 1000
    assert "free_tier" not in document


def test_free_tier_and_architecture_are_shown_apart() -> None:
    usage = _usage({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": f"{FN}echo", "End": True}}},
                   {}, (LambdaInvocation("echo", 2048, 1000.0),), echo=lambda e: e)
    x86 = price_run(usage, load_prices(), "us-east-1")
    arm = price_run(usage, load_prices(), "us-east-1", architecture="arm64", free_tier=True)
    assert x86["lambda"]["usd"] == 0.2 / 1e6 + 2 * 0.0000166667
    assert arm["lambda"]["usd"] == 0.2 / 1e6 + 2 * 0.0000133334
    assert arm["free_tier"]["lambda_usd"] == 0 and arm["free_tier"]["standard_usd"] == 0


def test_express_memory_and_duration_of_a_run() -> None:
    usage = _usage({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}})
    document = price_run(usage, load_prices(), "us-east-1")
    assert document["express"]["billed_memory_mb"] == 64
    assert document["express"]["billed_seconds"] >= 0.1
    gb_s = document["express"]["billed_seconds"] * 64 / 1024
    assert abs(document["express"]["usd"] - (1e-6 + gb_s / 3600 * 0.06)) < 1e-12


def test_a_report_line_of_the_runtime_reads_back() -> None:
    line = report_line("rid-1", duration_ms=12.34, memory_size=512, max_memory_used_mb=40, init_duration_ms=250.5)
    report = parse_report("echo", line, "arm64")
    assert report == LambdaInvocation("echo", 512, 12.34, 250.5, "arm64", "rid-1", 263)
    assert parse_report("echo", "START RequestId: x Version: $LATEST") is None
    warm = parse_report("echo", report_line("r2", duration_ms=1.2, memory_size=128, max_memory_used_mb=1,
                                            init_duration_ms=None))
    assert warm is not None and warm.init_duration_ms is None and warm.billed == 2


def _distributed(execution_type: str) -> dict:
    return {"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "ItemsPath": "$.items", "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
                          "StartAt": "Double", "States": {
                              "Double": {"Type": "Task", "Resource": f"{FN}double", "Next": "Done"},
                              "Done": {"Type": "Pass", "End": True}}}}}}


def _children_usage(execution_type: str) -> tuple[Any, dict]:
    from stepkit.cli.estimate_cmd import _local_children
    from stepkit.estimate.usage import run_usage

    definition = _distributed(execution_type)
    registry = IntegrationRegistry()
    registry.register_function("double", lambda n: n * 2)
    run = StateMachine(definition, registry=registry).prepare({"items": [1, 2, 3]}, skip_waits=True)
    execution = run.start()
    assert execution.status == "SUCCEEDED", execution.cause
    reports = [LambdaInvocation("double", 128, 100.0, request_id=f"r{i}") for i in range(3)]
    usage = run_usage(execution.events(), json.dumps(definition), reports,
                      _local_children(definition, run.map_runs.values()))
    return usage, price_run(usage, load_prices(), "us-east-1")


def test_standard_children_bill_their_transitions_and_their_lambda_invocations() -> None:
    usage, document = _children_usage("STANDARD")
    assert usage.transitions == 1  # the parent's Map state
    assert [c.express for c in usage.map_children] == [False] * 3
    assert [c.usage.transitions for c in usage.map_children] == [2, 2, 2]  # Double and Done in each
    children = document["map_children"]
    assert children["standard"] == {"executions": 3, "transitions": 6, "usd": 6 * 0.025 / 1000}
    assert children["express"]["requests"] == 0 and children["usd"] == children["standard"]["usd"]
    assert document["lambda"]["requests"] == 3 and "unmatched" not in document["lambda"]  # the children's states
    parts = document["standard"]["usd"] + document["lambda"]["usd"] + children["usd"]
    assert document["total"]["standard"] == pytest.approx(parts, rel=1e-12)


def test_express_children_bill_a_request_and_their_duration_each() -> None:
    usage, document = _children_usage("EXPRESS")
    express = document["map_children"]["express"]
    assert [c.express for c in usage.map_children] == [True] * 3
    assert document["map_children"]["standard"]["executions"] == 0
    # three requests; each run rounded up to 100 ms at 64 MB (50 MB + a tiny definition and data)
    assert (express["requests"], express["billed_memory_mb"]) == (3, 64)
    assert express["billed_seconds"] == 0.3
    assert express["usd"] == pytest.approx(3 * 1.0 / 1e6 + 3 * 0.1 * 64 / 1024 / 3600 * 0.06, rel=1e-12)


def test_s3_and_sqs_requests_of_task_states_by_class_and_64_kb_chunk() -> None:
    registry = IntegrationRegistry()
    registry.register("arn:aws:states:::*", lambda invocation: {})
    big = "x" * 70_000  # two 64 KB chunks
    definition = {"StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject", "Next": "Get",
                "Parameters": {"Bucket": "b", "Key": "k", "Body": "{}"}, "ResultPath": None},
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject", "Next": "Delete",
                "Parameters": {"Bucket": "b", "Key": "k"}, "ResultPath": None},
        "Delete": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:deleteObject", "Next": "Send",
                   "Parameters": {"Bucket": "b", "Key": "k"}, "ResultPath": None},
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "Next": "Fifo",
                 "Parameters": {"QueueUrl": "https://sqs/q", "MessageBody": big}, "ResultPath": None},
        "Fifo": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": True,
                 "Parameters": {"QueueUrl": "https://sqs/q.fifo", "MessageBody": "m", "MessageGroupId": "g"}}}}
    execution = StateMachine(definition, registry=registry).run({}, skip_waits=True)
    assert execution.status == "SUCCEEDED", execution.cause
    usage = usage_from_history(execution.events(), json.dumps(definition))
    requests = usage.all_requests
    assert (requests.s3_tier1, requests.s3_tier2, requests.s3_free) == (1, 1, 1)
    assert (requests.sqs_standard, requests.sqs_fifo) == (2, 1)
    document = price_run(usage, load_prices(), "us-east-1")
    assert document["requests"]["s3"]["usd"] == pytest.approx((0.005 + 0.0004) / 1000)
    assert document["requests"]["sqs"]["usd"] == pytest.approx((2 * 0.40 + 0.50) / 1e6)
    assert document["total"]["standard"] == pytest.approx(document["standard"]["usd"] + document["requests"]["usd"])
    elsewhere = price_run(usage, load_prices(), "eu-west-1")  # no request prices there: said, not guessed
    assert "requests" in elsewhere["missing_prices"] and elsewhere["requests"]["usd"] is None
    assert elsewhere["total"] == {"standard": None, "express": None}


def _calls(*items: tuple[str, str, int, int, bool | None]) -> tuple[AwsCall, ...]:
    return tuple(AwsCall(service=s, operation=o, requests=r, units=u, fifo=f) for s, o, r, u, f in items)


def test_s3_actions_are_classed_as_s3s_pricing_page_does_whatever_their_case() -> None:
    assert [s3_request_class(a) for a in ("PutObject", "putObject", "ListObjectsV2", "CopyObject",
                                          "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload")] == [
        "s3_tier1"] * 7
    assert [s3_request_class(a) for a in ("GetObject", "HeadObject", "HeadBucket", "SelectObjectContent")] == [
        "s3_tier2"] * 4
    assert [s3_request_class(a) for a in ("DeleteObject", "AbortMultipartUpload")] == ["s3_free"] * 2


def test_the_functions_own_requests_are_priced_per_state_and_in_total() -> None:
    definition = {"StartAt": "Prep", "States": {
        "Prep": {"Type": "Task", "Resource": f"{FN}prep", "Next": "Notify"},
        "Notify": {"Type": "Task", "Resource": f"{FN}notify", "End": True}}}
    prep = _calls(("s3", "GetObject", 2, 2, None), ("s3", "PutObject", 3, 3, None),
                  ("s3", "DeleteObject", 1, 1, None), ("dynamodb", "PutItem", 4, 4, None))
    notify = _calls(("sqs", "SendMessage", 2, 3, False), ("sqs", "SendMessage", 1, 1, True))
    reports = (LambdaInvocation("prep", 128, 10.0, aws_calls=prep), LambdaInvocation("notify", 128, 5.0,
                                                                                       aws_calls=notify))
    usage = _usage(definition, {}, reports, prep=lambda e: e, notify=lambda e: e)
    document = price_run(usage, load_prices(), "us-east-1")
    own = document["function_requests"]
    assert (own["s3"]["tier1"], own["s3"]["tier2"], own["s3"]["free"]) == (3, 2, 1)
    assert (own["sqs"]["standard"], own["sqs"]["fifo"]) == (3, 1)
    assert own["s3"]["usd"] == pytest.approx((3 * 0.005 + 2 * 0.0004) / 1000)
    assert own["sqs"]["usd"] == pytest.approx((3 * 0.40 + 0.50) / 1e6)
    assert own["calls"] == {"dynamodb": {"PutItem": 4}, "s3": {"DeleteObject": 1, "GetObject": 2, "PutObject": 3},
                            "sqs": {"SendMessage": 3}}
    assert document["functions_requests_known"] is True and own["unknown_invocations"] == 0
    assert not any("Lambda functions themselves" in line for line in document["not_counted"])
    rows = {row["name"]: row["function_requests"] for row in document["states"]}
    assert (rows["Prep"]["s3"]["tier1"], rows["Prep"]["sqs"]["standard"]) == (3, 0)
    assert (rows["Notify"]["s3"]["tier1"], rows["Notify"]["sqs"]["standard"], rows["Notify"]["sqs"]["fifo"]) == (
        0, 3, 1)
    assert document["requests"]["usd"] == 0.0  # the Task states' own integrations made none
    assert document["total"]["standard"] == pytest.approx(document["standard"]["usd"] + document["lambda"]["usd"]
                                                          + own["usd"])
    elsewhere = price_run(usage, load_prices(), "eu-west-1")  # no request prices there
    assert "requests" in elsewhere["missing_prices"] and elsewhere["function_requests"]["usd"] is None


def test_invocations_without_their_calls_say_the_functions_requests_are_not_known() -> None:
    definition = {"StartAt": "Prep", "States": {"Prep": {"Type": "Task", "Resource": f"{FN}prep", "End": True}}}
    known = LambdaInvocation("prep", 128, 10.0, aws_calls=_calls(("s3", "PutObject", 1, 1, None)))
    unknown = LambdaInvocation("prep", 128, 10.0)  # as AWS's REPORT lines give it
    usage = usage_from_history(_run(definition, {}, prep=lambda e: e)[0].events(), json.dumps(definition),
                               (known, unknown))
    document = price_run(usage, load_prices(), "us-east-1")
    assert document["functions_requests_known"] is False
    assert document["function_requests"]["unknown_invocations"] == 1
    assert document["function_requests"]["s3"]["tier1"] == 1  # what is known is still counted
    assert "CloudTrail" in document["not_counted"][0]
