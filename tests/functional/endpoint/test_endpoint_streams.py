"""Kinesis and DynamoDB Streams event source mappings on a real endpoint, driven by boto3:
AWS's event shapes (checked with powertools' parser models), order per shard, batch size,
filters, bisection, retries, partial batch responses, on-failure destinations (SQS, SNS),
the create-time checks, LATEST across a restart of the endpoint."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel, KinesisDataStreamModel
from botocore.exceptions import ClientError
from endpoint_helpers import ROLE, create_function, drain, eventually, logged_events, make_client, new_queue, unique

from stepkit.endpoint import LocalEndpoint

PRINT_EVENT = "import json\ndef handler(event, context):\n    print('EVENT', json.dumps(event))\n"

#: Fails (a function error) when a record's data says "bad"; prints the batch when it succeeds.
FAIL_ON_BAD = """
import base64, json
def handler(event, context):
    values = [json.loads(base64.b64decode(r['kinesis']['data'])) for r in event['Records']]
    if any(v.get('bad') for v in values):
        raise ValueError('bad record')
    print('EVENT', json.dumps(values))
"""

#: Reports the item whose key is "x2" as failed, every time; prints what it got.
REPORT_X2 = """
import json
def handler(event, context):
    print('EVENT', json.dumps(event))
    failed = [r['dynamodb']['SequenceNumber'] for r in event['Records'] if r['dynamodb']['Keys']['id']['S'] == 'x2']
    return {'batchItemFailures': [{'itemIdentifier': s} for s in failed]}
"""




def _stream(kinesis: Any, shards: int = 1) -> str:
    name = unique("stream")
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    return kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"]


def _table(dynamodb: Any) -> tuple[str, str]:
    name = unique("table")
    described = dynamodb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    return name, described["TableDescription"]["LatestStreamArn"]






def _put(kinesis: Any, arn: str, values: list[dict], key: str = "k") -> list[str]:
    return [kinesis.put_record(StreamARN=arn, Data=json.dumps(v).encode(), PartitionKey=key)["SequenceNumber"]
            for v in values]


def test_kinesis_records_in_aws_shape_in_order_batched_and_filtered(clients: Any, lam: Any) -> None:
    kinesis, logs = clients("kinesis"), clients("logs")
    stream = _stream(kinesis)
    function = create_function(lam, PRINT_EVENT)
    _put(kinesis, stream, [{"n": 0, "kind": "keep"}])  # before the mapping: TRIM_HORIZON reads it too
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream, FunctionName=function, StartingPosition="TRIM_HORIZON", BatchSize=3,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"data": {"kind": ["keep"]}})}]})
    assert mapping["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert {k: mapping[k] for k in ("BatchSize", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds",
                                    "ParallelizationFactor", "BisectBatchOnFunctionError", "StartingPosition",
                                    "DestinationConfig", "State", "StateTransitionReason")} == {
        "BatchSize": 3, "MaximumRetryAttempts": -1, "MaximumRecordAgeInSeconds": -1, "ParallelizationFactor": 1,
        "BisectBatchOnFunctionError": False, "StartingPosition": "TRIM_HORIZON", "DestinationConfig": {"OnFailure": {}},
        "State": "Creating", "StateTransitionReason": "User action"}
    values = [{"n": n, "kind": "keep" if n % 4 else "drop"} for n in range(1, 12)]
    sequences = _put(kinesis, stream, values)
    kept = [0] + [v["n"] for v in values if v["kind"] == "keep"]

    def delivered() -> list[int]:
        return [json.loads(base64.b64decode(r["kinesis"]["data"]))["n"]
                for event in logged_events(logs, function) for r in event["Records"]]

    assert eventually(lambda: len(delivered()) >= len(kept))
    events = logged_events(logs, function)
    assert sorted(delivered()) == kept and delivered() == sorted(delivered())  # in order, each once
    assert all(len(e["Records"]) <= 3 for e in events)
    parsed = KinesisDataStreamModel.model_validate(events[-1])
    record = parsed.Records[-1]
    assert (record.eventSource, record.eventName, record.eventSourceARN, record.invokeIdentityArn) == (
        "aws:kinesis", "aws:kinesis:record", stream, ROLE)
    assert record.kinesis.sequenceNumber == sequences[-1] and record.kinesis.partitionKey == "k"
    assert record.eventID == f"shardId-000000000000:{sequences[-1]}"
    assert eventually(lambda: lam.get_event_source_mapping(UUID=mapping["UUID"])["LastProcessingResult"] == "OK")
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_kinesis_bisects_a_failing_batch_and_sends_the_bad_record_to_sqs(clients: Any, lam: Any) -> None:
    kinesis, logs, sqs = clients("kinesis"), clients("logs"), clients("sqs")
    stream = _stream(kinesis)
    dlq_url, dlq_arn = new_queue(sqs)
    function = create_function(lam, FAIL_ON_BAD)
    function_arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    sequences = _put(kinesis, stream, [{"n": 1}, {"n": 2}, {"n": 3, "bad": True}, {"n": 4}])
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream, FunctionName=function, StartingPosition="TRIM_HORIZON", BatchSize=4,
        BisectBatchOnFunctionError=True, MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}})
    dead: list[dict] = []
    assert eventually(lambda: dead.extend(drain(sqs, dlq_url)) or dead)
    record = json.loads(dead[0]["Body"])
    assert set(record) == {"requestContext", "responseContext", "version", "timestamp", "KinesisBatchInfo"}
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["functionArn"] == function_arn
    assert record["requestContext"]["approximateInvokeCount"] == 2  # the first try and one retry
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    info = record["KinesisBatchInfo"]
    assert (info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"],
            info["streamArn"]) == ("shardId-000000000000", sequences[2], sequences[2], 1, stream)
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    # the good records were all processed, in order; the shard went on after the bad one
    assert eventually(lambda: sorted(v["n"] for batch in logged_events(logs, function) for v in batch) == [1, 2, 4])
    _put(kinesis, stream, [{"n": 5}])
    assert eventually(lambda: any(v["n"] == 5 for batch in logged_events(logs, function) for v in batch))
    assert drain(sqs, dlq_url) == []
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_dynamodb_stream_partial_batch_response_and_sns_destination(clients: Any, lam: Any) -> None:
    dynamodb, logs, sqs, sns = clients("dynamodb"), clients("logs"), clients("sqs"), clients("sns")
    table, stream = _table(dynamodb)
    topic = sns.create_topic(Name=unique("failed"))["TopicArn"]
    url, queue_arn = new_queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    function = create_function(lam, REPORT_X2)
    for n in (1, 2, 3):
        dynamodb.put_item(TableName=table, Item={"id": {"S": f"x{n}"}, "v": {"N": str(n)}})
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream, FunctionName=function, StartingPosition="TRIM_HORIZON", BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"], MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": topic}})
    dead: list[dict] = []
    assert eventually(lambda: dead.extend(drain(sqs, url)) or dead)
    record = json.loads(dead[0]["Body"])
    info = record["DDBStreamBatchInfo"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"]["functionError"] is None
    assert (info["batchSize"], info["streamArn"]) == (2, stream)  # x2 and x3: retried from the lowest failure
    assert info["approximateArrivalOfFirstRecord"].endswith("Z") and "." not in info["approximateArrivalOfFirstRecord"]
    events = logged_events(logs, function)
    parsed = [DynamoDBStreamModel.model_validate(e) for e in events]
    keys = [[r.dynamodb.Keys["id"] for r in e.Records] for e in parsed]
    assert keys == [["x1", "x2", "x3"], ["x2", "x3"], ["x2", "x3"]]
    first = events[0]["Records"][0]
    assert (first["eventName"], first["eventSource"], first["eventSourceARN"], first["awsRegion"]) == (
        "INSERT", "aws:dynamodb", stream, "us-east-1")
    assert isinstance(first["dynamodb"]["ApproximateCreationDateTime"], int)
    assert first["dynamodb"]["NewImage"] == {"id": {"S": "x1"}, "v": {"N": "1"}}
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_parallelization_factor_keeps_each_partition_key_in_order(clients: Any, lam: Any) -> None:
    kinesis, logs = clients("kinesis"), clients("logs")
    stream = _stream(kinesis)
    function = create_function(lam, PRINT_EVENT)
    for n in range(12):
        _put(kinesis, stream, [{"n": n, "key": f"k{n % 3}"}], key=f"k{n % 3}")
    mapping = lam.create_event_source_mapping(EventSourceArn=stream, FunctionName=function, BatchSize=2,
                                              StartingPosition="TRIM_HORIZON", ParallelizationFactor=3)

    def seen() -> list[dict]:
        return [json.loads(base64.b64decode(r["kinesis"]["data"]))
                for event in logged_events(logs, function) for r in event["Records"]]

    assert eventually(lambda: len(seen()) >= 12)
    values = seen()
    assert sorted(v["n"] for v in values) == list(range(12))
    for key in ("k0", "k1", "k2"):
        ns = [v["n"] for v in values if v["key"] == key]
        assert ns == sorted(ns)
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


@pytest.mark.parametrize(("source", "kwargs", "code", "message"), [
    ("kinesis", {}, "InvalidParameterValueException", "1 validation error detected: Value null at 'startingPosition' "
     "failed to satisfy constraint: Member must not be null."),
    ("kinesis", {"StartingPosition": "0"}, "ValidationException", "Member must satisfy enum value set: "
     "[TRIM_HORIZON, LATEST, AT_TIMESTAMP]"),
    ("kinesis", {"StartingPosition": "LATEST", "StartingPositionTimestamp": 1_700_000_000},
     "InvalidParameterValueException", "Timestamp only valid with StartingPosition AT_TIMESTAMP"),
    ("dynamodb", {"StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 1_700_000_000},
     "InvalidParameterValueException", "Unsupported starting position for arn type: "),
    ("missing", {"StartingPosition": "LATEST"}, "InvalidParameterValueException", "Stream not found: "),
    ("kinesis", {"StartingPosition": "LATEST", "FilterCriteria": {"Filters": [{"Pattern": "{not json"}]}},
     "InvalidParameterValueException", "Invalid filter pattern definition."),
    ("kinesis", {"StartingPosition": "LATEST", "DestinationConfig": {"OnSuccess": {"Destination": "arn:aws:sqs:"
                                                                                    "us-east-1:123456789012:q"}}},
     "InvalidParameterValueException", "Unsupported DestinationConfig parameter for given event source mapping type."),
    ("kinesis", {"StartingPosition": "LATEST", "ParallelizationFactor": 11}, "ValidationException",
     "Member must have value less than or equal to 10"),
    ("kinesis", {"StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": 30}, "InvalidParameterValueException",
     "MaximumRecordAgeInSeconds must be -1"),
])
def test_create_time_checks(clients: Any, lam: Any, source: str, kwargs: dict, code: str, message: str) -> None:
    function = create_function(lam, PRINT_EVENT)
    if source == "kinesis":
        arn = _stream(clients("kinesis"))
    elif source == "dynamodb":
        arn = _table(clients("dynamodb"))[1]
    else:
        arn = f"arn:aws:kinesis:us-east-1:123456789012:stream/{unique('none')}"
    with pytest.raises(ClientError) as caught:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=function, **kwargs)
    assert caught.value.response["Error"]["Code"] == code
    assert message in caught.value.response["Error"]["Message"]
    assert lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"] == []


def test_second_mapping_of_a_stream_to_a_function_conflicts(clients: Any, lam: Any) -> None:
    stream = _stream(clients("kinesis"))
    function = create_function(lam, PRINT_EVENT)
    first = lam.create_event_source_mapping(EventSourceArn=stream, FunctionName=function, StartingPosition="LATEST")
    with pytest.raises(lam.exceptions.ResourceConflictException) as caught:
        lam.create_event_source_mapping(EventSourceArn=stream, FunctionName=function, StartingPosition="LATEST")
    assert first["UUID"] in caught.value.response["Error"]["Message"]
    updated = lam.update_event_source_mapping(UUID=first["UUID"], BatchSize=7, MaximumRetryAttempts=3)
    assert (updated["BatchSize"], updated["MaximumRetryAttempts"]) == (7, 3)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_event_source_mapping(UUID=first["UUID"], MaximumRecordAgeInSeconds=10)
    assert lam.get_event_source_mapping(UUID=first["UUID"])["MaximumRecordAgeInSeconds"] == -1
    lam.delete_event_source_mapping(UUID=first["UUID"])


def test_latest_and_checkpoints_survive_a_restart(tmp_path: Path) -> None:
    with LocalEndpoint(state_dir=tmp_path) as first:
        lam, kinesis, logs = (make_client(first.url, s) for s in ("lambda", "kinesis", "logs"))
        stream = _stream(kinesis)
        _put(kinesis, stream, [{"n": 0}])  # before the mapping: LATEST skips it
        function = create_function(lam, PRINT_EVENT)
        mapping = lam.create_event_source_mapping(EventSourceArn=stream, FunctionName=function,
                                                  StartingPosition="LATEST")
        _put(kinesis, stream, [{"n": 1}])
        assert eventually(lambda: logged_events(logs, function))
        first.stream_pollers.close()  # records put from here on wait for the next start
        _put(kinesis, stream, [{"n": 2}])
    with LocalEndpoint(state_dir=tmp_path) as second:
        lam, logs = make_client(second.url, "lambda"), make_client(second.url, "logs")

        def delivered() -> list[int]:
            return [json.loads(base64.b64decode(r["kinesis"]["data"]))["n"]
                    for event in logged_events(logs, function) for r in event["Records"]]

        assert eventually(lambda: 2 in delivered())
        assert delivered() == [1, 2]  # n=0 never (LATEST), n=1 not again (the checkpoint)
        lam.delete_event_source_mapping(UUID=mapping["UUID"])
        assert second.store.all("lambda_esm_shard") == []
        make_client(second.url, "kinesis").delete_stream(StreamARN=stream)  # moto is process-wide


def test_at_timestamp_mapping_reads_from_its_time_and_a_disabled_one_reads_nothing_until_enabled(
        clients: Any, lam: Any) -> None:
    kinesis, logs = clients("kinesis"), clients("logs")
    stream = _stream(kinesis)
    function = create_function(lam, PRINT_EVENT)
    _put(kinesis, stream, [{"n": 1}])
    mapping = lam.create_event_source_mapping(EventSourceArn=stream, FunctionName=function, Enabled=False,
                                              StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=1_000_000)
    assert mapping["State"] == "Disabled"
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["StartingPositionTimestamp"].timestamp() == 1_000_000
    _put(kinesis, stream, [{"n": 2}])
    enabled = lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    assert enabled["State"] == "Enabled"

    def delivered() -> list[int]:
        return [json.loads(base64.b64decode(r["kinesis"]["data"]))["n"]
                for event in logged_events(logs, function) for r in event["Records"]]

    assert eventually(lambda: delivered() == [1, 2])
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
