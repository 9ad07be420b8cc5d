"""Deploying Kinesis streams and a function's ``stream`` trigger: a Lambda event source
mapping on a Kinesis stream or a table's DynamoDB stream. Mixed into ``aws.Api`` (which
dispatches on the resource kind: ``kinesis_stream``, ``stream_mapping``).

A Kinesis stream carries the stack's tags; its shard count is converged with UpdateShardCount
(uniform scaling) and its retention with Increase/DecreaseStreamRetentionPeriod.

The stream's ARN is not the stack's to name (DynamoDB adds the time it created the stream),
so it is read from the table when the mapping is put; a table whose stream was turned off and
on again has a new stream, and the mapping found on the old one is replaced. A mapping cannot
be tagged: it is ours when it links the stack's own function to the stack's own table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from stepkit.deploy.resources import KinesisStream, Resource, StreamMapping
from stepkit.deploy.state import Recorded

MISSING, OURS = "missing", "ours"


class KinesisStreamCalls:
    """The Kinesis calls behind ``KinesisStream`` (``client``, ``tags``, ``owned``, ``sleep``: aws.Api's)."""

    tags: dict[str, str]
    client: Callable[[str], Any]
    owned: Callable[[dict[str, str] | None], str]
    sleep: Callable[[float], None]

    def _kinesis_summary(self, name: str) -> dict[str, Any] | None:
        try:
            return self.client("kinesis").describe_stream_summary(StreamName=name)[  # type: ignore[no-any-return]
                "StreamDescriptionSummary"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise

    def _lookup_kinesis_stream(self, name: str, _r: Resource | None) -> str:
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

    def _put_kinesis_stream(self, r: KinesisStream, _rec: Recorded | None, existing: bool) -> dict[str, Any]:
        kinesis = self.client("kinesis")
        if (self._kinesis_summary(r.name) if existing else None) is None:
            kinesis.create_stream(StreamName=r.name, ShardCount=r.shards, Tags=self.tags)
        else:
            kinesis.add_tags_to_stream(StreamName=r.name, Tags=self.tags)
        found = self._kinesis_active(r.name)
        if found.get("OpenShardCount", r.shards) != r.shards:
            kinesis.update_shard_count(StreamName=r.name, TargetShardCount=r.shards, ScalingType="UNIFORM_SCALING")
            found = self._kinesis_active(r.name)
        hours = found.get("RetentionPeriodHours", 24)
        if hours < r.retention_hours:
            kinesis.increase_stream_retention_period(StreamName=r.name, RetentionPeriodHours=r.retention_hours)
        elif hours > r.retention_hours:
            kinesis.decrease_stream_retention_period(StreamName=r.name, RetentionPeriodHours=r.retention_hours)
        return {"arn": found["StreamARN"]}

    def _delete_kinesis_stream(self, rec: Recorded) -> None:
        if self._kinesis_summary(rec.name) is not None:
            self.client("kinesis").delete_stream(StreamName=rec.name, EnforceConsumerDeletion=True)

    def _describe_kinesis_stream(self, rec: Recorded) -> str:
        found = self._kinesis_summary(rec.name)
        return MISSING if found is None else str(found["StreamStatus"])


class StreamMappingCalls:
    """The Lambda calls behind ``StreamMapping`` (``client``, ``retry_iam``: aws.Api's)."""

    client: Callable[[str], Any]
    retry_iam: Callable[[Callable[[], Any]], Any]

    def _stream_arn(self, table: str) -> str | None:
        try:
            described = self.client("dynamodb").describe_table(TableName=table)["Table"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise
        return described.get("LatestStreamArn") if (described.get("StreamSpecification") or {}).get(
            "StreamEnabled") else None

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

    def _lookup_stream_mapping(self, name: str, r: Resource | None) -> str:
        if not isinstance(r, StreamMapping):
            return MISSING
        return OURS if self._table_mappings(r.function_name, r.table_name, r.kinesis_arn) else MISSING

    def _put_stream_mapping(self, r: StreamMapping, _rec: Recorded | None, existing: bool) -> dict[str, Any]:
        lam = self.client("lambda")
        stream = r.kinesis_arn or self._stream_arn(r.table_name)
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

    def _delete_stream_mapping(self, rec: Recorded) -> None:
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

    def _describe_stream_mapping(self, rec: Recorded) -> str:
        uuid = rec.outputs.get("uuid")
        if not uuid:
            return MISSING
        try:
            return str(self.client("lambda").get_event_source_mapping(UUID=uuid).get("State", "Enabled"))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return MISSING
            raise
