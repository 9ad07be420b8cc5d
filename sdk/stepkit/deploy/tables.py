"""Deploying DynamoDB tables (the stack's ``tables:``). Mixed into ``aws.Api``, which
dispatches on the resource kind ``table``.

A table is created billed per request and tagged with the stack's tags, as every resource
deploy creates. An update converges what DynamoDB lets change in place: the billing mode,
the stream (a stream's view type cannot change: it is disabled, then enabled with the new
one) and the TTL attribute (likewise disabled, then enabled); a change of key schema cannot
be made in place and is refused, naming the way out. A table that holds items is never
deleted unless the caller says the data may go (``stepkit destroy --delete-data``), as a
bucket with objects is not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from stepkit.deploy.resources import Resource, Table
from stepkit.deploy.state import Recorded

MISSING = "missing"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class TableCalls:
    """The DynamoDB calls behind ``Table`` (``client``, ``tags``, ``owned``, ``sleep``,
    ``wait_timeout``: aws.Api's)."""

    tags: dict[str, str]
    client: Callable[[str], Any]
    owned: Callable[[dict[str, str] | None], str]
    sleep: Callable[[float], None]
    wait_timeout: float

    def _table(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self.client("dynamodb").describe_table(TableName=name)["Table"])
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                return None
            raise

    def _lookup_table(self, name: str, _r: Resource | None) -> str:
        table = self._table(name)
        if table is None:
            return MISSING
        tags = self.client("dynamodb").list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags", [])
        return self.owned({t["Key"]: t["Value"] for t in tags})

    def _put_table(self, r: Table, _rec: Recorded | None, existing: bool) -> dict[str, Any]:
        dynamodb = self.client("dynamodb")
        table = self._table(r.name) if existing else None
        if table is None:
            dynamodb.create_table(**r.create_arguments(), Tags=[{"Key": k, "Value": v} for k, v in self.tags.items()])
        else:
            self._check_keys(r, table)
            dynamodb.tag_resource(ResourceArn=table["TableArn"],
                                  Tags=[{"Key": k, "Value": v} for k, v in self.tags.items()])
            if (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED") != "PAY_PER_REQUEST":
                self._wait_active(r.name)
                dynamodb.update_table(TableName=r.name, BillingMode="PAY_PER_REQUEST")
            self._converge_stream(r, table)
        table = self._wait_active(r.name)
        self._converge_ttl(r)
        return {"arn": table["TableArn"], "stream_arn": table.get("LatestStreamArn", "") if r.stream_view_type else ""}

    @staticmethod
    def _check_keys(r: Table, table: dict[str, Any]) -> None:
        types = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])}
        current = [(k["AttributeName"], k["KeyType"], types.get(k["AttributeName"])) for k in table["KeySchema"]]
        wanted = [(k["AttributeName"], k["KeyType"], a["AttributeType"])
                  for k, a in zip(r.key_schema(), r.attribute_definitions(), strict=True)]
        if current != wanted:
            def text(keys: list[tuple[str, str, str | None]]) -> str:
                return ", ".join(f"{n} ({t}, {kind})" for n, kind, t in keys)

            raise RuntimeError(f"the keys of table {r.name} are {text(current)}; DynamoDB cannot change them to "
                               f"{text(wanted)} in place: give the table another name in the stack (a new table), "
                               "or delete it first")

    def _converge_stream(self, r: Table, table: dict[str, Any]) -> None:
        spec = table.get("StreamSpecification") or {}
        current = spec.get("StreamViewType") if spec.get("StreamEnabled") else None
        if current == r.stream_view_type:
            return
        dynamodb = self.client("dynamodb")
        if current is not None:  # a view type cannot change: disable, then enable again
            self._wait_active(r.name)
            dynamodb.update_table(TableName=r.name, StreamSpecification={"StreamEnabled": False})
        if r.stream_view_type:
            self._wait_active(r.name)
            dynamodb.update_table(TableName=r.name, StreamSpecification=r.stream_specification())

    def _converge_ttl(self, r: Table) -> None:
        dynamodb = self.client("dynamodb")
        ttl = dynamodb.describe_time_to_live(TableName=r.name).get("TimeToLiveDescription", {})
        enabled = ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
        current = ttl.get("AttributeName") if enabled else None
        if current == r.ttl_attribute:
            return
        if current is not None:
            dynamodb.update_time_to_live(TableName=r.name,
                                         TimeToLiveSpecification={"AttributeName": current, "Enabled": False})
        if r.ttl_attribute:
            dynamodb.update_time_to_live(TableName=r.name,
                                         TimeToLiveSpecification={"AttributeName": r.ttl_attribute, "Enabled": True})

    def _wait_active(self, name: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.wait_timeout
        delay = 0.5
        while True:
            table = self._table(name)
            if table is None:
                raise RuntimeError(f"table {name} disappeared while deploy waited for it")
            if table.get("TableStatus") == "ACTIVE":
                return table
            if time.monotonic() > deadline:
                raise RuntimeError(f"table {name} is still {table.get('TableStatus')} after "
                                   f"{self.wait_timeout:.0f} s")
            self.sleep(delay)
            delay = min(delay * 2, 5.0)

    def table_has_items(self, name: str) -> bool:
        try:
            return bool(self.client("dynamodb").scan(TableName=name, Limit=1, Select="COUNT").get("Count"))
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                return False
            raise

    def _delete_table(self, rec: Recorded) -> None:
        if self.table_has_items(rec.name):
            raise RuntimeError(f"table {rec.name} holds items; deploy does not delete data: empty or delete it "
                               "yourself, or run `stepkit destroy --delete-data`")
        self.drop_table(rec.name)

    def drop_table(self, name: str) -> None:
        """Delete the table with whatever it holds (gone already: nothing to do)."""
        try:
            self.client("dynamodb").delete_table(TableName=name)
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise

    def _describe_table(self, rec: Recorded) -> str:
        table = self._table(rec.name)
        return MISSING if table is None else str(table.get("TableStatus", "present")).lower()
