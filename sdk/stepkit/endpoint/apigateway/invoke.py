"""Running an integration's Lambda function through the endpoint's Lambda service, with API
Gateway's integration timeout and its answers to a failing function."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from stepkit.endpoint.apigateway.wire import GatewayError, integration_failure
from stepkit.runtime import InvokeResult, LambdaServiceError

log = logging.getLogger(__name__)

_FUNCTION_IN_URI = re.compile(r":lambda:path/\d{4}-\d{2}-\d{2}/functions/(?P<fn>.+?)/invocations$")
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.(?P<name>[A-Za-z0-9_]+)\}")

Invoke = Callable[[str, bytes], InvokeResult]


def function_of(uri: str, stage_variables: dict[str, str]) -> str:
    """The function an integration URI names (an API Gateway invocation URI or, for HTTP APIs,
    the function's ARN itself), with ``${stageVariables.x}`` filled in."""
    uri = _STAGE_VARIABLE.sub(lambda m: stage_variables.get(m["name"], ""), uri or "")
    m = _FUNCTION_IN_URI.search(uri)
    return m["fn"] if m else uri


class Invoker:
    """Invokes functions on a pool of threads so that a request can stop waiting at the
    integration timeout (the function goes on, as on AWS)."""

    def __init__(self, invoke: Invoke, workers: int = 64) -> None:
        self._invoke = invoke
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="apigw-invoke")
        self._closed = threading.Event()

    def __call__(self, function: str, event: dict[str, Any], timeout_s: float,
                 timeout_error: GatewayError) -> tuple[bytes, InvokeResult]:
        payload = json.dumps(event).encode()
        began = time.monotonic()
        future = self._pool.submit(self._invoke, function, payload)
        try:
            result = future.result(timeout=timeout_s)
        except FutureTimeout:
            log.info("integration with %s timed out after %.1f s", function, time.monotonic() - began)
            raise timeout_error from None
        except LambdaServiceError as exc:
            log.info("integration with %s failed: %s %s", function, exc.error_code, exc.message)
            raise integration_failure() from None
        return result.payload, result

    def close(self) -> None:
        self._closed.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
