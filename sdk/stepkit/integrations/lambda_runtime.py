"""Lambda Task states run by stepkit's local runtime (real worker processes).

Both forms reach it: a plain function ARN (the result is the function's payload) and
``arn:aws:states:::lambda:invoke`` (the result is Lambda's response envelope). Failures
carry Lambda's names so Retry and Catch behave as on AWS.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from stepkit.asl.errors import StatesError
from stepkit.engine.tasks import TaskInvocation
from stepkit.integrations.lambda_response import function_failure, invoke_envelope, service_failure
from stepkit.runtime import FunctionInvoker, FunctionNotFound, JsonPayload, LambdaServiceError


class LambdaRuntimeIntegration:
    def __init__(self, runtime: FunctionInvoker) -> None:
        self.runtime = runtime

    def __call__(self, invocation: TaskInvocation) -> Any:
        resource = invocation.resource
        if resource.is_lambda_function:
            name, payload, invocation_type, qualifier = resource.arn, invocation.parameters, "RequestResponse", None
        else:
            params = invocation.parameters if isinstance(invocation.parameters, dict) else {}
            if "FunctionName" not in params:
                raise StatesError(
                    "States.Runtime",
                    "The Parameters of a lambda:invoke task must include FunctionName.",
                )
            name = str(params["FunctionName"])
            payload = params.get("Payload")
            invocation_type = params.get("InvocationType", "RequestResponse")
            qualifier = params.get("Qualifier")
        body = JsonPayload.of(payload) if payload is not None else JsonPayload(b"{}")
        try:
            result = self.runtime.invoke(name, body, invocation_type=invocation_type, qualifier=qualifier)
        except LambdaServiceError as e:
            message = e.message
            if isinstance(e, FunctionNotFound) and message.count(":") == 7:  # AWS names $LATEST
                message += ":$LATEST"
            raise service_failure(e.error_code, message, e.status_code, str(uuid.uuid4())) from None
        if result.function_error:
            raise function_failure(result.payload, result.error_type)
        value = json.loads(result.payload) if result.payload else None
        if resource.is_lambda_function:
            return value
        if invocation_type != "RequestResponse":
            return {"Payload": "", "StatusCode": result.status_code}
        return invoke_envelope(value, result.request_id, len(result.payload), result.executed_version)
