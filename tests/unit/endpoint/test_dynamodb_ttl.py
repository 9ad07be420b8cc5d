"""The TTL sweeper's rules on a table it is handed (a fake DynamoDB client): which items are
expired, and an item rewritten between the scan and its delete stays."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from stepkit.endpoint.dynamodb_ttl import IGNORED_AFTER_SECONDS, TtlSweeper

NOW = 2_000_000_000


class FakeDynamo:
    def __init__(self, items: list[dict[str, Any]], rewritten: frozenset[str] = frozenset()) -> None:
        self.items, self.rewritten = items, rewritten
        self.deleted: list[str] = []

    def get_paginator(self, name: str) -> Any:
        pages = {"list_tables": [{"TableNames": ["t"]}], "scan": [{"Items": self.items}]}[name]
        return type("Paginator", (), {"paginate": lambda self, **kw: pages})()

    def describe_time_to_live(self, TableName: str) -> dict:
        return {"TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}}

    def describe_table(self, TableName: str) -> dict:
        return {"Table": {"KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}}

    def delete_item(self, TableName: str, Key: dict, **condition: Any) -> None:
        if Key["id"]["S"] in self.rewritten:
            raise ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "failed"}}, "DeleteItem")
        self.deleted.append(Key["id"]["S"])


def _item(name: str, ttl: dict | None) -> dict:
    return {"id": {"S": name}} | ({"ttl": ttl} if ttl is not None else {})


def test_expired_means_a_number_of_seconds_in_the_past_at_most_five_years_back() -> None:
    items = [_item("a-second-ago", {"N": str(NOW - 1)}), _item("now", {"N": str(NOW)}),
             _item("five-years", {"N": str(NOW - IGNORED_AFTER_SECONDS)}),
             _item("older", {"N": str(NOW - IGNORED_AFTER_SECONDS - 1)}), _item("fraction", {"N": f"{NOW - 0.5}"}),
             _item("string", {"S": str(NOW - 1)}), _item("none", None)]
    ddb = FakeDynamo(items)
    assert TtlSweeper(lambda: ddb, now=lambda: NOW).sweep() == 3
    assert ddb.deleted == ["a-second-ago", "five-years", "fraction"]


def test_an_item_rewritten_since_the_scan_stays() -> None:
    ddb = FakeDynamo([_item("a", {"N": str(NOW - 1)}), _item("b", {"N": str(NOW - 1)})], rewritten=frozenset({"a"}))
    assert TtlSweeper(lambda: ddb, now=lambda: NOW).sweep() == 1
    assert ddb.deleted == ["b"]
