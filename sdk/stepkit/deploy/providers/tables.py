"""DynamoDB tables (the stack's ``tables:``, resource kind ``table``).

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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from botocore.exceptions import ClientError

from stepkit.deploy.policy import PolicyBuilder
from stepkit.deploy.providers.base import MISSING, BuildContext, Provider, Template, error_code
from stepkit.deploy.resources import Resource
from stepkit.deploy.state import Recorded

if TYPE_CHECKING:
    from stepkit.deploy.iam import StackArns
    from stepkit.stack.resources import Grant


@dataclass(frozen=True)
class Table(Resource):
    """A DynamoDB table billed per request, maybe with a TTL attribute and a stream."""

    kind: ClassVar[str] = "table"
    order: ClassVar[int] = 35

    partition_key: str = ""
    partition_type: str = "S"
    sort_key: str | None = None
    sort_type: str | None = None
    ttl_attribute: str | None = None
    stream_view_type: str | None = None
    """``NEW_AND_OLD_IMAGES``, ``NEW_IMAGE``, ``OLD_IMAGE``, ``KEYS_ONLY``; None: no stream."""

    def key_schema(self) -> list[dict[str, str]]:
        schema = [{"AttributeName": self.partition_key, "KeyType": "HASH"}]
        if self.sort_key:
            schema.append({"AttributeName": self.sort_key, "KeyType": "RANGE"})
        return schema

    def attribute_definitions(self) -> list[dict[str, str]]:
        out = [{"AttributeName": self.partition_key, "AttributeType": self.partition_type}]
        if self.sort_key:
            out.append({"AttributeName": self.sort_key, "AttributeType": self.sort_type or "S"})
        return out

    def stream_specification(self) -> dict[str, Any]:
        if self.stream_view_type:
            return {"StreamEnabled": True, "StreamViewType": self.stream_view_type}
        return {"StreamEnabled": False}

    def create_arguments(self) -> dict[str, Any]:
        """DynamoDB CreateTable's arguments for this table (tags aside)."""
        out: dict[str, Any] = {"TableName": self.name, "BillingMode": "PAY_PER_REQUEST",
                               "KeySchema": self.key_schema(), "AttributeDefinitions": self.attribute_definitions()}
        if self.stream_view_type:
            out["StreamSpecification"] = self.stream_specification()
        return out


def build(ctx: BuildContext) -> None:
    """The stack's ``tables:``."""
    names = ctx.names
    for logical, table in ctx.stack.tables.items():
        ctx.check_length("table", names.table(logical), f"tables.{logical}")
        ctx.add(Table(
            logical=logical, name=names.table(logical), partition_key=table.partition_key.name,
            partition_type=table.partition_key.type, sort_key=table.sort_key.name if table.sort_key else None,
            sort_type=table.sort_key.type if table.sort_key else None, ttl_attribute=table.ttl_attribute,
            stream_view_type=table.stream_view_type))


#: What ``read`` and ``write`` of a table allow: item and query calls, on the table and its indexes.
_TABLE_ACTIONS = {
    "read": ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan",
             "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable"),
    "write": ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"),
}


def grant(policy: PolicyBuilder, grant: Grant, stack: StackArns) -> None:
    """An ``access:`` grant on a table: its item and query calls, on the table and its indexes."""
    table_arn = stack.names.table_arn(grant.target)
    policy.allow([a for action in grant.effective_actions for a in _TABLE_ACTIONS[action]],
                 [table_arn, f"{table_arn}/index/*"])


def table_properties(r: Table) -> dict[str, Any]:
    """``AWS::DynamoDB::Table``'s properties for a stack table (billed per request)."""
    properties: dict[str, Any] = {k: v for k, v in r.create_arguments().items() if k != "StreamSpecification"}
    if r.stream_view_type:  # CloudFormation's StreamSpecification has no StreamEnabled
        properties["StreamSpecification"] = {"StreamViewType": r.stream_view_type}
    if r.ttl_attribute:
        properties["TimeToLiveSpecification"] = {"AttributeName": r.ttl_attribute, "Enabled": True}
    return properties


class TableProvider(Provider):
    """The DynamoDB calls behind ``Table``."""

    resource = Table

    def _table(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self.client("dynamodb").describe_table(TableName=name)["Table"])
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise

    def lookup(self, name: str, resource: Resource | None) -> str:
        table = self._table(name)
        if table is None:
            return MISSING
        tags = self.client("dynamodb").list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags", [])
        return self.owned({t["Key"]: t["Value"] for t in tags})

    def put(self, r: Table, recorded: Recorded | None, existing: bool) -> dict[str, Any]:
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
            def text(keys: Sequence[tuple[str, str, str | None]]) -> str:
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
        deadline = time.monotonic() + self.api.wait_timeout
        delay = 0.5
        while True:
            table = self._table(name)
            if table is None:
                raise RuntimeError(f"table {name} disappeared while deploy waited for it")
            if table.get("TableStatus") == "ACTIVE":
                return table
            if time.monotonic() > deadline:
                raise RuntimeError(f"table {name} is still {table.get('TableStatus')} after "
                                   f"{self.api.wait_timeout:.0f} s")
            self.sleep(delay)
            delay = min(delay * 2, 5.0)

    def table_has_items(self, name: str) -> bool:
        try:
            return bool(self.client("dynamodb").scan(TableName=name, Limit=1, Select="COUNT").get("Count"))
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return False
            raise

    def delete(self, rec: Recorded) -> None:
        if self.table_has_items(rec.name):
            raise RuntimeError(f"table {rec.name} holds items; deploy does not delete data: empty or delete it "
                               "yourself, or run `stepkit destroy --delete-data`")
        self.drop_table(rec.name)

    def delete_with_data(self, rec: Recorded) -> None:
        self.drop_table(rec.name)

    def drop_table(self, name: str) -> None:
        """Delete the table with whatever it holds (gone already: nothing to do)."""
        try:
            self.client("dynamodb").delete_table(TableName=name)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise

    def describe(self, rec: Recorded) -> str:
        table = self._table(rec.name)
        return MISSING if table is None else str(table.get("TableStatus", "present")).lower()

    @classmethod
    def template(cls, r: Table, template: Template) -> None:
        template.add(r, "AWS::DynamoDB::Table", table_properties(r))
        template.output(r)
        if r.stream_view_type:
            template.output(r, "StreamArn")
