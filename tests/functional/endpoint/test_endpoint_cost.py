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


def test_the_s3_and_sqs_requests_of_an_endpoint_execution(endpoint: LocalEndpoint, sfn: Any) -> None:
    s3, sqs = endpoint.client("s3"), endpoint.client("sqs")
    s3.create_bucket(Bucket="cost-requests")
    queue = sqs.create_queue(QueueName="cost-requests")["QueueUrl"]
    definition = {"StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject", "ResultPath": None,
                "Parameters": {"Bucket": "cost-requests", "Key": "k", "Body": "{}"}, "Next": "Get"},
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject", "ResultPath": None,
                "Parameters": {"Bucket": "cost-requests", "Key": "k"}, "Next": "Send"},
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "End": True,
                 "Parameters": {"QueueUrl": queue, "MessageBody": "hello"}}}}
    described = run_machine(sfn, definition, {})
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert int(sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
               ["Attributes"]["ApproximateNumberOfMessages"]) == 1  # the run really sent it through the endpoint
    result = CliRunner().invoke(main, ["cost", "--execution", described["executionArn"], "--endpoint-url",
                                       endpoint.url, "--json"])
    assert result.exit_code == 0, result.output
    requests = json.loads(result.stdout)["requests"]
    assert (requests["s3"]["tier1"], requests["s3"]["tier2"], requests["sqs"]["standard"]) == (1, 1, 1)
    assert requests["usd"] == pytest.approx(0.005 / 1000 + 0.0004 / 1000 + 0.40 / 1e6)
    table = CliRunner().invoke(main, ["cost", "--execution", described["executionArn"], "--endpoint-url",
                                      endpoint.url])
    assert table.exit_code == 0 and "S3 requests: 1 PUT/COPY/POST/LIST, 1 GET and others" in table.output


WRITER = '''\
import boto3

s3 = boto3.client("s3")  # made while the module is imported: its calls count too


def handler(event, context):
    for i in range(3):
        s3.put_object(Bucket=event["bucket"], Key=f"part-{i}", Body=b"x")
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=event["queue"], MessageBody="small")
    sqs.send_message(QueueUrl=event["queue"], MessageBody="x" * 70_000)  # two 64 KB chunks
    return "done"
'''


def test_the_functions_own_requests_are_read_from_their_logs(endpoint: LocalEndpoint, sfn: Any, lam: Any) -> None:
    """The endpoint writes each invocation's STEPKIT_AWS_CALLS line after its REPORT line;
    cost --execution reads it back."""
    s3, sqs, logs = endpoint.client("s3"), endpoint.client("sqs"), endpoint.client("logs")
    s3.create_bucket(Bucket="cost-own-requests")
    queue = sqs.create_queue(QueueName="cost-own-requests")["QueueUrl"]
    name = create_function(lam, WRITER, Timeout=60)
    definition = {"StartAt": "Write", "States": {
        "Write": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "ResultPath": None,
                  "Parameters": {"FunctionName": name, "Payload.$": "$"}, "Next": "Done"},
        "Done": {"Type": "Succeed"}}}
    described = run_machine(sfn, definition, {"bucket": "cost-own-requests", "queue": queue})
    assert described["status"] == "SUCCEEDED", described.get("cause")
    lines = [e["message"] for e in logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]]
    report = next(i for i, line in enumerate(lines) if line.startswith("REPORT RequestId: "))
    assert lines[report + 1].startswith("STEPKIT_AWS_CALLS {")
    result = CliRunner().invoke(main, ["cost", "--execution", described["executionArn"], "--endpoint-url",
                                       endpoint.url, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    own = doc["function_requests"]
    assert (own["s3"]["tier1"], own["s3"]["tier2"], own["sqs"]["standard"], own["sqs"]["fifo"]) == (3, 0, 3, 0)
    assert own["calls"] == {"s3": {"PutObject": 3}, "sqs": {"SendMessage": 2}}
    assert doc["functions_requests_known"] is True
    rows = {row["name"]: row["function_requests"] for row in doc["states"]}
    assert (rows["Write"]["s3"]["tier1"], rows["Write"]["sqs"]["standard"]) == (3, 3)


def test_without_calls_lines_the_functions_requests_are_not_known(endpoint: LocalEndpoint, sfn: Any,
                                                                   lam: Any) -> None:
    """As on AWS, whose logs have no STEPKIT_AWS_CALLS lines: said, in the JSON and the table."""
    name = create_function(lam, CODE)
    arn = lam.get_function_configuration(FunctionName=name)["FunctionArn"]
    lambda_service = endpoint.lambda_service
    written = lambda_service.write_logs
    lambda_service.write_logs = lambda function, text: written(
        function, "".join(line for line in text.splitlines(True) if not line.startswith("STEPKIT_AWS_CALLS ")))
    try:
        described = run_machine(sfn, {"StartAt": "Plain", "States": {"Plain": {"Type": "Task", "Resource": arn,
                                                                                "End": True}}}, {})
    finally:
        lambda_service.write_logs = written
    assert described["status"] == "SUCCEEDED"
    args = ["cost", "--execution", described["executionArn"], "--endpoint-url", endpoint.url]
    doc = json.loads(CliRunner().invoke(main, [*args, "--json"]).stdout)
    assert doc["functions_requests_known"] is False and doc["function_requests"]["unknown_invocations"] == 1
    assert "CloudTrail" in doc["not_counted"][0]
    table = CliRunner().invoke(main, args)
    assert "Functions' own S3/SQS requests not known for 1 invocation(s)" in table.output
