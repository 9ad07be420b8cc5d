"""``stepkit ui``: the viewer served on its own port for a Step Functions endpoint elsewhere
(a ``stepkit up`` on another port or machine, LocalStack), asked through boto3.

``RemoteStepFunctions`` answers the few operations the viewer calls, with the local
service's signatures (``Operation(params, ctx)``), by calling the endpoint; its errors
become the same ``AwsError`` the local service raises. The server answers only the
viewer's paths (``/`` redirects there), behind the same request guard as the endpoint:
loopback hosts, its own origin, actions only with its token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stepkit.endpoint.errors import AwsError
from stepkit.endpoint.guard import UI_PREFIX, RequestGuard

_OPERATIONS = {
    "ListStateMachines": "list_state_machines", "ListExecutions": "list_executions",
    "DescribeExecution": "describe_execution", "DescribeStateMachineForExecution":
    "describe_state_machine_for_execution", "ListMapRuns": "list_map_runs", "DescribeMapRun": "describe_map_run",
    "StopExecution": "stop_execution", "RedriveExecution": "redrive_execution",
}


class RemoteStepFunctions:
    """The viewer's view of a Step Functions endpoint reached through ``client`` (boto3)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = getattr(self.client, method)(**params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise AwsError(str(error.get("Code", "ServiceError")), str(error.get("Message", ""))) from None
        except BotoCoreError as exc:  # the endpoint is down or unreachable
            raise AwsError("EndpointUnreachable", str(exc)) from None
        answer.pop("ResponseMetadata", None)
        return answer

    def __getattr__(self, operation: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        method = _OPERATIONS.get(operation)
        if method is None:
            raise AttributeError(operation)
        return lambda params, ctx: self._call(method, params)

    def execution_events(self, arn: str, include_data: bool = True) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        params: dict[str, Any] = {"executionArn": arn, "maxResults": 1000, "includeExecutionData": include_data}
        while True:
            page = self._call("get_execution_history", params)
            events += page["events"]
            if not page.get("nextToken"):
                return events
            params["nextToken"] = page["nextToken"]


@dataclass
class RemoteEndpoint:
    """What the viewer needs of an endpoint: its Step Functions, its guard, boto3 clients."""

    stepfunctions: RemoteStepFunctions
    guard: RequestGuard
    make_client: Callable[[str], Any]

    def client(self, service: str) -> Any:
        return self.make_client(service)


def viewer_server_app(viewer: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """``viewer`` at ``/_stepkit/ui/``; ``/`` redirects there; anything else is 404."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path.startswith(UI_PREFIX):
            return viewer(environ, start_response)
        if path in ("/", UI_PREFIX.rstrip("/")):
            start_response("302 Found", [("Location", UI_PREFIX), ("Content-Length", "0")])
            return [b""]
        body = b"Not found: the stepkit viewer is at /_stepkit/ui/\n"
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    return app
