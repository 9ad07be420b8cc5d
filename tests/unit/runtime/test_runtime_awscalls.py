"""Counting the AWS requests a function's code sends (``worker/awscalls.py``): what one
request bills, the botocore hook on real boto3 clients (moto answering), and the
``STEPKIT_AWS_CALLS`` line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from moto import mock_aws

from stepkit.runtime.calls import AwsCall, calls_from_wire, calls_line, logs_with_calls, parse_calls_line
from stepkit.runtime.worker import awscalls

KB64 = 65_536
FIFO_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo"
STANDARD_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/q"


def test_an_sqs_send_bills_one_request_per_64_kb_chunk_of_its_payload() -> None:
    assert awscalls.billed_units("sqs", "SendMessage", {"QueueUrl": STANDARD_URL, "MessageBody": ""}) == (1, False)
    assert awscalls.billed_units("sqs", "SendMessage", {"QueueUrl": STANDARD_URL, "MessageBody": "x" * KB64}) == (
        1, False)
    assert awscalls.billed_units("sqs", "SendMessage", {"QueueUrl": STANDARD_URL,
                                                        "MessageBody": "x" * (KB64 + 1)}) == (2, False)
    assert awscalls.billed_units("sqs", "SendMessage", {"QueueUrl": STANDARD_URL,
                                                        "MessageBody": "é" * (KB64 // 2 + 1)}) == (2, False)  # bytes
    # A 256 KB payload is four requests (SQS's pricing page's example).
    assert awscalls.billed_units("sqs", "SendMessage", {"QueueUrl": FIFO_URL, "MessageBody": "x" * 4 * KB64}) == (
        4, True)


def test_attributes_count_in_the_payload_and_a_batch_is_billed_on_its_total() -> None:
    body = "x" * (KB64 - 10)
    attributes = {"colour": {"DataType": "String", "StringValue": "green"}}  # 6 + 6 + 5 bytes
    assert awscalls.message_bytes({"MessageBody": body, "MessageAttributes": attributes}) == KB64 - 10 + 17
    assert awscalls.billed_units("sqs", "SendMessage", {"QueueUrl": STANDARD_URL, "MessageBody": body,
                                                        "MessageAttributes": attributes})[0] == 2
    binary = {"blob": {"DataType": "Binary", "BinaryValue": b"\x00" * 100}}
    assert awscalls.message_bytes({"MessageBody": "", "MessageAttributes": binary}) == 4 + 6 + 100
    entries = [{"Id": str(i), "MessageBody": "x" * 30_000} for i in range(5)]  # 150,000 bytes: 3 chunks
    assert awscalls.billed_units("sqs", "SendMessageBatch", {"QueueUrl": FIFO_URL, "Entries": entries}) == (3, True)


def test_a_receive_bills_the_chunks_of_the_messages_it_answers_with() -> None:
    assert awscalls.received_units({}) == 1  # an empty receive is a request too
    assert awscalls.received_units({"Messages": [{"Body": "x" * KB64}]}) == 1
    assert awscalls.received_units({"Messages": [{"Body": "x" * KB64}, {"Body": "y"}]}) == 2


def test_other_calls_bill_one_request_each() -> None:
    assert awscalls.billed_units("sqs", "ReceiveMessage", {"QueueUrl": FIFO_URL}) == (1, True)
    assert awscalls.billed_units("sqs", "CreateQueue", {"QueueName": "jobs"}) == (1, False)
    assert awscalls.billed_units("s3", "PutObject", {"Bucket": "b", "Key": "k", "Body": b"x" * 10**6}) == (1, None)


@pytest.fixture
def session() -> Iterator[boto3.Session]:
    """A boto3 session with the worker's handlers (as the worker's patched BUILTIN_HANDLERS give
    every session), moto answering."""
    awscalls.take()
    with mock_aws():
        made = boto3.Session(region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
        for event, handler in awscalls.HANDLERS:
            made._session.register(event, handler)
        yield made
    awscalls.take()


def _calls() -> list[dict[str, Any]]:
    return awscalls.take()


def test_real_clients_calls_are_counted_per_operation(session: boto3.Session) -> None:
    s3, sqs = session.client("s3"), session.client("sqs")
    s3.create_bucket(Bucket="counted")
    for i in range(3):
        s3.put_object(Bucket="counted", Key=f"k{i}", Body=b"x")
    s3.get_object(Bucket="counted", Key="k0")
    s3.delete_object(Bucket="counted", Key="k0")
    standard = sqs.create_queue(QueueName="q")["QueueUrl"]
    fifo = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true",
                                                           "ContentBasedDeduplication": "true"})["QueueUrl"]
    sqs.send_message(QueueUrl=standard, MessageBody="small")
    sqs.send_message(QueueUrl=standard, MessageBody="x" * 70_000)
    sqs.send_message(QueueUrl=fifo, MessageBody="y", MessageGroupId="g")
    received = sqs.receive_message(QueueUrl=standard, MaxNumberOfMessages=10)["Messages"]
    assert sorted(len(m["Body"]) for m in received) == [5, 70_000]  # 70,005 bytes: two chunks
    sqs.receive_message(QueueUrl=standard)  # empty: one request still
    calls = {(c["service"], c["operation"], c.get("fifo")): (c["requests"], c["units"]) for c in _calls()}
    assert calls == {
        ("s3", "CreateBucket", None): (1, 1), ("s3", "PutObject", None): (3, 3), ("s3", "GetObject", None): (1, 1),
        ("s3", "DeleteObject", None): (1, 1), ("sqs", "CreateQueue", False): (1, 1),
        ("sqs", "CreateQueue", True): (1, 1), ("sqs", "SendMessage", False): (2, 3),
        ("sqs", "SendMessage", True): (1, 1), ("sqs", "ReceiveMessage", False): (2, 3),
    }
    assert _calls() == []  # take() starts the next invocation's count


def test_every_http_attempt_is_counted_retries_included(session: boto3.Session) -> None:
    """botocore retries a 503 (with its standard backoff): AWS bills both requests."""
    s3 = session.client("s3")
    s3.create_bucket(Bucket="counted")
    _calls()
    answered: list[int] = []

    def unavailable_once(request: Any, **_: Any) -> AWSResponse | None:
        if answered:
            return None  # moto answers the retry
        answered.append(503)
        return AWSResponse(request.url, 503, {}, _Raw(b"<Error><Code>SlowDown</Code></Error>"))

    s3.meta.events.register_first("before-send.s3.PutObject", unavailable_once)
    s3.put_object(Bucket="counted", Key="k", Body=b"x")
    assert answered == [503]
    assert _calls() == [{"service": "s3", "operation": "PutObject", "requests": 2, "units": 2}]


def test_a_stubbed_call_sends_nothing_and_counts_nothing(session: boto3.Session) -> None:
    s3 = session.client("s3")
    with Stubber(s3) as stub:
        stub.add_response("list_buckets", {"Buckets": []})
        s3.list_buckets()
    assert _calls() == []


class _Raw:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def test_install_patches_botocore_handlers_when_the_function_imports_it() -> None:
    """In a fresh interpreter, as in a worker: nothing of botocore is imported by install();
    the first session made afterwards has the handlers."""
    path = Path(awscalls.__file__)
    script = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("awscalls", {str(path)!r})
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
module.install()
assert "botocore" not in sys.modules
import boto3
session = boto3.Session(region_name="us-east-1")
handlers = [h for h in session._session._events._emitter._handlers.prefix_search("response-received.s3.PutObject")]
print(module._on_response in handlers, module.HANDLERS[0] in sys.modules["botocore.handlers"].BUILTIN_HANDLERS)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]


def test_the_calls_line_reads_back_and_bad_input_is_refused() -> None:
    calls = (AwsCall(service="s3", operation="PutObject", requests=3, units=3),
             AwsCall(service="sqs", operation="SendMessage", requests=2, units=3, fifo=False))
    line = calls_line("rid-1", calls)
    assert line == ('STEPKIT_AWS_CALLS {"requestId":"rid-1","calls":[{"service":"s3","operation":"PutObject",'
                    '"requests":3,"units":3},{"service":"sqs","operation":"SendMessage","requests":2,"units":3,'
                    '"fifo":false}]}\n')
    parsed = parse_calls_line(line.rstrip("\n"))
    assert parsed is not None and (parsed.request_id, parsed.calls) == ("rid-1", calls)
    assert parse_calls_line("REPORT RequestId: x") is None
    assert parse_calls_line('STEPKIT_AWS_CALLS {"requestId": 1}') is None
    assert calls_from_wire([{"service": "s3", "operation": "GetObject", "requests": 1, "units": 1}]) == (
        AwsCall(service="s3", operation="GetObject", requests=1, units=1),)
    assert calls_from_wire(None) is None and calls_from_wire([{"service": "s3"}]) is None
    assert logs_with_calls("START\nREPORT\n", "rid-1", calls) == "START\nREPORT\n" + line
    assert logs_with_calls("START\nREPORT\n", "rid-1", None) == "START\nREPORT\n"
