"""Helpers of the endpoint tests (imported by the test modules and conftest)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Callable
from email.message import Message
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROLE = "arn:aws:iam::123456789012:role/stepkit-test"
#: What a raw request needs to pass the endpoint's signature rule (any key is accepted).
SIGNATURE = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0"


def make_client(url: str, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}, read_timeout=120),
    )


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_machine(sfn: Any, definition: dict, *, name: str | None = None, type: str = "STANDARD") -> str:
    return sfn.create_state_machine(
        name=name or unique("sm"), definition=json.dumps(definition), roleArn=ROLE, type=type
    )["stateMachineArn"]


def wait_execution(sfn: Any, arn: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.02)


def run_machine(sfn: Any, definition: dict, input: Any = None, **kwargs: Any) -> dict:
    arn = create_machine(sfn, definition, **kwargs)
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({} if input is None else input))
    return wait_execution(sfn, execution["executionArn"])


def zip_code(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def create_function(lam: Any, code: str, *, name: str | None = None, **options: Any) -> str:
    """A Python function (``app.handler``) created from source text, waited until Active."""
    name = name or unique("fn")
    lam.create_function(
        FunctionName=name, Runtime="python3.11", Role=ROLE, Handler=options.pop("Handler", "app.handler"),
        Code={"ZipFile": zip_code({"app.py": code})}, **options,
    )
    wait_active(lam, name)
    return name


def wait_active(lam: Any, name: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        config = lam.get_function_configuration(FunctionName=name)
        if (config["State"], config.get("LastUpdateStatus")) == ("Active", "Successful"):
            return config
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} stayed {config['State']}")
        time.sleep(0.02)


def eventually(check: Callable[[], Any], timeout: float = 60.0, interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy (events are delivered asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def call(url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None,
         host: str | None = None) -> tuple[int, Message, bytes]:
    """An HTTP call (a user's API): status, headers (``get_all`` for repeated ones), body."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    if host:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()

class EndpointProcess:
    """``python -m stepkit.endpoint`` on a free port and a state dir, in a subprocess: to be
    killed with SIGKILL (``kill``) or stopped with SIGTERM (``stop``) and started again."""

    def __init__(self, state_dir: Path, env: dict[str, str] | None = None) -> None:
        self.state_dir = state_dir
        self.env = env or {}
        self.process: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}

    def start(self) -> dict[str, Any]:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "stepkit.endpoint", "--port", "0", "--state-dir", str(self.state_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, **self.env},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the endpoint did not start"
        self.info = json.loads(line)
        return self.info

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def new_queue(sqs: Any, **attributes: str) -> tuple[str, str]:
    """A fresh SQS queue: its URL and ARN."""
    url = sqs.create_queue(QueueName=unique("q"), Attributes=attributes)["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def drain(sqs: Any, url: str) -> list[dict]:
    """Every message waiting in a queue now (received with their attributes, then deleted)."""
    out: list[dict] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
            "Messages", [])
        if not messages:
            return out
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        out.extend(messages)


def logged_events(logs: Any, function: str, marker: str = "EVENT") -> list[Any]:
    """The JSON a function printed after ``marker`` (``print('EVENT', json.dumps(...))``), in order."""
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [json.loads(e["message"].split(marker, 1)[1]) for e in events if marker in e["message"]]
