"""What the pipelines' Lambda Task states share: how they call a function of the stack, retry
its transient errors, keep fields of its answer and fail with a caught error."""

from __future__ import annotations

from typing import Any

from stepkit import flow

#: The optimized integration: the result is Lambda's response, the function's answer its Payload.
INVOKE = "arn:aws:states:::lambda:invoke"

#: Lambda's own transient failures (not the function's), retried as AWS recommends, with jitter.
TRANSIENT = flow.retry(
    error_equals=[
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
        "Lambda.ClientExecutionTimeoutException",
    ],
    interval_seconds=2,
    max_attempts=4,
    backoff_rate=2.0,
    max_delay_seconds=30,
    jitter_strategy="FULL",
)


def invoke(function: str, payload: dict[str, Any] | str) -> dict[str, Any]:
    """The Parameters calling the stack's function ``function`` (CamelCase: ``SelectModel``) with
    ``payload``: a template, or a path whose value is the whole payload."""
    key = "Payload.$" if isinstance(payload, str) else "Payload"
    return {"FunctionName": "${" + function + "FunctionArn}", key: payload}


def answer(*fields: str) -> dict[str, str]:
    """A ResultSelector keeping ``fields`` of the function's answer."""
    return {f"{field}.$": f"$.Payload.{field}" for field in fields}


def on_error(next: str) -> list[dict[str, Any]]:
    """Catch everything into ``$.error`` and go to ``next``."""
    return [flow.catch(error_equals=["States.ALL"], result_path="$.error", next=next)]


def fail_with_error(states: flow.States, name: str, comment: str = flow.UNSET) -> None:
    """A Fail state reporting the error caught into ``$.error``."""
    states.fail(name, comment=comment, error_path="$.error.Error", cause_path="$.error.Cause")
