"""The integration registry: resource ARN (or pattern) -> handler.

It is the engine's ``TaskResolver`` (``stepkit.engine.tasks``) for executions without mocks.
Handlers take a ``TaskInvocation`` and return the task's result (a JSON value) or raise
``StatesError`` with the error AWS would record.
"""

from __future__ import annotations

import fnmatch
import json
import uuid
from collections.abc import Callable
from typing import Any

from stepkit.asl.errors import StatesError
from stepkit.engine.tasks import Integration, TaskInvocation, TaskResource
from stepkit.integrations.arns import function_name_from
from stepkit.integrations.clients import AwsClients
from stepkit.integrations.lambda_response import invoke_envelope


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
        self.clients = AwsClients()

    def client(self, service_name: str, region_name: str | None = None) -> Any:
        """A shared boto3 client (``self.clients``; ``self.clients.set_factory`` points them
        elsewhere)."""
        return self.clients.client(service_name, region_name)

    def integration_for(self, state_name: str, resource: TaskResource) -> tuple[Integration, bool]:
        """The engine's question (``TaskResolver``): the registry mocks nothing."""
        return self.resolve(resource), False

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

    def resolve(self, resource: TaskResource) -> Integration:
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
