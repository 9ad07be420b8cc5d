"""No acknowledged write is lost to ``kill -9``: the endpoint runs in a subprocess while
writers put S3 objects (small ones and bodies stored as blob files) and send SQS messages;
it is killed with SIGKILL in the middle of the writes (with requests in flight and, with a
snapshot every 40 records, snapshots under way), restarted on the same state dir, and every
write that was acknowledged before the kill must be there: every object with its body and
version id, every message with its id, across every earlier round too."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from endpoint_helpers import EndpointProcess, make_client

ROUNDS = 4
KILL_AFTER = 60  # acknowledged writes per round before the kill
BUCKET = "kill-nine"


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[EndpointProcess]:
    server = EndpointProcess(tmp_path / "state", env={"STEPKIT_MOTO_SNAPSHOT_RECORDS": "40"})
    yield server
    server.kill()


class Writers:
    """Three threads writing until told to stop; what was acknowledged is recorded."""

    def __init__(self, url: str, round_: int, queue: str) -> None:
        self.url, self.round, self.queue = url, round_, queue
        self.objects: dict[str, tuple[str, str]] = {}  # key -> (md5 of the body, version id)
        self.messages: set[str] = set()
        self.acknowledged = threading.Semaphore(0)
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._objects, args=(size,)) for size in (200, 40_000)]
        self.threads.append(threading.Thread(target=self._messages))

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def _objects(self, size: int) -> None:
        s3 = make_client(self.url, "s3")
        i = 0
        while not self.stop.is_set():
            key, body = f"r{self.round}/{size}/{i}", os.urandom(size)
            try:
                version = s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]
            except Exception:  # the kill: not acknowledged
                return
            self.objects[key] = (hashlib.md5(body).hexdigest(), version)
            self.acknowledged.release()
            i += 1

    def _messages(self) -> None:
        sqs = make_client(self.url, "sqs")
        i = 0
        while not self.stop.is_set():
            try:
                message = sqs.send_message(QueueUrl=self.queue, MessageBody=f"r{self.round}/{i}")["MessageId"]
            except Exception:
                return
            self.messages.add(message)
            self.acknowledged.release()
            i += 1


def _queue_ids(sqs: Any, url: str) -> set[str]:
    """Every message id of a queue (received with a long visibility, so each comes once)."""
    ids: set[str] = set()
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600).get("Messages", [])
        if not batch:
            return ids
        ids.update(m["MessageId"] for m in batch)


@pytest.mark.slow
def test_acknowledged_objects_and_messages_survive_kill_nine(endpoint: EndpointProcess) -> None:
    url = endpoint.start()["url"]
    s3 = make_client(url, "s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    objects: dict[str, tuple[str, str]] = {}
    messages: dict[str, set[str]] = {}
    for round_ in range(ROUNDS):
        queue_name = f"kill-nine-{round_}"
        queue = make_client(url, "sqs").create_queue(QueueName=queue_name)["QueueUrl"]
        writers = Writers(url, round_, queue)
        writers.start()
        for _ in range(KILL_AFTER):
            assert writers.acknowledged.acquire(timeout=120), "the writers stalled"
        endpoint.kill()  # writes are in flight
        writers.join()
        objects.update(writers.objects)
        messages[queue_name] = writers.messages

        url = endpoint.start()["url"]
        s3, sqs = make_client(url, "s3"), make_client(url, "sqs")
        listed = {v["Key"]: v["VersionId"] for page in s3.get_paginator("list_object_versions").paginate(
            Bucket=BUCKET) for v in page.get("Versions", [])}
        lost = {key for key, (_, version) in objects.items() if listed.get(key) != version}
        assert not lost, f"round {round_}: {len(lost)} acknowledged objects lost"
        for key in list(writers.objects)[:10]:
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            assert hashlib.md5(body).hexdigest() == objects[key][0]
        ids = _queue_ids(sqs, sqs.get_queue_url(QueueName=queue_name)["QueueUrl"])
        assert messages[queue_name] <= ids, f"round {round_}: {len(messages[queue_name] - ids)} messages lost"
    for queue_name, sent in messages.items():  # the earlier rounds' messages are all still there
        attributes = sqs.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName=queue_name)["QueueUrl"],
                                              AttributeNames=["All"])["Attributes"]
        kept = int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
        assert kept >= len(sent)
