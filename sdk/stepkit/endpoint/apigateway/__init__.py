"""API Gateway's data plane (REST APIs, HTTP APIs) and Lambda function URLs in the local
endpoint; moto keeps API Gateway's control plane.

``is_user_api_request`` is light (the endpoint's guard calls it before anything is built);
``ApiGateway`` is imported when first asked for."""

from typing import Any

from stepkit.endpoint.apigateway.wire import is_user_api_request

__all__ = ["ApiGateway", "is_user_api_request"]


def __getattr__(name: str) -> Any:
    if name == "ApiGateway":
        from stepkit.endpoint.apigateway.service import ApiGateway

        return ApiGateway
    raise AttributeError(name)
