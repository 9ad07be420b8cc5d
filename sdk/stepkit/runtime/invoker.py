"""What invokes a Lambda function by name: the runtime itself, and whatever fronts it (the
endpoint's Lambda service resolves versions and aliases first; a local stack answers to the
deployed names too). The Step Functions Lambda integration takes any of them."""

from __future__ import annotations

from typing import Protocol

from stepkit.runtime.results import InvokeResult


class FunctionInvoker(Protocol):
    def invoke(
        self,
        name_or_arn: str,
        payload: bytes = b"",
        *,
        invocation_type: str = "RequestResponse",
        log_type: str | None = None,
        qualifier: str | None = None,
    ) -> InvokeResult:
        """Invoke as Lambda's Invoke does: ``payload`` is the event's JSON text; raises the
        runtime's ``LambdaServiceError``s for what Lambda answers with an error status."""
        ...
