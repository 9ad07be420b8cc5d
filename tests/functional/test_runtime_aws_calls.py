"""The AWS requests a function's code sends, counted in its real worker process and returned
with each invocation (``InvokeResult.aws_calls``): those of the INIT phase with the first
invocation, none from a stubbed client, unknown for an invocation the platform stopped.

The function's S3 client answers itself (a ``before-send`` handler, as moto's in-process mock
does), so no endpoint is needed: what is counted is what botocore would have sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stepkit.runtime import FunctionConfig, LambdaRuntime
from stepkit.runtime.calls import AwsCall

CODE = '''\
import time

import boto3
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber


class Raw:
    def stream(self, **_):
        yield b""


def answer(request, **_):
    return AWSResponse(request.url, 200, {"ETag": '"0"'}, Raw())


s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
s3.meta.events.register_first("before-send", answer)
s3.put_object(Bucket="init", Key="k", Body=b"x")  # during INIT


def handler(event, context):
    for _ in range(event.get("puts", 0)):
        s3.put_object(Bucket="b", Key="k", Body=b"x")
    if event.get("stubbed"):
        with Stubber(s3) as stub:
            stub.add_response("list_buckets", {"Buckets": []})
            s3.list_buckets()
    if event.get("sleep"):
        s3.get_object(Bucket="b", Key="k")
        time.sleep(event["sleep"])
    return "ok"
'''


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[LambdaRuntime]:
    (tmp_path / "app.py").write_text(CODE)
    config = FunctionConfig(name="caller", code_dir=tmp_path, timeout=3)
    with LambdaRuntime([config]) as rt:
        yield rt


def _put(requests: int) -> AwsCall:
    return AwsCall(service="s3", operation="PutObject", requests=requests, units=requests)


def test_each_invocation_returns_its_own_calls_init_with_the_first(runtime: LambdaRuntime) -> None:
    first = runtime.invoke("caller", b'{"puts": 2}')
    assert first.function_error is None, first.payload
    assert first.aws_calls == (_put(3),)  # INIT's put, then the invocation's two
    second = runtime.invoke("caller", b'{"puts": 1, "stubbed": true}')
    assert second.aws_calls == (_put(1),)  # the stubbed call never left
    assert runtime.invoke("caller", b"{}").aws_calls == ()


def test_an_invocation_stopped_by_its_timeout_has_unknown_calls(runtime: LambdaRuntime) -> None:
    timed_out = runtime.invoke("caller", b'{"sleep": 30}')
    assert timed_out.error_type == "Sandbox.Timedout"
    assert timed_out.aws_calls is None
    fresh = runtime.invoke("caller", b'{"puts": 1}')  # a new worker: its INIT's put again
    assert fresh.aws_calls == (_put(2),)
