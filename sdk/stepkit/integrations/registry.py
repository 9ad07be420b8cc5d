"""The integration registry: resource ARN (or pattern) -> handler.

The engine knows only this interface. Handlers take a ``TaskInvocation`` and return the
task's result (a JSON value) or raise ``StatesError`` with the error AWS would record.
"""

from __future__ import annotations

import fnmatch
import json
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from stepkit.asl.errors import StatesError
from stepkit.integrations.arns import Resource, function_name_from
from stepkit.integrations.lambda_response import invoke_envelope


@dataclass(slots=True)
class TaskInvocation:
    """Everything a handler may need to run one Task attempt."""

    resource: Resource
    parameters: Any
    state_name: str
    execution_arn: str
    task_token: str | None = None
    timeout_seconds: float | None = None
    heartbeat_seconds: float | None = None
    credentials: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class Integration(Protocol):
    def __call__(self, invocation: TaskInvocation) -> Any: ...


def _lambda_not_found(name: str, region: str) -> StatesError:
    arn = f"arn:aws:lambda:{region}:123456789012:function:{name}:$LATEST"
    return StatesError(
        "Lambda.ResourceNotFoundException",
        f"Function not found: {arn} (Service: AWSLambda; Status Code: 404; "
        "Error Code: ResourceNotFoundException; Request ID: 00000000-0000-0000-0000-000000000000; Proxy: null)",
    )


class IntegrationRegistry:
    """Resources resolved in order: exact ARN, glob pattern, then local Lambda functions."""

    def __init__(self) -> None:
        self._exact: dict[str, Integration] = {}
        self._patterns: list[tuple[str, Integration]] = []
        self._functions: dict[str, Callable[[Any], Any]] = {}
        self._lambda_backend: Integration | None = None
        self._client_factory: Callable[..., Any] | None = None
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._clients_lock = threading.Lock()

    # -- AWS clients (Distributed Map's ItemReader and ResultWriter use S3) --------------------
    def set_client_factory(self, factory: Callable[..., Any] | None) -> None:
        """Make ``client()`` call ``factory(service_name, region_name=...)`` (None: boto3's
        default); tests and the local endpoint point S3 at their own server this way."""
        with self._clients_lock:
            self._client_factory = factory
            self._clients.clear()

    def client(self, service_name: str, region_name: str | None = None) -> Any:
        """A boto3 client for ``service_name``, made once per service and region and shared
        (boto3 clients are thread-safe). By default ``boto3.client(service, region_name=...)``,
        which honours ``AWS_ENDPOINT_URL`` and the usual credential chain."""
        region = region_name or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        key = (service_name, region)
        with self._clients_lock:
            client = self._clients.get(key)
            if client is None:
                if self._client_factory is not None:
                    client = self._client_factory(service_name, region_name=region)
                else:
                    import boto3

                    client = boto3.client(service_name, region_name=region)
                self._clients[key] = client
            return client

    def register(self, resource: str, handler: Integration) -> None:
        """Handle a resource ARN, or every ARN matching a glob pattern (``*`` wildcards)."""
        if any(ch in resource for ch in "*?["):
            self._patterns.append((resource, handler))
        else:
            self._exact[resource] = handler

    def register_function(self, name: str, fn: Callable[[Any], Any]) -> None:
        """A Python callable standing in for the Lambda function ``name`` (name or ARN).

        It receives the event (the payload) and returns the function's result; both the
        plain function ARN form and ``arn:aws:states:::lambda:invoke`` reach it.
        """
        self._functions[function_name_from(name)] = fn

    def set_lambda_backend(self, backend: Integration) -> None:
        """What runs Lambda functions that no callable stands in for (the local runtime)."""
        self._lambda_backend = backend

    def resolve(self, resource: Resource) -> Integration:
        handler = self._exact.get(resource.arn)
        if handler is not None:
            return handler
        for pattern, candidate in self._patterns:
            if fnmatch.fnmatchcase(resource.arn, pattern):
                return candidate
        if resource.is_lambda_function or (resource.resource_type == "lambda" and resource.action == "invoke"):
            return self._invoke_function
        raise StatesError(
            "States.Runtime",
            f"No integration is available for the resource '{resource.arn}': register a handler "
            "for it, or mock it with a MockConfigFile.",
        )

    def _invoke_function(self, invocation: TaskInvocation) -> Any:
        resource = invocation.resource
        if resource.is_lambda_function:
            name, payload = resource.action, invocation.parameters
        else:
            params = invocation.parameters if isinstance(invocation.parameters, dict) else {}
            name = function_name_from(str(params.get("FunctionName", "")))
            payload = params.get("Payload")
        fn = self._functions.get(name)
        if fn is None:
            if self._lambda_backend is not None:
                return self._lambda_backend(invocation)
            raise _lambda_not_found(name, resource.region)
        result = fn(payload)
        if resource.is_lambda_function:
            return result
        size = len(json.dumps(result, separators=(",", ":")))
        return invoke_envelope(result, str(uuid.uuid4()), size)
