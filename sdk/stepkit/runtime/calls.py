"""The AWS API requests one invocation's code sent (counted in its worker by
``worker/awscalls.py``), and the log line that carries them to CloudWatch Logs.

The line (written by the local endpoint after each invocation's REPORT line; Lambda on AWS
writes none) is, on one line::

    STEPKIT_AWS_CALLS {"requestId": "<id>", "calls": [{"service": "s3", "operation": "PutObject",
                       "requests": 3, "units": 3}, {"service": "sqs", "operation": "SendMessage",
                       "requests": 2, "units": 3, "fifo": false}]}

``service`` is botocore's service id (``s3``, ``sqs``, ``dynamodb``...), ``operation`` the API
action, ``requests`` the HTTP requests sent (botocore's retries included), ``units`` what they
bill (SQS: 64 KB chunks of a send's payload; else the requests), ``fifo`` (SQS only) whether
the queue is FIFO. Its key set may grow; a reader ignores keys it does not know.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

CALLS_PREFIX = "STEPKIT_AWS_CALLS "


class AwsCall(BaseModel):
    """Requests of one service action (and queue kind) made by one invocation."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    service: str
    operation: str
    requests: int = Field(ge=0)
    units: int = Field(ge=0)
    fifo: bool | None = None


class CallsLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    request_id: str = Field(alias="requestId")
    calls: tuple[AwsCall, ...]


def calls_from_wire(value: Any) -> tuple[AwsCall, ...] | None:
    """A worker frame's ``calls``; None when it has none (the worker did not answer) or they are
    malformed."""
    if value is None:
        return None
    try:
        return tuple(AwsCall.model_validate(item) for item in value)
    except (ValidationError, TypeError):
        return None


def calls_line(request_id: str, calls: Iterable[AwsCall]) -> str:
    document = {"requestId": request_id, "calls": [c.model_dump(exclude_none=True) for c in calls]}
    return CALLS_PREFIX + json.dumps(document, separators=(",", ":")) + "\n"


def parse_calls_line(line: str) -> CallsLine | None:
    """The line's request id and calls, or None when ``line`` is not one."""
    if not line.startswith(CALLS_PREFIX):
        return None
    try:
        return CallsLine.model_validate_json(line[len(CALLS_PREFIX):].strip())
    except ValidationError:
        return None


def logs_with_calls(logs: str, request_id: str, calls: tuple[AwsCall, ...] | None) -> str:
    """An invocation's log as the local endpoint writes it to CloudWatch Logs: its calls line
    after REPORT when they are known."""
    return logs if calls is None or not logs else logs + calls_line(request_id, calls)
