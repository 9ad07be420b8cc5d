"""What counting a function's AWS requests costs it (figures go to bench/README.md).

    .venv/bin/python bench/function_requests.py [--quick]

The worker's botocore hook (``stepkit.runtime.worker.awscalls``) runs two handlers per API
call. This measures a real boto3 S3 ``PutObject`` and SQS ``SendMessage`` (a 70 KB message:
the chunk arithmetic runs) whose HTTP answer a ``before-send`` handler gives at once, so the
figure is botocore's own work (validation, serialisation, signing, parsing) with and without
the hook, not the network's: per call, the median of 7 rounds, each of 1,000 calls a side
in alternating blocks of 50 (so that drift and other load fall on both sides alike). The
two handlers' own work is timed apart too.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from stepkit.runtime.worker import awscalls

ROUNDS = 7
SQS_REPLY = b'{"MD5OfMessageBody":"0","MessageId":"m"}'


class _Raw:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def _answer(request: Any, **_: Any) -> AWSResponse:
    body = SQS_REPLY if "sqs" in request.url else b""
    return AWSResponse(request.url, 200, {"ETag": '"0"'}, _Raw(body))


def clients(hooked: bool) -> tuple[Any, Any]:
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    if hooked:
        for event, handler in awscalls.HANDLERS:
            session._session.register(event, handler)
    s3, sqs = session.client("s3"), session.client("sqs")
    for client in (s3, sqs):
        client.meta.events.register_first("before-send", _answer)
    return s3, sqs


def interleaved_us(calls: dict[bool, Callable[[], Any]], total: int, block: int = 50) -> dict[bool, float]:
    """Per-call time of each side, in alternating blocks of ``block`` calls: the machine's
    drift and other load fall on both sides alike."""
    spent = {side: 0.0 for side in calls}
    for index in range(total // block):
        for side in sorted(calls, reverse=index % 2 == 1):
            call = calls[side]
            start = time.perf_counter()
            for _ in range(block):
                call()
            spent[side] += time.perf_counter() - start
    return {side: seconds / (total // block * block) * 1e6 for side, seconds in spent.items()}


def handlers_us(message: str) -> float:
    """The hook's own work per call, timed apart: both handlers, as botocore calls them."""
    params, context = {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/1/q", "MessageBody": message}, {}
    start = time.perf_counter()
    for _ in range(10_000):
        awscalls._on_parameters(params=params, context=context, event_name="before-parameter-build.sqs.SendMessage")
        awscalls._on_response(response_dict={}, context=context, event_name="response-received.sqs.SendMessage")
    elapsed = (time.perf_counter() - start) / 10_000 * 1e6
    awscalls.take()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    calls = 100 if parser.parse_args().quick else 1000
    queue = "https://sqs.us-east-1.amazonaws.com/123456789012/q"
    message = "x" * 70_000
    pairs = {hooked: clients(hooked) for hooked in (False, True)}
    puts = {h: (lambda s3=s3: s3.put_object(Bucket="b", Key="k", Body=b"x")) for h, (s3, _) in pairs.items()}
    sends = {h: (lambda sqs=sqs: sqs.send_message(QueueUrl=queue, MessageBody=message))
             for h, (_, sqs) in pairs.items()}
    results = {"PutObject": [interleaved_us(puts, calls) for _ in range(ROUNDS)],
               "SendMessage": [interleaved_us(sends, calls) for _ in range(ROUNDS)]}
    counted = {(c["service"], c["operation"]): (c["requests"], c["units"]) for c in awscalls.take()}
    handlers = handlers_us(message)
    print(f"Python {platform.python_version()}, boto3 {boto3.__version__}, {calls} calls x {ROUNDS} rounds")
    for operation in ("PutObject", "SendMessage"):
        plain = statistics.median(r[False] for r in results[operation])
        hooked = statistics.median(r[True] for r in results[operation])
        print(f"{operation:12s} without {plain:7.1f} us  with {hooked:7.1f} us  overhead {hooked - plain:5.1f} us "
              f"({(hooked - plain) / plain:+.1%})")
    print(f"the two handlers alone, per SendMessage of 70 KB: {handlers:.1f} us")
    print(f"counted: {counted}")
    sys.exit(0 if counted[("s3", "PutObject")][0] == ROUNDS * calls else 1)


if __name__ == "__main__":
    main()
