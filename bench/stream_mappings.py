"""Kinesis and DynamoDB Streams event source mappings on the local endpoint: how fast records
reach a function, and how long one record takes from PutRecord to its invocation's end.

    .venv/bin/python bench/stream_mappings.py           # 4,000 Kinesis records, 1,000 items
    .venv/bin/python bench/stream_mappings.py --quick   # smoke run

Throughput: records put in PutRecords calls of 500 to a 2-shard stream (or items put one by
one into a table with a stream), a mapping with BatchSize 100; the time from the first put to
the last record processed (the pollers' own count), records per second. Latency: 30 single
records put one at a time, each waited for before the next; median and p95 of put →
processed (the count polled every millisecond).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
import zipfile
from typing import Any

from stepkit.endpoint import LocalEndpoint

ROLE = "arn:aws:iam::123456789012:role/bench"


def _function(endpoint: LocalEndpoint, name: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return None\n")
    lam = endpoint.client("lambda")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": buffer.getvalue()}, Timeout=30)
    while lam.get_function_configuration(FunctionName=name)["State"] != "Active":
        time.sleep(0.01)


def _wait(endpoint: LocalEndpoint, total: int, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while endpoint.stream_pollers.counts["records_processed"] < total:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{endpoint.stream_pollers.counts['records_processed']} of {total} processed")
        time.sleep(0.001)


def kinesis(endpoint: LocalEndpoint, records: int) -> dict[str, Any]:
    client = endpoint.client("kinesis")
    client.create_stream(StreamName="bench", ShardCount=2)
    arn = client.describe_stream(StreamName="bench")["StreamDescription"]["StreamARN"]
    _function(endpoint, "consume")
    endpoint.client("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName="consume",
                                                          StartingPosition="LATEST", BatchSize=100)
    began = time.perf_counter()
    for start in range(0, records, 500):
        client.put_records(StreamARN=arn, Records=[{"Data": json.dumps({"n": n}).encode(), "PartitionKey": str(n)}
                                                   for n in range(start, min(start + 500, records))])
    _wait(endpoint, records)
    seconds = time.perf_counter() - began
    latencies = []
    for n in range(30):
        done = endpoint.stream_pollers.counts["records_processed"]
        put = time.perf_counter()
        client.put_record(StreamARN=arn, Data=b"{}", PartitionKey=f"l{n}")
        _wait(endpoint, done + 1)
        latencies.append((time.perf_counter() - put) * 1000)
    return {"records": records, "seconds": round(seconds, 2), "records_per_s": round(records / seconds),
            "latency_ms_p50": round(statistics.median(latencies), 1),
            "latency_ms_p95": round(sorted(latencies)[int(len(latencies) * 0.95) - 1], 1)}


def dynamodb(endpoint: LocalEndpoint, items: int) -> dict[str, Any]:
    client = endpoint.client("dynamodb")
    stream = client.create_table(
        TableName="bench", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})["TableDescription"][
        "LatestStreamArn"]
    endpoint.client("lambda").create_event_source_mapping(EventSourceArn=stream, FunctionName="consume",
                                                          StartingPosition="LATEST", BatchSize=100)
    before = endpoint.stream_pollers.counts["records_processed"]
    began = time.perf_counter()
    for n in range(items):
        client.put_item(TableName="bench", Item={"id": {"S": str(n)}})
    _wait(endpoint, before + items)
    seconds = time.perf_counter() - began
    return {"items": items, "seconds": round(seconds, 2), "items_per_s": round(items / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    with LocalEndpoint() as endpoint:
        out = {"kinesis": kinesis(endpoint, 500 if args.quick else 4000),
               "dynamodb": dynamodb(endpoint, 100 if args.quick else 1000)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
