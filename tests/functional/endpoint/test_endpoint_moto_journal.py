"""Replaying moto's journal gives the state the clients saw: same SQS message ids, receipt
handles, receive counts and timestamps; same S3 version ids, ETags, LastModified and bodies;
same ids and dates everywhere else. The whole model state of every service used is compared
(not a few fields), from the journal alone, from a fork-taken snapshot plus the journal
after it, and from the snapshot taken at a clean stop."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.core.base_backend import BackendDict

from stepkit.endpoint import LocalEndpoint
from stepkit.endpoint.moto_backend import MotoBackend

ACCOUNT = "123456789012"
SERVICES = ("s3", "sqs", "sns", "events", "dynamodb", "logs", "iam", "secretsmanager")
_SKIP = {"lock", "_value_buffer", "_url_module", "urls", "url_paths"}


def _plain(value: Any, seen: set[int], depth: int = 0) -> Any:
    """A model as plain data, deep (cycles and locks left out)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return hashlib.md5(value).hexdigest()
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if depth > 12 or id(value) in seen or (callable(value) and not hasattr(value, "__dict__")):
        return "..."
    seen = seen | {id(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v, seen, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_plain(v, seen, depth + 1) for v in value]
        return sorted(items, key=json.dumps) if isinstance(value, set | frozenset) else items
    if type(value).__name__ == "FakeKey":
        fields = {k: _plain(v, seen, depth + 1) for k, v in vars(value).items() if k not in _SKIP}
        closed = value._value_buffer.closed
        return {**fields, "body": "closed" if closed else hashlib.md5(value.value).hexdigest()}
    if hasattr(value, "__dict__"):
        return {k: _plain(v, seen, depth + 1) for k, v in vars(value).items() if k not in _SKIP}
    return repr(type(value))


def observe() -> dict[str, Any]:
    state: dict[str, Any] = {}
    for bd in BackendDict._instances:
        if bd.service_name in SERVICES and ACCOUNT in bd:
            state[bd.service_name] = _plain(dict(bd[ACCOUNT]), set())
    return state


@pytest.fixture
def clean_moto() -> Iterator[None]:
    BackendDict.reset()
    yield
    BackendDict.reset()


def _changes(endpoint: LocalEndpoint, round_: int) -> None:
    s3, sqs, sns = (endpoint.client(s) for s in ("s3", "sqs", "sns"))
    bucket = f"journal-{round_}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    queue = sqs.create_queue(QueueName=f"journal-{round_}", Attributes={"VisibilityTimeout": "600"})["QueueUrl"]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [{
        "QueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:journal-{round_}", "Events": ["s3:ObjectCreated:*"]}]})
    for i in range(4):  # small bodies pickled with the model, large ones stored as blob files
        s3.put_object(Bucket=bucket, Key="same/key", Body=os.urandom(100 if i % 2 else 40_000))
    upload = s3.create_multipart_upload(Bucket=bucket, Key="multi")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="multi", UploadId=upload, PartNumber=1, Body=os.urandom(5 * 2**20))
    s3.complete_multipart_upload(Bucket=bucket, Key="multi", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    s3.create_multipart_upload(Bucket=bucket, Key="pending")
    s3.delete_object(Bucket=bucket, Key="same/key")
    threads = [threading.Thread(target=sqs.send_message, kwargs={"QueueUrl": queue, "MessageBody": f"m{i}"})
               for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=3)
    topic = sns.create_topic(Name=f"journal-{round_}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:us-east-1:{ACCOUNT}:journal-{round_}")
    sns.publish(TopicArn=topic, Message="published")
    events = endpoint.client("events")
    events.put_rule(Name=f"journal-{round_}", EventPattern=json.dumps({"source": ["app"]}))
    events.put_targets(Rule=f"journal-{round_}", Targets=[
        {"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:journal-{round_}"}])
    events.put_events(Entries=[{"Source": "app", "DetailType": "t", "Detail": "{}"}])
    dynamodb = endpoint.client("dynamodb")
    dynamodb.create_table(TableName=f"journal-{round_}", BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    dynamodb.put_item(TableName=f"journal-{round_}", Item={"k": {"S": "v"}})
    endpoint._write_logs(f"journal-{round_}", "a log line\nanother")
    iam = endpoint.client("iam")
    iam.create_user(UserName=f"journal-{round_}")
    iam.create_access_key(UserName=f"journal-{round_}")
    endpoint.client("secretsmanager").create_secret(Name=f"journal-{round_}", SecretString="s")


def _restored(state_dir: Path) -> dict[str, Any]:
    BackendDict.reset()
    backend = MotoBackend(state_dir / "moto.pickle")
    backend.restore(ACCOUNT)
    try:
        return observe()
    finally:
        backend.journal.close()  # type: ignore[union-attr]


@pytest.mark.slow
def test_replay_gives_the_state_clients_saw(tmp_path: Path, clean_moto: None) -> None:
    state = tmp_path / "state"
    with LocalEndpoint(state_dir=state) as endpoint:
        _changes(endpoint, 1)
        endpoint.moto.take_snapshot()  # a forked child pickles; the journal it covers is dropped
        _changes(endpoint, 2)
        with endpoint.moto.direct():
            live = observe()
        shutil.copytree(state, tmp_path / "crashed")  # what a kill -9 would leave behind
    assert endpoint.moto.pauses and endpoint.moto.replayed == 0
    assert (tmp_path / "crashed" / "moto.pickle").exists()
    assert live["sqs"] and live["s3"]

    from_journal = _restored(tmp_path / "crashed")
    assert from_journal == live
    from_clean_stop = _restored(state)
    assert from_clean_stop == live
