"""EventBridge Pipes on a real endpoint, driven by boto3: SQS, Kinesis and DynamoDB Streams
sources, a filter, enrichment by a Lambda function or an Express state machine, and Step
Functions, Lambda, SQS and EventBridge targets; stopping a pipe; a stream's dead letters."""

from __future__ import annotations

import base64
import json
from typing import Any

from endpoint_helpers import (
    create_function,
    create_machine,
    drain,
    eventually,
    logged_events,
    new_queue,
    unique,
    wait_execution,
)

ROLE = "arn:aws:iam::123456789012:role/pipes"
PRINT_EVENT = "import json\ndef handler(event, context):\n    print('EVENT', json.dumps(event))\n"
#: Enrichment: adds a field to each event.
ENRICH = "def handler(events, context):\n    return [dict(e, enriched=True) for e in events]\n"
FAIL = "def handler(events, context):\n    raise ValueError('no')\n"






def _arn(lam: Any, name: str) -> str:
    return lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]




def test_sqs_source_filtered_enriched_by_lambda_to_a_state_machine(clients: Any, lam: Any, sfn: Any) -> None:
    sqs, pipes = clients("sqs"), clients("pipes")
    url, queue_arn = new_queue(sqs)
    enrich = _arn(lam, create_function(lam, ENRICH))
    machine = create_machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    name = unique("pipe")
    pipes.create_pipe(Name=name, RoleArn=ROLE, Source=queue_arn, Enrichment=enrich, Target=machine, SourceParameters={
        "SqsQueueParameters": {"BatchSize": 1},
        "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"body": {"drift": [{"numeric": [">", 0.2]}]}})}]}})
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"drift": 0.1}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"drift": 0.5}))
    executions = eventually(lambda: sfn.list_executions(stateMachineArn=machine)["executions"])
    done = wait_execution(sfn, executions[0]["executionArn"])
    [event] = json.loads(done["input"])
    assert event["enriched"] is True and json.loads(event["body"]) == {"drift": 0.5}
    assert (event["eventSource"], event["eventSourceARN"]) == ("aws:sqs", queue_arn)
    # the filtered-out message was dropped, not left in the queue
    attributes = eventually(lambda: (a := sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"]) and a["ApproximateNumberOfMessages"] == a["ApproximateNumberOfMessagesNotVisible"] == "0")
    assert attributes
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 1
    pipes.delete_pipe(Name=name)


def test_kinesis_source_enriched_by_express_machine_to_a_queue_then_stopped(clients: Any, lam: Any, sfn: Any,
                                                                             endpoint: Any) -> None:
    kinesis, sqs, pipes = clients("kinesis"), clients("sqs"), clients("pipes")
    stream = unique("stream")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    stream_arn = kinesis.describe_stream(StreamName=stream)["StreamDescription"]["StreamARN"]
    url, queue_arn = new_queue(sqs)
    express = create_machine(sfn, {"StartAt": "P", "States": {"P": {
        "Type": "Pass", "Parameters": {"keys.$": "$[*].partitionKey"}, "End": True}}}, type="EXPRESS")
    name = unique("pipe")
    pipes.create_pipe(Name=name, RoleArn=ROLE, Source=stream_arn, Enrichment=express, Target=queue_arn,
                      SourceParameters={"KinesisStreamParameters": {"StartingPosition": "TRIM_HORIZON",
                                                                    "BatchSize": 5}})
    for key in ("a", "b", "c"):
        kinesis.put_record(StreamName=stream, Data=b"{}", PartitionKey=key)
    bodies: list[dict] = []
    assert eventually(lambda: bodies.extend(json.loads(m["Body"]) for m in drain(sqs, url))
                      or sum(len(b["keys"]) for b in bodies) >= 3)
    assert [key for body in bodies for key in body["keys"]] == ["a", "b", "c"]  # in order, each once
    pipes.stop_pipe(Name=name)
    assert eventually(lambda: not endpoint.pipes.is_running(pipes.describe_pipe(Name=name)["Arn"]))
    pipes.delete_pipe(Name=name)


def test_dynamodb_source_to_lambda_and_event_bus(clients: Any, lam: Any) -> None:
    dynamodb, pipes, events, sqs, logs = (clients(s) for s in ("dynamodb", "pipes", "events", "sqs", "logs"))
    table = unique("table")
    stream = dynamodb.create_table(
        TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})["TableDescription"][
        "LatestStreamArn"]
    function = create_function(lam, PRINT_EVENT)
    to_lambda = unique("pipe")
    pipes.create_pipe(Name=to_lambda, RoleArn=ROLE, Source=stream, Target=_arn(lam, function),
                      SourceParameters={"DynamoDBStreamParameters": {"StartingPosition": "TRIM_HORIZON"}})
    bus = events.create_event_bus(Name=unique("bus"))["EventBusArn"]
    url, queue_arn = new_queue(sqs)
    events.put_rule(Name=unique("r"), EventBusName=bus, EventPattern=json.dumps({"source": [{"prefix": "Pipe "}]}))
    rule = events.list_rules(EventBusName=bus)["Rules"][0]["Name"]
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])
    to_bus = unique("pipe")
    pipes.create_pipe(Name=to_bus, RoleArn=ROLE, Source=stream, Target=bus,
                      SourceParameters={"DynamoDBStreamParameters": {"StartingPosition": "TRIM_HORIZON"}})
    dynamodb.put_item(TableName=table, Item={"id": {"S": "m1"}, "score": {"N": "0.9"}})
    batches = eventually(lambda: logged_events(logs, function))
    assert isinstance(batches[0], list) and batches[0][0]["dynamodb"]["NewImage"]["id"] == {"S": "m1"}
    bodies: list[dict] = []
    assert eventually(lambda: bodies.extend(json.loads(m["Body"]) for m in drain(sqs, url)) or bodies)
    assert bodies[0]["source"] == f"Pipe {to_bus}" and bodies[0]["detail-type"] == "Event from aws:dynamodb"
    assert bodies[0]["detail"]["eventName"] == "INSERT"
    pipes.delete_pipe(Name=to_lambda)
    pipes.delete_pipe(Name=to_bus)


def test_failing_target_sends_a_stream_batch_to_the_pipes_dead_letter_queue(clients: Any, lam: Any) -> None:
    kinesis, sqs, pipes = clients("kinesis"), clients("sqs"), clients("pipes")
    stream = unique("stream")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    stream_arn = kinesis.describe_stream(StreamName=stream)["StreamDescription"]["StreamARN"]
    dlq_url, dlq_arn = new_queue(sqs)
    name = unique("pipe")
    pipes.create_pipe(Name=name, RoleArn=ROLE, Source=stream_arn, Target=_arn(lam, create_function(lam, FAIL)),
                      SourceParameters={"KinesisStreamParameters": {
                          "StartingPosition": "TRIM_HORIZON", "MaximumRetryAttempts": 1,
                          "DeadLetterConfig": {"Arn": dlq_arn}}})
    sequence = kinesis.put_record(StreamName=stream, Data=base64.b64encode(b"x"), PartitionKey="k")["SequenceNumber"]
    dead: list[dict] = []
    assert eventually(lambda: dead.extend(drain(sqs, dlq_url)) or dead)
    record = json.loads(dead[0]["Body"])
    assert record["context"] == {"partnerResourceArn": pipes.describe_pipe(Name=name)["Arn"],
                                 "condition": "RetryAttemptsExhausted"}
    assert record["KinesisBatchInfo"]["startSequenceNumber"] == sequence
    pipes.delete_pipe(Name=name)
