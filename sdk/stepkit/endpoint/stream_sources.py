"""The streams a Lambda event source mapping reads: Kinesis data streams and DynamoDB Streams.

moto keeps both (``PutRecord``/``PutItem`` through the endpoint are journaled like every
change); the pollers read its models directly, under moto's lock and without changing them.
Reading through GetShardIterator/GetRecords would leave a shard iterator object in moto's
DynamoDB Streams backend for every poll (they are never dropped, and every snapshot would
pickle them), and the models give what a poller needs: the records after a sequence number.

Each record comes out as Lambda's event record, in AWS's shapes (the Lambda developer guide's
"Using Lambda with Kinesis" and "Using Lambda with DynamoDB" examples; powertools' parser
models ``KinesisDataStreamModel`` and ``DynamoDBStreamModel`` read them in the tests):

- Kinesis: ``{"kinesis": {kinesisSchemaVersion, partitionKey, sequenceNumber, data (base64),
  approximateArrivalTimestamp (epoch seconds)}, eventSource "aws:kinesis", eventVersion,
  eventID "<shard>:<sequence>", eventName "aws:kinesis:record", invokeIdentityArn,
  awsRegion, eventSourceARN}``;
- DynamoDB: moto's stream record (``eventID``, ``eventName``, ``dynamodb``: Keys, images,
  SequenceNumber, SizeBytes, StreamViewType) with ``ApproximateCreationDateTime`` as epoch
  seconds, the stream's region (moto writes ``us-east-1`` whatever the table's) and
  ``eventSourceARN``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

KINESIS_ARN = re.compile(r"arn:aws[\w-]*:kinesis:(?P<region>[\w-]+):(?P<account>\d{12}):stream/(?P<name>[\w.-]+)")
DYNAMODB_STREAM_ARN = re.compile(r"arn:aws[\w-]*:dynamodb:(?P<region>[\w-]+):(?P<account>\d{12}):table/"
                                 r"(?P<table>[\w.-]+)/stream/(?P<label>[\w.:-]+)")


def is_stream_arn(arn: str) -> bool:
    return bool(KINESIS_ARN.fullmatch(arn) or DYNAMODB_STREAM_ARN.fullmatch(arn))


def _epoch(value: datetime) -> float:
    """moto's naive UTC datetimes (or aware ones) as seconds since the epoch."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


@dataclass(frozen=True)
class StreamRecord:
    """One record of a shard: its sequence number (an integer in moto), arrival (epoch seconds),
    the key that orders it (records of one key stay in order across ParallelizationFactor
    lanes) and Lambda's event record."""

    sequence: int
    arrival: float
    key: str
    event: dict[str, Any]


class StreamSource:
    """What differs between Kinesis and DynamoDB Streams, behind one interface."""

    kind = ""
    batch_info = ""  # the key of the on-failure record's batch description
    millis = True  # whether that description's arrival times carry milliseconds

    def __init__(self, arn: str, lock: Any) -> None:
        self.arn = arn
        self.lock = lock
        self.region = arn.split(":")[3]
        self.account = arn.split(":")[4]

    def exists(self) -> bool:
        with self.lock:
            return self._stream() is not None

    def shards(self) -> list[tuple[str, str | None]] | None:
        """(shard id, parent shard id) of every shard, None when the stream is gone."""
        with self.lock:
            stream = self._stream()
            return None if stream is None else self._shards(stream)

    def latest(self, shard: str) -> int | None:
        """The sequence number of the shard's last record now (None: the shard is empty)."""
        with self.lock:
            stream = self._stream()
            return None if stream is None else self._latest(stream, shard)

    def read(self, shard: str, after: int | None, limit: int, since: float | None = None) -> list[StreamRecord] | None:
        """Up to ``limit`` records after sequence ``after`` (None: from the trim horizon) that
        arrived at ``since`` or later; None when the stream or the shard is gone."""
        with self.lock:
            stream = self._stream()
            if stream is None:
                return None
            out = []
            raw_records = self._records(stream, shard, after)
            if raw_records is None:
                return None
            for raw in raw_records:
                record = self._convert(shard, raw)
                if since is not None and record.arrival < since:
                    continue
                out.append(record)
                if len(out) >= limit:
                    break
            return out

    def filter_view(self, record: StreamRecord) -> dict[str, Any]:
        """What a filter pattern of FilterCriteria is matched against."""
        return record.event

    # -- per kind ------------------------------------------------------------------------
    def _stream(self) -> Any:
        raise NotImplementedError

    def _shards(self, stream: Any) -> list[tuple[str, str | None]]:
        raise NotImplementedError

    def _latest(self, stream: Any, shard: str) -> int | None:
        raise NotImplementedError

    def _records(self, stream: Any, shard: str, after: int | None) -> Iterator[Any] | None:
        raise NotImplementedError

    def _convert(self, shard: str, raw: Any) -> StreamRecord:
        raise NotImplementedError


class KinesisSource(StreamSource):
    kind = "kinesis"
    batch_info = "KinesisBatchInfo"

    def _stream(self) -> Any:
        from moto.kinesis.models import kinesis_backends

        name = self.arn.rsplit("/", 1)[1]
        with contextlib.suppress(KeyError):
            return kinesis_backends[self.account][self.region].streams.get(name)
        return None

    def _shards(self, stream: Any) -> list[tuple[str, str | None]]:
        return [(shard_id, shard.parent) for shard_id, shard in stream.shards.items()]

    def _latest(self, stream: Any, shard: str) -> int | None:
        found = stream.shards.get(shard)
        return found.get_max_sequence_number() if found is not None and found.records else None

    def _records(self, stream: Any, shard: str, after: int | None) -> Iterator[Any] | None:
        found = stream.shards.get(shard)
        if found is None:
            return None
        floor = after if after is not None else -1
        return (r for seq, r in list(found.records.items()) if seq > floor)

    def _convert(self, shard: str, raw: Any) -> StreamRecord:
        arrival = _epoch(raw.created_at)
        data = raw.data if isinstance(raw.data, bytes) else str(raw.data).encode()
        event = {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": raw.partition_key,
                "sequenceNumber": str(raw.sequence_number),
                "data": base64.b64encode(data).decode(),
                "approximateArrivalTimestamp": round(arrival, 3),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard}:{raw.sequence_number}",
            "eventName": "aws:kinesis:record",
            "awsRegion": self.region,
            "eventSourceARN": self.arn,
        }
        return StreamRecord(int(raw.sequence_number), arrival, raw.partition_key, event)

    def filter_view(self, record: StreamRecord) -> dict[str, Any]:
        """Lambda matches a Kinesis filter against the record's metadata and its ``data``,
        decoded when it is JSON (with-kinesis-filtering in the Lambda developer guide)."""
        inner = record.event["kinesis"]
        view = {**{k: v for k, v in record.event.items() if k != "kinesis"}, **inner}
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            view["data"] = json.loads(base64.b64decode(inner["data"]))
        return view


class DynamoDBSource(StreamSource):
    kind = "dynamodb"
    batch_info = "DDBStreamBatchInfo"
    millis = False

    def _stream(self) -> Any:
        from moto.dynamodb.models import dynamodb_backends

        m = DYNAMODB_STREAM_ARN.fullmatch(self.arn)
        if m is None:
            return None
        with contextlib.suppress(KeyError):
            table = dynamodb_backends[self.account][self.region].tables.get(m["table"])
            if table is not None and table.stream_shard is not None and table.latest_stream_label == m["label"]:
                return table.stream_shard
        return None

    def _shards(self, stream: Any) -> list[tuple[str, str | None]]:
        return [(stream.id, None)]

    def _latest(self, stream: Any, shard: str) -> int | None:
        if shard != stream.id or not stream.items:
            return None
        return int(stream.starting_sequence_number) + len(stream.items) - 1

    def _records(self, stream: Any, shard: str, after: int | None) -> Iterator[Any] | None:
        if shard != stream.id:
            return None
        start = 0 if after is None else max(0, after + 1 - int(stream.starting_sequence_number))
        return (item.to_json() for item in list(stream.items[start:]))

    def _convert(self, shard: str, raw: Any) -> StreamRecord:
        event = json.loads(json.dumps(raw, default=str))
        created = raw["dynamodb"]["ApproximateCreationDateTime"]
        arrival = _epoch(created) if isinstance(created, datetime) else float(created)
        event["dynamodb"]["ApproximateCreationDateTime"] = int(arrival)
        event["awsRegion"] = self.region
        event["eventSourceARN"] = self.arn
        key = json.dumps(event["dynamodb"].get("Keys", {}), sort_keys=True)
        return StreamRecord(int(event["dynamodb"]["SequenceNumber"]), arrival, key, event)


def source_for(arn: str, lock: Any) -> StreamSource:
    return KinesisSource(arn, lock) if KINESIS_ARN.fullmatch(arn) else DynamoDBSource(arn, lock)


def lane(key: str, lanes: int) -> int:
    """The ParallelizationFactor lane of a partition key (stable across restarts)."""
    if lanes <= 1:
        return 0
    return int.from_bytes(hashlib.md5(key.encode(), usedforsecurity=False).digest()[:4], "big") % lanes


def iso(epoch: float, millis: bool = True) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
