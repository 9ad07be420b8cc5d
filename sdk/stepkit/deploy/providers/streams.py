"""Kinesis data streams (the stack's ``streams:``, kind ``kinesis_stream``) and a function's
``stream`` trigger: a Lambda event source mapping on a Kinesis stream or a table's DynamoDB
stream (kind ``stream_mapping``).

A Kinesis stream carries the stack's tags; its shard count is converged with UpdateShardCount
(uniform scaling) and its retention with Increase/DecreaseStreamRetentionPeriod.

The stream's ARN is not the stack's to name (DynamoDB adds the time it created the stream),
so it is read from the table when the mapping is put; a table whose stream was turned off and
on again has a new stream, and the mapping found on the old one is replaced. A mapping cannot
be tagged: it is ours when it links the stack's own function to the stack's own table."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from stepkit.deploy.naming import Names
from stepkit.deploy.policy import PolicyBuilder
from stepkit.deploy.providers.base import MISSING, OURS, BuildContext, Provider, Template, get_att, ref
from stepkit.deploy.resources import Resource
from stepkit.deploy.state import Recorded


@dataclass(frozen=True)
class KinesisStream(Resource):
    """A Kinesis data stream with provisioned shards."""

    kind: ClassVar[str] = "kinesis_stream"
    order: ClassVar[int] = 36

    shards: int = 1
    retention_hours: int = 24


@dataclass(frozen=True)
class StreamMapping(Resource):
    """A function's event source mapping on a table's DynamoDB stream (whose ARN deploy reads
    from the table: DynamoDB names a stream when it creates it)."""

    kind: ClassVar[str] = "stream_mapping"
    order: ClassVar[int] = 90

    function: str = ""
    function_name: str = ""
    table: str = ""
    table_name: str = ""
    kinesis: str = ""
    """Instead of ``table``: a Kinesis stream of the stack (logical name)."""
    kinesis_arn: str = ""
    starting_position: str = "LATEST"
    batch_size: int = 100
    batching_window: int = 0
    retries: int = -1
    max_record_age: int = -1
    bisect: bool = False
    parallelization: int = 1
    partial_failures: bool = True
    on_failure: str = ""
    """The dependency key of the on-failure queue or topic (``queue:x``, ``topic:x``), or ""."""
    on_failure_arn: str = ""
    filters: tuple[str, ...] = ()
    """Event patterns, as JSON text."""
    enabled: bool = True

    @property
    def depends_on(self) -> tuple[str, ...]:
        source = f"kinesis_stream:{self.kinesis}" if self.kinesis else f"table:{self.table}"
        return (f"function:{self.function}", source, *((self.on_failure,) if self.on_failure else ()))

    def settings(self) -> dict[str, Any]:
        """CreateEventSourceMapping's (and UpdateEventSourceMapping's) settings."""
        out: dict[str, Any] = {
            "BatchSize": self.batch_size, "MaximumBatchingWindowInSeconds": self.batching_window,
            "MaximumRetryAttempts": self.retries, "MaximumRecordAgeInSeconds": self.max_record_age,
            "BisectBatchOnFunctionError": self.bisect, "ParallelizationFactor": self.parallelization,
            "FunctionResponseTypes": ["ReportBatchItemFailures"] if self.partial_failures else [],
            "DestinationConfig": {"OnFailure": {"Destination": self.on_failure_arn} if self.on_failure_arn else {}},
            "FilterCriteria": {"Filters": [{"Pattern": f} for f in self.filters]},
            "Enabled": self.enabled,
        }
        return out


def build(ctx: BuildContext) -> None:
    """The stack's ``streams:`` (Kinesis)."""
    names = ctx.names
    for logical, kinesis in ctx.stack.streams.items():
        ctx.check_length("stream", names.kinesis_stream(logical), f"streams.{logical}")
        ctx.add(KinesisStream(logical=logical, name=names.kinesis_stream(logical), shards=kinesis.shards,
                              retention_hours=kinesis.retention_hours))


def stream_mapping(function: str, stream: Any, names: Names) -> StreamMapping:
    """A ``stream`` trigger (:class:`~stepkit.stack.resources.StreamTrigger`) as a resource."""
    failure = stream.on_failure
    on_failure, on_failure_arn = "", ""
    if failure is not None and failure.queue is not None:
        on_failure, on_failure_arn = f"queue:{failure.queue}", names.queue_arn(failure.queue)
    elif failure is not None and failure.topic is not None:
        on_failure, on_failure_arn = f"topic:{failure.topic}", names.topic_arn(failure.topic)
    source = stream.table or stream.kinesis
    return StreamMapping(
        logical=f"{function}-stream-{source}", name=f"{names.function(function)}<-{names.prefix}-{source}",
        function=function, function_name=names.function(function), table=stream.table or "",
        table_name=names.table(stream.table) if stream.table else "", kinesis=stream.kinesis or "",
        kinesis_arn=names.kinesis_stream_arn(stream.kinesis) if stream.kinesis else "",
        starting_position=stream.starting_position.upper(),
        batch_size=stream.batch_size, batching_window=stream.batching_window, retries=stream.retries,
        max_record_age=stream.max_record_age, bisect=stream.bisect, parallelization=stream.parallelization,
        partial_failures=stream.partial_failures, on_failure=on_failure, on_failure_arn=on_failure_arn,
        filters=tuple(json.dumps(f, sort_keys=True) for f in stream.filters), enabled=stream.enabled)


def kinesis_read_policy(policy: PolicyBuilder, stream_arn: str, reader: str) -> None:
    """What a poller of one Kinesis stream reads it with (Lambda's and EventBridge Pipes' alike:
    their guides' "execution role permissions" for Kinesis), on that stream only."""
    policy.allow(["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
                  "kinesis:GetShardIterator", "kinesis:ListShards", "kinesis:SubscribeToShard"], stream_arn)
    policy.allow(["kinesis:ListStreams"], "*")
    policy.note(f"kinesis:ListStreams names no stream: {reader} lists the account's streams")


def stream_trigger_policy(policy: PolicyBuilder, stream: Any, names: Any) -> None:
    """What Lambda's poller reads with the function's role (the Lambda developer guide, "Using
    AWS Lambda with Amazon DynamoDB": execution role permissions), on the table's streams only,
    and what it sends a discarded batch's description with."""
    if stream.kinesis is not None:
        kinesis_read_policy(policy, names.kinesis_stream_arn(stream.kinesis), "Lambda's poller")
    else:
        policy.allow(["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                      "dynamodb:ListStreams"], f"{names.table_arn(stream.table)}/stream/*")
    if stream.on_failure is not None and stream.on_failure.queue is not None:
        policy.allow(["sqs:SendMessage"], names.queue_arn(stream.on_failure.queue))
    elif stream.on_failure is not None and stream.on_failure.topic is not None:
        policy.allow(["sns:Publish"], names.topic_arn(stream.on_failure.topic))


def stream_arn(dynamodb: Any, table: str) -> str | None:
    """The ARN of the table's stream (DynamoDB names it when it creates it), if it has one on."""
    try:
        described = dynamodb.describe_table(TableName=table)["Table"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    return described.get("LatestStreamArn") if (described.get("StreamSpecification") or {}).get(
        "StreamEnabled") else None


class KinesisStreamProvider(Provider):
    """The Kinesis calls behind ``KinesisStream``."""

    resource = KinesisStream

    def _kinesis_summary(self, name: str) -> dict[str, Any] | None:
        try:
            return self.client("kinesis").describe_stream_summary(StreamName=name)[
                "StreamDescriptionSummary"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise

    def lookup(self, name: str, r: Resource | None) -> str:
        found = self._kinesis_summary(name)
        if found is None:
            return MISSING
        tags = self.client("kinesis").list_tags_for_stream(StreamName=name).get("Tags", [])
        return self.owned({t["Key"]: t["Value"] for t in tags})

    def _kinesis_active(self, name: str) -> dict[str, Any]:
        for _ in range(600):
            found = self._kinesis_summary(name)
            if found is not None and found["StreamStatus"] == "ACTIVE":
                return found
            self.sleep(0.5)
        raise RuntimeError(f"Kinesis stream {name} did not become ACTIVE")

    def put(self, r: KinesisStream, rec: Recorded | None, existing: bool) -> dict[str, Any]:
        kinesis = self.client("kinesis")
        if (self._kinesis_summary(r.name) if existing else None) is None:
            kinesis.create_stream(StreamName=r.name, ShardCount=r.shards, Tags=self.tags)
        found = self._kinesis_active(r.name)
        # Tagged again once ACTIVE (AddTagsToStream needs it): moto drops CreateStream's Tags,
        # and a stream without them would be refused as another owner's by the next deploy.
        kinesis.add_tags_to_stream(StreamName=r.name, Tags=self.tags)
        if found.get("OpenShardCount", r.shards) != r.shards:
            kinesis.update_shard_count(StreamName=r.name, TargetShardCount=r.shards, ScalingType="UNIFORM_SCALING")
            found = self._kinesis_active(r.name)
        hours = found.get("RetentionPeriodHours", 24)
        if hours < r.retention_hours:
            kinesis.increase_stream_retention_period(StreamName=r.name, RetentionPeriodHours=r.retention_hours)
        elif hours > r.retention_hours:
            kinesis.decrease_stream_retention_period(StreamName=r.name, RetentionPeriodHours=r.retention_hours)
        return {"arn": found["StreamARN"]}

    def delete(self, rec: Recorded) -> None:
        if self._kinesis_summary(rec.name) is not None:
            self.client("kinesis").delete_stream(StreamName=rec.name, EnforceConsumerDeletion=True)

    def describe(self, rec: Recorded) -> str:
        found = self._kinesis_summary(rec.name)
        return MISSING if found is None else str(found["StreamStatus"])

    @classmethod
    def template(cls, r: KinesisStream, template: Template) -> None:
        template.add(r, "AWS::Kinesis::Stream", {"Name": r.name, "ShardCount": r.shards,
                                                 "RetentionPeriodHours": r.retention_hours})


class StreamMappingProvider(Provider):
    """The Lambda calls behind ``StreamMapping``."""

    resource = StreamMapping

    def _stream_mappings(self, function: str) -> list[dict[str, Any]]:
        try:
            pages = self.client("lambda").get_paginator("list_event_source_mappings").paginate(FunctionName=function)
            return [m for page in pages for m in page.get("EventSourceMappings", [])
                    if ":dynamodb:" in m.get("EventSourceArn", "") or ":kinesis:" in m.get("EventSourceArn", "")]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return []
            raise

    def _table_mappings(self, function: str, table: str, kinesis_arn: str = "") -> list[dict[str, Any]]:
        """The function's mappings on the table's streams (or on the Kinesis stream)."""
        if kinesis_arn:
            return [m for m in self._stream_mappings(function) if m["EventSourceArn"] == kinesis_arn]
        return [m for m in self._stream_mappings(function) if f":table/{table}/stream/" in m["EventSourceArn"]]

    def lookup(self, name: str, r: Resource | None) -> str:
        if not isinstance(r, StreamMapping):
            return MISSING
        return OURS if self._table_mappings(r.function_name, r.table_name, r.kinesis_arn) else MISSING

    def put(self, r: StreamMapping, rec: Recorded | None, existing: bool) -> dict[str, Any]:
        lam = self.client("lambda")
        stream = r.kinesis_arn or stream_arn(self.client("dynamodb"), r.table_name)
        if stream is None:
            raise RuntimeError(f"table {r.table_name} has no stream to map (set its `stream:` in the stack)")
        uuid = None
        for found in self._table_mappings(r.function_name, r.table_name, r.kinesis_arn):
            if found["EventSourceArn"] == stream and uuid is None:
                uuid = found["UUID"]
            else:  # a mapping on an earlier stream of the table
                lam.delete_event_source_mapping(UUID=found["UUID"])
        if uuid is None:
            created = self.retry_iam(lambda: lam.create_event_source_mapping(
                EventSourceArn=stream, FunctionName=r.function_name, StartingPosition=r.starting_position,
                **r.settings()))
            uuid = created["UUID"]
        else:
            lam.update_event_source_mapping(UUID=uuid, FunctionName=r.function_name, **r.settings())
        return {"uuid": uuid, "stream_arn": stream}

    def delete(self, rec: Recorded) -> None:
        uuids = [rec.outputs["uuid"]] if rec.outputs.get("uuid") else [
            m["UUID"] for m in self._table_mappings(rec.properties.get("function_name", ""),
                                                    rec.properties.get("table_name", ""),
                                                    rec.properties.get("kinesis_arn", ""))]
        for uuid in uuids:
            try:
                self.client("lambda").delete_event_source_mapping(UUID=uuid)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise

    def describe(self, rec: Recorded) -> str:
        uuid = rec.outputs.get("uuid")
        if not uuid:
            return MISSING
        try:
            return str(self.client("lambda").get_event_source_mapping(UUID=uuid).get("State", "Enabled"))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return MISSING
            raise

    @classmethod
    def template(cls, r: StreamMapping, template: Template) -> None:
        settings = r.settings()
        destination = settings.pop("DestinationConfig")
        if r.on_failure:
            kind = r.on_failure.split(":", 1)[0]
            arn = get_att(r.on_failure) if kind == "queue" else ref(r.on_failure)
            settings["DestinationConfig"] = {"OnFailure": {"Destination": arn}}
        elif destination["OnFailure"]:
            settings["DestinationConfig"] = destination
        if not r.filters:
            settings.pop("FilterCriteria")
        template.add(r, "AWS::Lambda::EventSourceMapping", {
            "EventSourceArn": get_att(f"kinesis_stream:{r.kinesis}") if r.kinesis
            else get_att(f"table:{r.table}", "StreamArn"),
            "FunctionName": ref(f"function:{r.function}"), "StartingPosition": r.starting_position, **settings})
