"""A Kinesis event source mapping survives ``kill -9``: the endpoint runs in a subprocess, is
killed while the mapping works through a stream, and started again on the same state dir; the
mapping goes on from its checkpoint: every record is delivered, and only the batch that was
in flight at the kill can be delivered twice (as Lambda, too, delivers at least once)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from endpoint_helpers import ROLE, EndpointProcess, eventually, logged_events, make_client, wait_active, zip_code

SLOW = """
import base64, json, time
def handler(event, context):
    time.sleep(0.2)
    print('EVENT', json.dumps([json.loads(base64.b64decode(r['kinesis']['data']))['n'] for r in event['Records']]))
"""
RECORDS, BATCH = 40, 5


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EndpointProcess]:
    server = EndpointProcess(tmp_path / "state")
    yield server
    server.kill()


def _delivered(url: str) -> list[int]:
    return [n for batch in logged_events(make_client(url, "logs"), "consume") for n in batch]


@pytest.mark.slow
def test_kinesis_mapping_goes_on_from_its_checkpoint_after_kill_nine(server: EndpointProcess) -> None:
    url = server.start()["url"]
    kinesis, lam = make_client(url, "kinesis"), make_client(url, "lambda")
    kinesis.create_stream(StreamName="durable", ShardCount=1)
    arn = kinesis.describe_stream(StreamName="durable")["StreamDescription"]["StreamARN"]
    for n in range(RECORDS):
        kinesis.put_record(StreamARN=arn, Data=json.dumps({"n": n}).encode(), PartitionKey="k")
    lam.create_function(FunctionName="consume", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": zip_code({"app.py": SLOW})}, Timeout=10)
    wait_active(lam, "consume")
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="consume", StartingPosition="TRIM_HORIZON",
                                    BatchSize=BATCH)
    assert eventually(lambda: len(_delivered(url)) >= 2 * BATCH)
    server.kill()

    url = server.start()["url"]
    assert eventually(lambda: len(set(_delivered(url))) == RECORDS, timeout=120)
    delivered = _delivered(url)
    assert sorted(set(delivered)) == list(range(RECORDS))
    twice = [n for n, count in Counter(delivered).items() if count > 1]
    assert len(twice) <= BATCH, twice  # at most the batch in flight at the kill
    # in order per shard: each delivery of a record comes after the records before it
    first = {n: delivered.index(n) for n in range(RECORDS)}
    assert [first[n] for n in range(RECORDS)] == sorted(first[n] for n in range(RECORDS))
