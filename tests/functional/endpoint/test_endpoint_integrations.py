"""Task integrations of state machines run by the endpoint: aws-sdk:*, the optimized
integrations, child executions (.sync, .sync:2) and Lambda functions of the endpoint."""

from __future__ import annotations

import json
import re
from typing import Any

from endpoint_helpers import create_function, create_machine, run_machine, unique


def _task(resource: str, parameters: dict, **extra: Any) -> dict:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "Parameters": parameters,
                                             "End": True, **extra}}}


def test_aws_sdk_s3_put_and_get_object(sfn: Any, clients: Any) -> None:
    bucket = unique("sdk")
    clients("s3").create_bucket(Bucket=bucket)
    put = run_machine(sfn, _task("arn:aws:states:::aws-sdk:s3:putObject",
                                 {"Bucket": bucket, "Key": "d.json", "Body.$": "$.body"}), {"body": {"Dict": "Value"}})
    assert put["status"] == "SUCCEEDED", put
    # Step Functions writes a JSON body as compact JSON text
    assert json.loads(put["output"])["ETag"] == '"49e31cee5aec8faf3345893addb14346"'
    got = json.loads(run_machine(sfn, _task("arn:aws:states:::aws-sdk:s3:getObject",
                                            {"Bucket": bucket, "Key": "d.json"}))["output"])
    assert got["Body"] == '{"Dict":"Value"}'
    assert got["ContentLength"] == 16
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", got["LastModified"])


def test_aws_sdk_errors_are_named_as_step_functions_names_them(sfn: Any) -> None:
    failed = run_machine(sfn, _task("arn:aws:states:::aws-sdk:s3:listObjects", {"Bucket": unique("none")}))
    assert failed["error"] == "S3.NoSuchBucketException"
    assert failed["cause"].startswith("The specified bucket does not exist (Service: S3, Status Code: 404, "
                                      "Request ID: ")
    failed = run_machine(sfn, _task("arn:aws:states:::aws-sdk:dynamodb:getItem",
                                    {"TableName": unique("none"), "Key": {"id": {"S": "1"}}}))
    assert failed["error"] == "DynamoDb.ResourceNotFoundException"
    assert "(Service: DynamoDb, Status Code: 400, Request ID: " in failed["cause"]
    caught = run_machine(sfn, {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
              "Parameters": {"Bucket": unique("none"), "Key": "k"},
              "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Handled"}], "End": True},
        "Handled": {"Type": "Pass", "End": True}}})
    assert caught["status"] == "SUCCEEDED"
    assert json.loads(caught["output"])["Error"] == "S3.NoSuchBucketException"


def test_aws_sdk_sfn_takes_pascal_case(sfn: Any) -> None:
    child = create_machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    out = run_machine(sfn, _task("arn:aws:states:::aws-sdk:sfn:describeStateMachine", {"StateMachineArn": child}))
    assert out["status"] == "SUCCEEDED", out
    described = json.loads(out["output"])
    assert described["StateMachineArn"] == child and described["Type"] == "STANDARD"
    bad = run_machine(sfn, _task("arn:aws:states:::aws-sdk:sfn:sendTaskSuccess",
                                 {"Output": "{}", "TaskToken": "NoSuchTaskToken"}))
    assert bad["error"] == "Sfn.InvalidTokenException"
    assert bad["cause"].startswith("Invalid Token: 'Invalid token' (Service: Sfn, Status Code: 400")


def test_optimized_sqs_sns_and_events(sfn: Any, clients: Any) -> None:
    sqs = clients("sqs")
    queue = sqs.create_queue(QueueName=unique("opt"))["QueueUrl"]
    sent = run_machine(sfn, _task("arn:aws:states:::sqs:sendMessage",
                                  {"QueueUrl": queue, "MessageBody": {"hello": "world"}}))
    output = json.loads(sent["output"])
    assert output["SdkHttpMetadata"]["HttpStatusCode"] == 200 and "MessageId" in output
    assert json.loads(sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"]) == {"hello": "world"}

    topic = clients("sns").create_topic(Name=unique("topic"))["TopicArn"]
    published = run_machine(sfn, _task("arn:aws:states:::sns:publish", {"TopicArn": topic, "Message": {"m": 1}}))
    assert "MessageId" in json.loads(published["output"])
    missing = run_machine(sfn, _task("arn:aws:states:::sns:publish", {"TopicArn": topic + "x", "Message": "m"}))
    assert missing["error"] == "SNS.NotFoundException"
    assert re.fullmatch(r".+ \(Service: AmazonSNS; Status Code: 404; Error Code: NotFound; "
                        r"Request ID: .+; Proxy: null\)", missing["cause"])

    put = run_machine(sfn, _task("arn:aws:states:::events:putEvents", {"Entries": [
        {"Source": "stepkit.test", "DetailType": "t", "Detail": {"a": 1}}]}))
    assert json.loads(put["output"])["FailedEntryCount"] == 0
    bad = run_machine(sfn, _task("arn:aws:states:::events:putEvents", {"Entries": [
        {"DetailType": "t", "Detail": {"a": 1}}]}))
    assert bad["error"] == "EventBridge.FailedEntry"
    assert json.loads(bad["cause"])["Entries"][0]["ErrorCode"] == "InvalidArgument"


def test_optimized_dynamodb_item_operations(sfn: Any, clients: Any) -> None:
    table = unique("tbl")
    clients("dynamodb").create_table(
        TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    definition = {"StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem", "ResultPath": "$.put",
                "Parameters": {"TableName": table, "Item": {"id": {"S": "1"}, "v": {"S": "a"}}}, "Next": "Update"},
        "Update": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem", "ResultPath": "$.update",
                   "Parameters": {"TableName": table, "Key": {"id": {"S": "1"}}, "UpdateExpression": "SET v = :v",
                                  "ExpressionAttributeValues": {":v": {"S": "b"}}, "ReturnValues": "UPDATED_NEW"},
                   "Next": "Get"},
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem", "ResultPath": "$.get",
                "Parameters": {"TableName": table, "Key": {"id": {"S": "1"}}}, "Next": "Delete"},
        "Delete": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:deleteItem", "ResultPath": "$.delete",
                   "Parameters": {"TableName": table, "Key": {"id": {"S": "1"}}}, "End": True}}}
    output = json.loads(run_machine(sfn, definition)["output"])
    assert output["update"]["Attributes"] == {"v": {"S": "b"}}
    assert output["get"]["Item"] == {"id": {"S": "1"}, "v": {"S": "b"}}
    assert output["put"]["SdkHttpMetadata"]["HttpStatusCode"] == 200
    missing = run_machine(sfn, _task("arn:aws:states:::dynamodb:getItem",
                                     {"TableName": unique("none"), "Key": {"id": {"S": "1"}}}))
    assert missing["error"] == "DynamoDB.ResourceNotFoundException"
    assert "(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ResourceNotFoundException;" in missing["cause"]


def test_start_execution_plain_sync_and_sync2(sfn: Any) -> None:
    child = create_machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"Arg1": "argument1"},
                                                                  "End": True}}})
    params = {"StateMachineArn": child, "Input.$": "$.input"}
    plain = json.loads(run_machine(sfn, _task("arn:aws:states:::states:startExecution", params),
                                   {"input": None})["output"])
    assert ":execution:" in plain["ExecutionArn"] and "StartDate" in plain
    sync = json.loads(run_machine(sfn, _task("arn:aws:states:::states:startExecution.sync", params),
                                  {"input": {"k": 1}})["output"])
    assert (sync["Status"], sync["Output"], sync["Input"]) == ("SUCCEEDED", '{"Arg1":"argument1"}', '{"k":1}')
    assert sync["OutputDetails"] == {"Included": True}
    sync2 = json.loads(run_machine(sfn, _task("arn:aws:states:::states:startExecution.sync:2", params),
                                   {"input": {"k": 1}})["output"])
    assert (sync2["Output"], sync2["Input"]) == ({"Arg1": "argument1"}, {"k": 1})
    failing = create_machine(sfn, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "SomeFailure",
                                                                    "Cause": "child failed"}}})
    failed = run_machine(sfn, _task("arn:aws:states:::states:startExecution.sync",
                                    {"StateMachineArn": failing}))
    assert failed["error"] == "States.TaskFailed"
    cause = json.loads(failed["cause"])
    assert (cause["Status"], cause["Error"], cause["Cause"]) == ("FAILED", "SomeFailure", "child failed")
    missing = run_machine(sfn, _task("arn:aws:states:::states:startExecution", {"StateMachineArn": child + "x"}))
    assert missing["error"] == "StepFunctions.StateMachineDoesNotExistException"


def test_lambda_tasks_run_functions_of_the_endpoint(sfn: Any, lam: Any) -> None:
    name = create_function(lam, "def handler(event, context):\n    return {'doubled': event['n'] * 2}\n")
    fails = create_function(lam, "def handler(event, context):\n    raise KeyError('nope')\n")
    direct = run_machine(sfn, {"StartAt": "L", "States": {"L": {
        "Type": "Task", "Resource": f"arn:aws:lambda:us-east-1:123456789012:function:{name}", "End": True}}},
        {"n": 21})
    assert json.loads(direct["output"]) == {"doubled": 42}
    invoke = json.loads(run_machine(sfn, _task("arn:aws:states:::lambda:invoke",
                                               {"FunctionName": name, "Payload": {"n": 2}}))["output"])
    assert invoke["Payload"] == {"doubled": 4} and invoke["StatusCode"] == 200
    failed = run_machine(sfn, _task("arn:aws:states:::lambda:invoke", {"FunctionName": fails, "Payload": {}}))
    assert failed["error"] == "KeyError"
    assert json.loads(failed["cause"])["errorMessage"] == "'nope'"
    missing = run_machine(sfn, _task("arn:aws:states:::lambda:invoke", {"FunctionName": unique("none")}))
    assert missing["error"] == "Lambda.ResourceNotFoundException"


def test_lambda_wait_for_task_token(sfn: Any, lam: Any, endpoint: Any) -> None:
    # The function answers the callback itself, through the endpoint, with boto3.
    code = (
        "import boto3, json\n"
        "def handler(event, context):\n"
        "    boto3.client('stepfunctions').send_task_success(taskToken=event['token'],\n"
        "                                                   output=json.dumps({'echo': event['v']}))\n"
    )
    name = create_function(lam, code, Timeout=30)
    out = run_machine(sfn, _task("arn:aws:states:::lambda:invoke.waitForTaskToken",
                                 {"FunctionName": name, "InvocationType": "Event",
                                  "Payload": {"token.$": "$$.Task.Token", "v.$": "$.v"}}), {"v": 7})
    assert out["status"] == "SUCCEEDED", out
    assert json.loads(out["output"]) == {"echo": 7}
