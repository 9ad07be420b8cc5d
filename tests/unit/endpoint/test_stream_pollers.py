"""The stream pollers' retry rules, without an endpoint: bisection, retry quota, record age,
partial batch responses, failures to invoke, and the on-failure record's shape."""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from stepkit.endpoint.stream_pollers import StreamPollers, failure_record
from stepkit.endpoint.stream_sources import KinesisSource, StreamRecord, iso, lane

STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/s"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:f"


@dataclass
class Result:
    payload: bytes = b"null"
    function_error: str | None = None
    executed_version: str = "$LATEST"
    request_id: str = "req-1"


class Store:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Any] = {}

    def put(self, kind: str, key: str, data: Any) -> None:
        self.rows[(kind, key)] = data

    def get(self, kind: str, key: str) -> Any:
        return self.rows.get((kind, key))

    def delete(self, kind: str, key: str) -> None:
        self.rows.pop((kind, key), None)

    def all(self, kind: str) -> list[Any]:
        return [v for (k, _), v in self.rows.items() if k == kind]


def _records(*values: dict, arrival: float | None = None) -> list[StreamRecord]:
    now = time.time() if arrival is None else arrival
    out = []
    for n, value in enumerate(values, start=1):
        event = {"kinesis": {"sequenceNumber": str(n), "partitionKey": "k",
                             "data": base64.b64encode(json.dumps(value).encode()).decode()}}
        out.append(StreamRecord(n, now, "k", event))
    return out


def _pollers(answer: Any, sent: list[tuple[str, str]]) -> tuple[StreamPollers, list[list[dict]]]:
    calls: list[list[dict]] = []

    def invoke(arn: str, body: bytes) -> Any:
        batch = [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in json.loads(body)["Records"]]
        calls.append(batch)
        return answer(batch)

    pollers = StreamPollers(Store(), threading.RLock(), invoke, lambda arn: True, lambda arn: "role",
                            lambda arn, body: sent.append((arn, body)), idle=0.001)
    return pollers, calls


def _mapping(**settings: Any) -> dict[str, Any]:
    return {"UUID": "u", "FunctionArn": FUNCTION, "EventSourceArn": STREAM, "MaximumRetryAttempts": -1,
            "MaximumRecordAgeInSeconds": -1, "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:"
                                                                                 "us-east-1:123456789012:dlq"}},
            **settings}


def _fails_on_bad(batch: list[dict]) -> Result:
    return Result(function_error="Unhandled") if any(v.get("bad") for v in batch) else Result()


def test_bisection_isolates_the_bad_record_and_splits_are_not_retries() -> None:
    sent: list[tuple[str, str]] = []
    pollers, calls = _pollers(_fails_on_bad, sent)
    records = _records({"n": 1}, {"n": 2}, {"n": 3, "bad": True}, {"n": 4})
    source = KinesisSource(STREAM, threading.RLock())
    done = pollers._deliver(_mapping(BisectBatchOnFunctionError=True, MaximumRetryAttempts=0), source,
                            "shardId-000000000000", records, threading.Event())
    assert done
    # 4 fail -> [1,2] ok, [3,4] fail -> [3] fails (no retry left: discarded), [4] ok
    assert [[v["n"] for v in c] for c in calls] == [[1, 2, 3, 4], [1, 2], [3, 4], [3], [4]]
    assert len(sent) == 1
    body = json.loads(sent[0][1])
    assert body["KinesisBatchInfo"]["startSequenceNumber"] == body["KinesisBatchInfo"]["endSequenceNumber"] == "3"
    assert body["requestContext"]["approximateInvokeCount"] == 1


def test_retries_are_counted_without_bisection() -> None:
    sent: list[tuple[str, str]] = []
    pollers, calls = _pollers(_fails_on_bad, sent)
    source = KinesisSource(STREAM, threading.RLock())
    pollers._deliver(_mapping(MaximumRetryAttempts=2), source, "s", _records({"n": 1}, {"bad": True}),
                     threading.Event())
    assert len(calls) == 3  # the first try and two retries
    body = json.loads(sent[0][1])
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["KinesisBatchInfo"]["batchSize"] == 2


def test_records_older_than_the_maximum_age_are_discarded_on_failure() -> None:
    sent: list[tuple[str, str]] = []
    pollers, calls = _pollers(_fails_on_bad, sent)
    source = KinesisSource(STREAM, threading.RLock())
    old = _records({"bad": True}, arrival=time.time() - 3600)
    pollers._deliver(_mapping(MaximumRecordAgeInSeconds=60), source, "s", old, threading.Event())
    assert len(calls) == 1
    assert json.loads(sent[0][1])["requestContext"]["condition"] == "MaximumRecordAgeExceeded"


def test_partial_batch_response_retries_from_the_lowest_failure() -> None:
    sent: list[tuple[str, str]] = []

    def report(batch: list[dict]) -> Result:
        failed = [{"itemIdentifier": str(v["n"])} for v in batch if v["n"] in (3, 2)]
        return Result(payload=json.dumps({"batchItemFailures": failed}).encode())

    pollers, calls = _pollers(report, sent)
    source = KinesisSource(STREAM, threading.RLock())
    records = _records({"n": 1}, {"n": 2}, {"n": 3}, {"n": 4})
    pollers._deliver(_mapping(FunctionResponseTypes=["ReportBatchItemFailures"], MaximumRetryAttempts=1),
                     source, "s", records, threading.Event())
    assert [[v["n"] for v in c] for c in calls] == [[1, 2, 3, 4], [2, 3, 4]]
    info = json.loads(sent[0][1])["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == ("2", "4", 3)


def test_a_failure_to_invoke_is_not_a_retry_and_a_stop_leaves_the_batch_unfinished() -> None:
    sent: list[tuple[str, str]] = []
    stop = threading.Event()
    tries = []

    def invoke(arn: str, body: bytes) -> Any:
        tries.append(1)
        if len(tries) == 3:
            stop.set()
        raise RuntimeError("function is Pending")

    pollers = StreamPollers(Store(), threading.RLock(), invoke, lambda arn: True, lambda arn: None,
                            lambda arn, body: sent.append((arn, body)), idle=0.001)
    done = pollers._deliver(_mapping(MaximumRetryAttempts=0), KinesisSource(STREAM, threading.RLock()), "s",
                            _records({"n": 1}), stop)
    assert not done and len(tries) == 3 and sent == []


def test_failure_record_shape_and_arrival_precision() -> None:
    from stepkit.endpoint.stream_pollers import _Part
    from stepkit.endpoint.stream_sources import DynamoDBSource

    part = _Part(_records({"n": 1}, {"n": 2}, arrival=1_700_000_000.25), retries=1, invokes=2,
                 last=Result(function_error="Unhandled"))
    ddb = DynamoDBSource("arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000",
                         threading.RLock())
    record = failure_record(_mapping(), ddb, "shardId-1", part, "RetryAttemptsExhausted")
    assert record["requestContext"] == {"requestId": "req-1", "functionArn": FUNCTION,
                                        "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 2}
    assert record["DDBStreamBatchInfo"]["approximateArrivalOfFirstRecord"] == "2023-11-14T22:13:20Z"
    kinesis = failure_record(_mapping(), KinesisSource(STREAM, threading.RLock()), "s", part, "x")
    assert kinesis["KinesisBatchInfo"]["approximateArrivalOfLastRecord"] == "2023-11-14T22:13:20.250Z"
    assert iso(0.0) == "1970-01-01T00:00:00.000Z"


def test_lanes_are_stable_and_spread_keys() -> None:
    assert lane("any", 1) == 0
    assert lane("k1", 4) == lane("k1", 4)
    assert len({lane(f"k{n}", 4) for n in range(50)}) == 4


def test_kinesis_filter_view_decodes_json_data_only() -> None:
    source = KinesisSource(STREAM, threading.RLock())
    json_record = _records({"kind": "keep"})[0]
    assert source.filter_view(json_record)["data"] == {"kind": "keep"}
    text = StreamRecord(1, 0.0, "k", {"kinesis": {"data": base64.b64encode(b"plain").decode(), "partitionKey": "k"},
                                      "eventSource": "aws:kinesis"})
    view = source.filter_view(text)
    assert view["data"] == base64.b64encode(b"plain").decode() and view["partitionKey"] == "k"
    assert view["eventSource"] == "aws:kinesis"


def test_sources_read_moto_models_after_a_sequence_and_since_a_time() -> None:
    import boto3
    from moto import mock_aws

    from stepkit.endpoint.stream_sources import DynamoDBSource

    with mock_aws():
        kinesis = boto3.client("kinesis", region_name="eu-west-1")
        kinesis.create_stream(StreamName="s", ShardCount=1)
        for n in range(3):
            kinesis.put_record(StreamName="s", Data=json.dumps({"n": n}).encode(), PartitionKey="p")
        source = KinesisSource("arn:aws:kinesis:eu-west-1:123456789012:stream/s", threading.RLock())
        assert source.exists() and source.shards() == [("shardId-000000000000", None)]
        shard = "shardId-000000000000"
        records = source.read(shard, None, 10)
        assert records is not None and [r.sequence for r in records] == [1, 2, 3]
        assert source.latest(shard) == 3
        assert [r.sequence for r in source.read(shard, 1, 1) or []] == [2]
        assert source.read(shard, None, 10, since=records[-1].arrival + 1) == []
        assert records[0].event["awsRegion"] == "eu-west-1" and records[0].key == "p"
        assert source.read("shardId-000000000009", None, 10) is None
        assert not KinesisSource("arn:aws:kinesis:eu-west-1:123456789012:stream/none", threading.RLock()).exists()

        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        arn = dynamodb.create_table(
            TableName="t", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
        )["TableDescription"]["LatestStreamArn"]
        ddb = DynamoDBSource(arn, threading.RLock())
        [(ddb_shard, _)] = ddb.shards() or []
        assert ddb.latest(ddb_shard) is None and ddb.read(ddb_shard, None, 5) == []
        for key in ("a", "b"):
            dynamodb.put_item(TableName="t", Item={"id": {"S": key}})
        got = ddb.read(ddb_shard, None, 5) or []
        assert [r.event["dynamodb"]["Keys"]["id"]["S"] for r in got] == ["a", "b"]
        assert ddb.latest(ddb_shard) == got[-1].sequence
        assert ddb.read(ddb_shard, got[0].sequence, 5) == got[1:]
        assert got[0].event["awsRegion"] == "eu-west-1" and got[0].event["eventSourceARN"] == arn
        assert not DynamoDBSource(arn.rsplit("/", 1)[0] + "/2000-01-01T00:00:00.000", threading.RLock()).exists()
