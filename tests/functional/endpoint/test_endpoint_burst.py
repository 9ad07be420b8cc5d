"""At-least-once delivery, accounted: a burst of 1,000 uploads to ``incoming/`` goes S3 → SQS →
event source mapping → a Lambda function that starts the workflow (named after the key, so a
repeated delivery finds the execution it started); uploads the function refuses end, after
``maxReceiveCount`` receives, in the dead-letter queue. Every upload must end in exactly one
of the two, none vanishing and none counted twice."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from endpoint_helpers import create_function, create_machine, eventually, unique

STARTER = """
import hashlib, json, os
import boto3

sfn = boto3.client("stepfunctions")
sqs = boto3.client("sqs")

def handler(event, context):
    failures = []
    for record in event["Records"]:
        body = json.loads(record["body"])
        if "Records" not in body:          # the s3:TestEvent sent when notifications are set up
            continue
        key = body["Records"][0]["s3"]["object"]["key"]
        if "/bad-" in key:
            # refuse it, and let it come back at once rather than after the visibility timeout
            queue = sqs.get_queue_url(QueueName=record["eventSourceARN"].split(":")[5])["QueueUrl"]
            sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=record["receiptHandle"],
                                          VisibilityTimeout=0)
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        name = hashlib.sha256(key.encode()).hexdigest()[:64]
        try:
            sfn.start_execution(stateMachineArn=os.environ["MACHINE"], name=name, input=json.dumps({"key": key}))
        except sfn.exceptions.ExecutionAlreadyExists:
            pass                            # delivered twice: the first delivery started it
    return {"batchItemFailures": failures}
"""

UPLOADS = 1000
BAD_EVERY = 20


@pytest.mark.slow
def test_burst_of_uploads_every_event_accounted_once(clients: Any, sfn: Any, lam: Any) -> None:
    s3, sqs = clients("s3"), clients("sqs")
    machine = create_machine(sfn, {"StartAt": "Train", "States": {"Train": {"Type": "Pass", "End": True}}})
    dlq = sqs.create_queue(QueueName=unique("burst-dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName=unique("burst"), Attributes={
        "VisibilityTimeout": "30",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    function = create_function(lam, STARTER, Timeout=30, Environment={"Variables": {"MACHINE": machine}})
    lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=function, BatchSize=10,
                                    FunctionResponseTypes=["ReportBatchItemFailures"],
                                    ScalingConfig={"MaximumConcurrency": 4})
    bucket = unique("burst")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [{
        "QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}}}]})

    keys = [f"incoming/{'bad' if i % BAD_EVERY == 0 else 'data'}-{i:04d}.csv" for i in range(UPLOADS)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket=bucket, Key=key, Body=b"1,2,3\n"), keys))

    expected_bad = {k for k in keys if "/bad-" in k}
    expected_good = set(keys) - expected_bad
    dead: list[str] = []

    def collect_dead() -> bool:
        while True:
            messages = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for message in messages:
                dead.append(json.loads(message["Body"])["Records"][0]["s3"]["object"]["key"])
            sqs.delete_message_batch(QueueUrl=dlq, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
        return len(dead) >= len(expected_bad)

    def executions() -> list[dict]:
        return [e for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine)
                for e in page["executions"]]

    assert eventually(collect_dead, timeout=300, interval=0.5)
    started = eventually(lambda: (lambda found: found if len(found) >= len(expected_good) else None)(executions()),
                         timeout=300, interval=0.5)
    assert started, "not every good upload started an execution"

    def drained() -> bool:
        attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return attrs["ApproximateNumberOfMessages"] == attrs["ApproximateNumberOfMessagesNotVisible"] == "0"

    assert eventually(drained, timeout=120, interval=0.2)
    collect_dead()
    started = executions()
    started_keys = [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])["key"]
                    for e in started]
    # exactly one accounted outcome per upload
    assert len(started_keys) == len(set(started_keys)) == len(expected_good)
    assert set(started_keys) == expected_good
    assert len(dead) == len(set(dead)) == len(expected_bad)
    assert set(dead) == expected_bad
    assert set(started_keys).isdisjoint(dead)
    assert set(started_keys) | set(dead) == set(keys)
