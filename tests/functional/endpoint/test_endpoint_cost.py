"""``stepkit cost --execution``: an endpoint's execution priced from its history and the REPORT
lines its functions wrote to CloudWatch Logs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from endpoint_helpers import create_function, run_machine

from stepkit.cli import main
from stepkit.endpoint import LocalEndpoint

CODE = "def handler(event, context):\n    return {'seen': event}\n"


def test_cost_of_an_endpoint_execution(endpoint: LocalEndpoint, sfn: Any, lam: Any) -> None:
    name = create_function(lam, CODE, MemorySize=512, Architectures=["arm64"])
    arn = lam.get_function_configuration(FunctionName=name)["FunctionArn"]
    definition = {"StartAt": "Plain", "States": {
        "Plain": {"Type": "Task", "Resource": arn, "Next": "Envelope"},
        "Envelope": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                     "Parameters": {"FunctionName": name, "Payload.$": "$"}, "Next": "Done"},
        "Done": {"Type": "Succeed"}}}
    described = run_machine(sfn, definition, {"x": 1})
    assert described["status"] == "SUCCEEDED"
    result = CliRunner().invoke(main, ["cost", "--execution", described["executionArn"], "--endpoint-url",
                                       endpoint.url, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["standard"]["transitions"] == 3
    assert doc["lambda"]["requests"] == 2
    rows = {row["name"]: row for row in doc["states"]}
    assert rows["Plain"]["lambda_requests"] == 1 and rows["Envelope"]["lambda_requests"] == 1
    billed = doc["lambda"]["billed_ms"]
    assert doc["lambda"]["gb_seconds"] == pytest.approx(512 / 1024 * billed / 1000)
    assert doc["lambda"]["usd"] == pytest.approx(2 * 0.2 / 1e6 + doc["lambda"]["gb_seconds"] * 0.0000133334)  # arm64


def test_cost_of_an_unknown_execution_is_a_usage_error(endpoint: LocalEndpoint) -> None:
    missing = "arn:aws:states:us-east-1:123456789012:execution:nope:nope"
    result = CliRunner().invoke(main, ["cost", "--execution", missing, "--endpoint-url", endpoint.url])
    assert result.exit_code == 2
    assert "does not exist" in result.output.lower() or "not exist" in result.output.lower()


@pytest.mark.parametrize("execution_type", ["STANDARD", "EXPRESS"])
def test_a_distributed_maps_children_are_priced_as_their_type(endpoint: LocalEndpoint, sfn: Any, lam: Any,
                                                              execution_type: str) -> None:
    name = create_function(lam, CODE)
    arn = lam.get_function_configuration(FunctionName=name)["FunctionArn"]
    definition = {"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "ItemsPath": "$.items", "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
                          "StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": arn, "End": True}}}}}}
    described = run_machine(sfn, definition, {"items": [1, 2, 3, 4]})
    assert described["status"] == "SUCCEEDED"
    result = CliRunner().invoke(main, ["cost", "--execution", described["executionArn"], "--endpoint-url",
                                       endpoint.url, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    children = doc["map_children"]
    assert doc["standard"]["transitions"] == 1 and doc["lambda"]["requests"] == 4  # the children's invocations
    if execution_type == "STANDARD":
        assert children["standard"] == {"executions": 4, "transitions": 4, "usd": pytest.approx(4 * 0.025 / 1000)}
        assert children["express"]["requests"] == 0
    else:
        assert children["standard"]["executions"] == 0 and children["express"]["requests"] == 4
        assert children["express"]["billed_memory_mb"] == 64 and children["usd"] == children["express"]["usd"] > 0
    assert doc["total"]["standard"] == pytest.approx(doc["standard"]["usd"] + doc["lambda"]["usd"] + children["usd"])
