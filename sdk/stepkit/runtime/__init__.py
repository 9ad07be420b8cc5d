"""Local AWS Lambda: function bundles and a runtime of warm worker processes.

>>> with LambdaRuntime.from_stack("infra/stack.yaml") as rt:
...     result = rt.invoke("train", b'{"rows": 100}')

Each function runs in its own worker processes (started with the host interpreter, the
function's folder and its own dependencies first on ``sys.path``), reused while warm, with
Lambda's context, environment, limits, errors and logs.
"""

from stepkit.runtime.async_queue import AsyncInvocation
from stepkit.runtime.clock import Sleeper
from stepkit.runtime.config import FunctionConfig
from stepkit.runtime.errors import (
    DependencyInstallError,
    FunctionNotFound,
    InvalidParameterValue,
    InvalidRequestContent,
    LambdaServiceError,
    RequestTooLarge,
    RuntimeClosed,
    TooManyRequests,
)
from stepkit.runtime.invoker import FunctionInvoker, JsonPayload
from stepkit.runtime.results import InvokeResult
from stepkit.runtime.service import LambdaRuntime

__all__ = [
    "AsyncInvocation",
    "DependencyInstallError",
    "FunctionConfig",
    "FunctionInvoker",
    "FunctionNotFound",
    "InvalidParameterValue",
    "InvalidRequestContent",
    "InvokeResult",
    "JsonPayload",
    "LambdaRuntime",
    "LambdaServiceError",
    "RequestTooLarge",
    "RuntimeClosed",
    "Sleeper",
    "TooManyRequests",
]
