"""API Gateway's data plane (REST APIs, HTTP APIs) and Lambda function URLs in the local
endpoint; moto keeps API Gateway's control plane."""

from stepkit.endpoint.apigateway.service import ApiGateway
from stepkit.endpoint.apigateway.wire import is_user_api_request

__all__ = ["ApiGateway", "is_user_api_request"]
