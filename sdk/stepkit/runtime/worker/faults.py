"""Errors raised by the runtime itself, named and worded as Lambda's Python runtime does."""

from __future__ import annotations

import decimal
import json
import traceback
from types import TracebackType
from typing import Any

MARSHAL_ERROR = "Runtime.MarshalError"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"


class Fault(Exception):
    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


def make_error(
    message: str | None, error_type: str | None, trace: list[str] | None, request_id: str | None = None
) -> dict[str, Any]:
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": trace or [],
    }


def error_from_exception(
    exc: BaseException, tb: TracebackType | None, request_id: str | None = None
) -> dict[str, Any]:
    """Lambda's payload for an exception a handler raised: frames of the runtime are dropped."""
    frames = traceback.extract_tb(tb)
    for index, frame in enumerate(frames):
        if "/bootstrap.py" not in frame.filename:
            frames = traceback.StackSummary.from_list(frames[index:])
            break
    return make_error(str(exc), type(exc).__name__, traceback.format_list(frames), request_id)


def _default(value: object) -> object:
    # The runtime's simplejson writes Decimals as numbers (DynamoDB items are full of them).
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_encoder = json.JSONEncoder(default=_default)


def marshal(result: object) -> bytes:
    """The response body; bytes pass through as Lambda passes them."""
    if isinstance(result, bytes):
        return result
    try:
        return _encoder.encode(result).encode()
    except Exception as exc:
        raise Fault(MARSHAL_ERROR, f"Unable to marshal response: {exc}") from None
