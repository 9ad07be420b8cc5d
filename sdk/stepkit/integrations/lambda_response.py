"""The shapes Step Functions gives Lambda results and failures."""

from __future__ import annotations

import json
import time
from email.utils import formatdate
from typing import Any

from stepkit.asl.errors import StatesError


def invoke_envelope(payload: Any, request_id: str, payload_size: int, executed_version: str = "$LATEST") -> dict:
    """What ``arn:aws:states:::lambda:invoke`` returns: Lambda's Invoke response with the
    SDK metadata AWS includes (the payload parsed from JSON)."""
    date = formatdate(time.time(), usegmt=True)
    length = str(payload_size)
    return {
        "ExecutedVersion": executed_version,
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "X-Amz-Executed-Version": [executed_version],
                "x-amzn-Remapped-Content-Length": ["0"],
                "Connection": ["keep-alive"],
                "x-amzn-RequestId": [request_id],
                "Content-Length": [length],
                "Date": [date],
                "Content-Type": ["application/json"],
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Length": length,
                "Content-Type": "application/json",
                "Date": date,
                "X-Amz-Executed-Version": executed_version,
                "x-amzn-Remapped-Content-Length": "0",
                "x-amzn-RequestId": request_id,
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }


def function_failure(error_payload: bytes, error_type: str | None) -> StatesError:
    """A function's error as Step Functions records it: the ``errorType`` as the error and
    Lambda's error document (JSON text, as the function returned it) as the cause."""
    text = error_payload.decode("utf-8", "replace")
    name = error_type
    if name is None:
        try:
            doc = json.loads(text)
            name = doc.get("errorType") if isinstance(doc, dict) else None
        except ValueError:
            name = None
    return StatesError(name or "Lambda.Unknown", text)


def service_failure(error_code: str, message: str, status_code: int, request_id: str) -> StatesError:
    """A Lambda API error (not the function's): ``Lambda.<Code>`` with the Java SDK's text."""
    return StatesError(
        f"Lambda.{error_code}",
        f"{message} (Service: AWSLambda; Status Code: {status_code}; Error Code: {error_code}; "
        f"Request ID: {request_id}; Proxy: null)",
    )
