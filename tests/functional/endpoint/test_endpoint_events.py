"""Events between services: S3 notifications, EventBridge rules and targets, SQS event source
mappings with partial batch failures, visibility timeouts and dead-letter queues."""

from __future__ import annotations

import json
from typing import Any

from endpoint_helpers import create_function, create_machine, eventually, unique, wait_execution

ECHO_MACHINE = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def _queue(sqs: Any, name: str | None = None, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name or unique("q"), Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _drain(sqs: Any, url: str) -> list[dict]:
    messages = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
            "Messages", [])
        if not batch:
            return messages
        messages.extend(batch)
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                         for i, m in enumerate(batch)])


def _executions(sfn: Any, arn: str) -> list[dict]:
    return [e for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
            for e in page["executions"]]


def test_s3_notifications_to_sqs_and_lambda(clients: Any, lam: Any) -> None:
    s3, sqs, logs = clients("s3"), clients("sqs"), clients("logs")
    bucket = unique("notify")
    s3.create_bucket(Bucket=bucket)
    url, queue_arn = _queue(sqs)
    function = create_function(lam, "def handler(event, context):\n"
                                    "    print('KEY', event['Records'][0]['s3']['object']['key'])\n")
    function_arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"],
                                 "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}}}],
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": function_arn, "Events": ["s3:ObjectCreated:Put"]}],
    })
    s3.put_object(Bucket=bucket, Key="incoming/a.csv", Body=b"1,2")
    s3.put_object(Bucket=bucket, Key="elsewhere/b.csv", Body=b"3,4")
    # S3 first sends an s3:TestEvent when the configuration is set, as AWS does
    bodies = [json.loads(m["Body"]) for m in eventually(lambda: _drain(sqs, url))]
    assert bodies[0]["Event"] == "s3:TestEvent"
    records = [b["Records"][0] for b in bodies[1:]]
    assert [r["s3"]["object"]["key"] for r in records] == ["incoming/a.csv"]
    assert records[0]["eventName"] == "ObjectCreated:Put"

    def keys_logged() -> set[str]:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return set()
        keys = {e["message"].split("KEY ", 1)[1].strip() for e in events if "KEY " in e["message"]}
        return keys if len(keys) == 2 else set()

    assert eventually(keys_logged) == {"incoming/a.csv", "elsewhere/b.csv"}


def test_eventbridge_rule_targets_state_machine_lambda_and_sqs(clients: Any, sfn: Any, lam: Any) -> None:
    events, sqs = clients("events"), clients("sqs")
    machine = create_machine(sfn, ECHO_MACHINE)
    url, queue_arn = _queue(sqs)
    function = create_function(lam, "def handler(event, context):\n    print('DETAIL', event['detail']['n'])\n")
    function_arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    source = unique("app")
    rule = unique("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source], "detail": {"n": [{"numeric": [">", 1]}]}}))
    events.put_targets(Rule=rule, Targets=[
        {"Id": "sfn", "Arn": machine, "RoleArn": "arn:aws:iam::123456789012:role/events"},
        {"Id": "fn", "Arn": function_arn},
        {"Id": "q", "Arn": queue_arn, "InputPath": "$.detail"},
    ])
    entries = [{"Source": source, "DetailType": "t", "Detail": json.dumps({"n": n})} for n in (1, 2, 3)]
    assert events.put_events(Entries=entries)["FailedEntryCount"] == 0

    executions = eventually(lambda: (lambda found: found if len(found) == 2 else None)(_executions(sfn, machine)))
    inputs = sorted(json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])["detail"]["n"]
                    for e in executions)
    assert inputs == [2, 3]
    first = json.loads(wait_execution(sfn, executions[0]["executionArn"])["output"])
    assert first["source"] == source and first["detail-type"] == "t"

    bodies = []
    eventually(lambda: bodies.extend(json.loads(m["Body"]) for m in _drain(sqs, url)) or len(bodies) >= 2)
    assert sorted(b["n"] for b in bodies) == [2, 3]

    logs = clients("logs")

    def logged() -> bool:
        try:
            found = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return False
        return sum("DETAIL" in e["message"] for e in found) == 2

    assert eventually(logged)


def test_disabled_rule_delivers_nothing_and_failed_targets_go_to_dead_letter_queue(
    clients: Any, sfn: Any
) -> None:
    events, sqs = clients("events"), clients("sqs")
    machine = create_machine(sfn, ECHO_MACHINE)
    dlq_url, dlq_arn = _queue(sqs)
    source = unique("app")
    off = unique("off")
    events.put_rule(Name=off, EventPattern=json.dumps({"source": [source]}), State="DISABLED")
    events.put_targets(Rule=off, Targets=[{"Id": "sfn", "Arn": machine}])
    broken = unique("broken")
    events.put_rule(Name=broken, EventPattern=json.dumps({"source": [source]}))
    gone = machine + "-deleted"
    events.put_targets(Rule=broken, Targets=[{"Id": "gone", "Arn": gone, "DeadLetterConfig": {"Arn": dlq_arn}}])
    events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": "{}"}])
    messages = eventually(lambda: _drain(sqs, dlq_url))
    assert len(messages) == 1
    attributes = {k: v["StringValue"] for k, v in messages[0]["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "StateMachineDoesNotExist"
    assert attributes["TARGET_ARN"] == gone
    assert json.loads(messages[0]["Body"])["source"] == source
    assert _executions(sfn, machine) == []


def test_s3_to_eventbridge_starts_the_workflow(clients: Any, sfn: Any) -> None:
    s3, events = clients("s3"), clients("events")
    bucket = unique("ebs3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket,
                                             NotificationConfiguration={"EventBridgeConfiguration": {}})
    machine = create_machine(sfn, {"StartAt": "Key", "States": {"Key": {
        "Type": "Pass", "Parameters": {"key.$": "$.detail.object.key"}, "End": True}}})
    rule = unique("uploads")
    events.put_rule(Name=rule, EventPattern=json.dumps({
        "source": ["aws.s3"], "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": "incoming/"}]}}}))
    events.put_targets(Rule=rule, Targets=[{"Id": "train", "Arn": machine}])
    s3.put_object(Bucket=bucket, Key="incoming/data.csv", Body=b"x")
    s3.put_object(Bucket=bucket, Key="other/data.csv", Body=b"x")
    executions = eventually(lambda: _executions(sfn, machine))
    assert len(executions) == 1
    output = json.loads(wait_execution(sfn, executions[0]["executionArn"])["output"])
    assert output == {"key": "incoming/data.csv"}


BATCH_FUNCTION = """
import json
def handler(event, context):
    failures = []
    for record in event["Records"]:
        body = json.loads(record["body"])
        print("GOT", body["n"], record["attributes"]["ApproximateReceiveCount"])
        if body["n"] % 3 == 0:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
"""


def test_sqs_event_source_mapping_partial_failures_and_redrive(clients: Any, lam: Any) -> None:
    sqs = clients("sqs")
    dlq_url, dlq_arn = _queue(sqs)
    url, queue_arn = _queue(sqs, VisibilityTimeout="1", RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}))
    function = create_function(lam, BATCH_FUNCTION, Timeout=1)
    mapping = lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=function, BatchSize=5,
                                              FunctionResponseTypes=["ReportBatchItemFailures"])
    assert mapping["State"] in ("Creating", "Enabled")
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled"
    for n in range(1, 10):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))

    dead: list[dict] = []
    eventually(lambda: dead.extend(_drain(sqs, dlq_url)) or len(dead) >= 3)
    assert sorted(json.loads(m["Body"])["n"] for m in dead) == [3, 6, 9]

    def remaining() -> bool:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return attrs["ApproximateNumberOfMessages"] == attrs["ApproximateNumberOfMessagesNotVisible"] == "0"

    assert eventually(remaining)
    listed = lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [mapping["UUID"]]
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    assert lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"] == []


def test_event_source_mapping_checks(clients: Any, lam: Any) -> None:
    sqs = clients("sqs")
    _, queue_arn = _queue(sqs, VisibilityTimeout="5")
    function = create_function(lam, "def handler(e, c):\n    return None\n", Timeout=30)
    for kwargs, phrase in (
        ({"BatchSize": 100}, "Maximum batch window in seconds must be greater than 0"),
        ({}, "Queue visibility timeout: 5 seconds is less than Function timeout: 30 seconds"),
    ):
        try:
            lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=function, **kwargs)
        except lam.exceptions.InvalidParameterValueException as exc:
            assert phrase in exc.response["Error"]["Message"]
        else:
            raise AssertionError(f"{kwargs} was accepted")


def test_bucket_eventbridge_setting_reads_back_as_aws_answers(clients: Any) -> None:
    s3 = clients("s3")
    bucket = unique("ebread")
    s3.create_bucket(Bucket=bucket)
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket,
                                             NotificationConfiguration={"EventBridgeConfiguration": {}})
    assert s3.get_bucket_notification_configuration(Bucket=bucket)["EventBridgeConfiguration"] == {}
