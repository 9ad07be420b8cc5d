"""Deploying a function's ``stream`` trigger: a Lambda event source mapping on a table's
DynamoDB stream. Mixed into ``aws.Api`` (which dispatches on the resource kind:
``stream_mapping``).

The stream's ARN is not the stack's to name (DynamoDB adds the time it created the stream),
so it is read from the table when the mapping is put; a table whose stream was turned off and
on again has a new stream, and the mapping found on the old one is replaced. A mapping cannot
be tagged: it is ours when it links the stack's own function to the stack's own table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from stepkit.deploy.resources import Resource, StreamMapping
from stepkit.deploy.state import Recorded

MISSING, OURS = "missing", "ours"


class StreamMappingCalls:
    """The Lambda calls behind ``StreamMapping`` (``c``, ``_retry_iam``: aws.Api's)."""

    c: Callable[[str], Any]
    _retry_iam: Callable[[Callable[[], Any]], Any]

    def _stream_arn(self, table: str) -> str | None:
        try:
            described = self.c("dynamodb").describe_table(TableName=table)["Table"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise
        return described.get("LatestStreamArn") if (described.get("StreamSpecification") or {}).get(
            "StreamEnabled") else None

    def _stream_mappings(self, function: str) -> list[dict[str, Any]]:
        try:
            pages = self.c("lambda").get_paginator("list_event_source_mappings").paginate(FunctionName=function)
            return [m for page in pages for m in page.get("EventSourceMappings", [])
                    if ":dynamodb:" in m.get("EventSourceArn", "")]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return []
            raise

    def _table_mappings(self, function: str, table: str) -> list[dict[str, Any]]:
        return [m for m in self._stream_mappings(function) if f":table/{table}/stream/" in m["EventSourceArn"]]

    def _lookup_stream_mapping(self, name: str, r: Resource | None) -> str:
        if not isinstance(r, StreamMapping):
            return MISSING
        return OURS if self._table_mappings(r.function_name, r.table_name) else MISSING

    def _put_stream_mapping(self, r: StreamMapping, _rec: Recorded | None, existing: bool) -> dict[str, Any]:
        lam = self.c("lambda")
        stream = self._stream_arn(r.table_name)
        if stream is None:
            raise RuntimeError(f"table {r.table_name} has no stream to map (set its `stream:` in the stack)")
        uuid = None
        for found in self._table_mappings(r.function_name, r.table_name):
            if found["EventSourceArn"] == stream and uuid is None:
                uuid = found["UUID"]
            else:  # a mapping on an earlier stream of the table
                lam.delete_event_source_mapping(UUID=found["UUID"])
        if uuid is None:
            created = self._retry_iam(lambda: lam.create_event_source_mapping(
                EventSourceArn=stream, FunctionName=r.function_name, StartingPosition=r.starting_position,
                **r.settings()))
            uuid = created["UUID"]
        else:
            lam.update_event_source_mapping(UUID=uuid, FunctionName=r.function_name, **r.settings())
        return {"uuid": uuid, "stream_arn": stream}

    def _delete_stream_mapping(self, rec: Recorded) -> None:
        uuids = [rec.outputs["uuid"]] if rec.outputs.get("uuid") else [
            m["UUID"] for m in self._table_mappings(rec.properties.get("function_name", ""),
                                                    rec.properties.get("table_name", ""))]
        for uuid in uuids:
            try:
                self.c("lambda").delete_event_source_mapping(UUID=uuid)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise

    def _describe_stream_mapping(self, rec: Recorded) -> str:
        uuid = rec.outputs.get("uuid")
        if not uuid:
            return MISSING
        try:
            return str(self.c("lambda").get_event_source_mapping(UUID=uuid).get("State", "Enabled"))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return MISSING
            raise
