"""What invokes a Lambda function by name: the runtime itself, and whatever fronts it (the
endpoint's Lambda service resolves versions and aliases first; a local stack answers to the
deployed names too). The Step Functions Lambda integration takes any of them."""

from __future__ import annotations

import json
from typing import Any, Protocol

from stepkit.runtime.results import InvokeResult


class JsonPayload(bytes):
    """An event's JSON text made by ``json.dumps`` from a value in hand (a Task's
    parameters): it is JSON already, so the runtime does not parse it to check it; the
    function's worker is the only one that parses it."""

    @classmethod
    def of(cls, value: Any) -> JsonPayload:
        return cls(json.dumps(value, separators=(",", ":")).encode())


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
        """Invoke as Lambda's Invoke does: ``payload`` is the event's JSON text (checked to be
        JSON unless it is a :class:`JsonPayload`); raises the
        runtime's ``LambdaServiceError``s for what Lambda answers with an error status."""
        ...
