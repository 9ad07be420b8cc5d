"""Errors of the Lambda service (raised by ``invoke``) and the error types of failed invocations.

Service errors carry the name and HTTP status AWS returns, so the local endpoint can answer
as Lambda does and the Step Functions engine can name them ``Lambda.<error_code>``.
"""

from __future__ import annotations

# errorType of invocations that the platform, not the handler, failed.
SANDBOX_TIMEDOUT = "Sandbox.Timedout"
RUNTIME_EXIT_ERROR = "Runtime.ExitError"
RUNTIME_OUT_OF_MEMORY = "Runtime.OutOfMemory"
RESPONSE_SIZE_TOO_LARGE = "Function.ResponseSizeTooLarge"

#: FunctionError of every failed invocation, as Lambda reports it.
UNHANDLED = "Unhandled"


class LambdaServiceError(Exception):
    error_code = "ServiceException"
    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FunctionNotFound(LambdaServiceError):
    error_code = "ResourceNotFoundException"
    status_code = 404


class RequestTooLarge(LambdaServiceError):
    error_code = "RequestEntityTooLargeException"
    status_code = 413


class InvalidRequestContent(LambdaServiceError):
    error_code = "InvalidRequestContentException"
    status_code = 400


class InvalidParameterValue(LambdaServiceError):
    error_code = "InvalidParameterValueException"
    status_code = 400


class TooManyRequests(LambdaServiceError):
    """Reserved concurrency 0: Lambda throttles every invocation."""

    error_code = "TooManyRequestsException"
    status_code = 429


class DependencyInstallError(LambdaServiceError):
    """pip could not install a function's ``requirements.txt`` for the local worker."""


class RuntimeClosed(LambdaServiceError):
    pass
