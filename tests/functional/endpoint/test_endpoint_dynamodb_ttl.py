"""DynamoDB Time to Live on a real local endpoint: a sweep deletes exactly the expired items of
TTL-enabled tables (a Number of epoch seconds in the past, at most five years back), as
DynamoDB's TTL guide describes, and the deletes are REMOVEs on the table's stream."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from stepkit.endpoint import LocalEndpoint


def _table(ddb: Any, name: str, ttl: bool) -> None:
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}],
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "OLD_IMAGE"})
    if ttl:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})


def test_a_sweep_deletes_what_dynamodb_would_expire_and_nothing_else(tmp_path: Path, local_aws_env: None) -> None:
    now = int(time.time())
    items = {
        "expired": {"N": str(now - 60)},
        "future": {"N": str(now + 3600)},
        "six-years-old": {"N": str(now - 6 * 365 * 24 * 3600)},  # more than five years back: ignored
        "a-string": {"S": str(now - 60)},  # not a Number: ignored
        "none": None,
    }
    with LocalEndpoint(state_dir=tmp_path / "endpoint") as endpoint:
        ddb = endpoint.client("dynamodb")
        _table(ddb, "with-ttl", ttl=True)
        _table(ddb, "without-ttl", ttl=False)
        for table in ("with-ttl", "without-ttl"):
            for sk, expires in items.items():
                item = {"pk": {"S": "p"}, "sk": {"S": sk}} | ({"expires": expires} if expires else {})
                ddb.put_item(TableName=table, Item=item)
        assert endpoint.ttl.sweep() == 1
        left = {t: sorted(i["sk"]["S"] for i in ddb.scan(TableName=t)["Items"]) for t in ("with-ttl", "without-ttl")}
        assert left == {"with-ttl": ["a-string", "future", "none", "six-years-old"],
                        "without-ttl": sorted(items)}
        assert endpoint.ttl.sweep() == 0

        streams = endpoint.client("dynamodbstreams")
        arn = ddb.describe_table(TableName="with-ttl")["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator)["Records"]
        removed = [r["dynamodb"]["Keys"]["sk"]["S"] for r in records if r["eventName"] == "REMOVE"]
        assert removed == ["expired"]

    with LocalEndpoint(state_dir=tmp_path / "endpoint") as again:  # the delete was journaled: it stays done
        keys = sorted(i["sk"]["S"] for i in again.client("dynamodb").scan(TableName="with-ttl")["Items"])
        assert keys == ["a-string", "future", "none", "six-years-old"]
