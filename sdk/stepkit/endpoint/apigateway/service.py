"""The data plane of API Gateway (and of Lambda function URLs) as one WSGI app of the endpoint.

``ApiGateway.handles(environ)`` tells the endpoint's router which requests are calls to a
user's API (see ``wire.target``); everything about them is answered here, never by moto.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from stepkit.endpoint.apigateway import httpapi, rest
from stepkit.endpoint.apigateway.authorizers import AuthorizerConfig, Authorizers
from stepkit.endpoint.apigateway.invoke import Invoke, Invoker, function_of
from stepkit.endpoint.apigateway.wire import (
    GatewayError,
    GatewayTarget,
    Request,
    error_response,
    integration_failure,
    media_type_matches,
    read_request,
    start,
    target,
)

log = logging.getLogger(__name__)


class _Buckets:
    """Token buckets of the stages' throttling settings (rate per second, burst)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[tuple[str, ...], tuple[float, float]] = {}

    def take(self, key: tuple[str, ...], rate: float, burst: float) -> bool:
        now = time.monotonic()
        with self._lock:
            tokens, then = self._state.get(key, (burst, now))
            tokens = min(burst, tokens + (now - then) * rate)
            allowed = tokens >= 1
            self._state[key] = (tokens - 1 if allowed else tokens, now)
        return allowed


def _identity_values(request: Request, route: rest.RestRoute, context: dict[str, Any]) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for name, value in request.headers:
        values[f"method.request.header.{name.lower()}"] = value
    for name, value in request.query:
        values[f"method.request.querystring.{name}"] = value
    for name, value in route.stage_variables.items():
        values[f"stageVariables.{name}"] = value
    for name, value in context.items():
        if isinstance(value, str):
            values[f"context.{name}"] = value
    return values


class ApiGateway:
    """REST APIs, HTTP APIs and function URLs, their functions run by ``invoke``
    (``LambdaService.invoke``). ``lock`` is moto's: models are read under it."""

    def __init__(self, invoke: Invoke, lock: Any, *, function_urls: Callable[[str], Any] | None = None) -> None:
        from stepkit.endpoint.apigateway import control

        control.install()  # moto imports Swagger 2.0 definitions as AWS does
        self.invoker = Invoker(invoke)
        self.authorizers = Authorizers(self.invoker)
        self.lock = lock
        self.function_urls = function_urls
        self.buckets = _Buckets()

    @staticmethod
    def handles(environ: dict[str, Any]) -> bool:
        return target(environ) is not None

    def close(self) -> None:
        self.invoker.close()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        where = target(environ)
        assert where is not None
        request_id = str(uuid.uuid4())
        rest_api = True
        try:
            if where.kind == "function-url":
                rest_api = False
                return httpapi.serve_function_url(self, where, environ, start_response)
            with self.lock:
                found = rest.find_rest_api(where.api_id)
                http_found = None if found is not None else httpapi.find_http_api(where.api_id)
            if found is not None:
                return self._rest(found, where, environ, start_response)
            if http_found is not None:
                rest_api = False
                return httpapi.serve(self, http_found, where, environ, start_response)
            rest_api = False
            raise GatewayError(404, "Not Found")
        except GatewayError as err:
            return error_response(start_response, err, request_id, rest_api)
        except Exception:  # never a traceback to the caller; the endpoint stays up
            log.exception("API Gateway request failed")
            return error_response(start_response, integration_failure("Internal server error", 500),
                                  request_id, rest_api)

    # -- REST APIs ----------------------------------------------------------------------------
    def _rest(self, found: tuple[Any, str, str], where: GatewayTarget, environ: dict[str, Any], start_response: Any
              ) -> list[bytes]:
        stage, path = where.stage, where.path
        if stage is None:  # the host form: the stage is the path's first part
            parts = path.split("/", 2)  # the path starts with "/": at least two parts
            stage, path = unquote(parts[1]), "/" + (parts[2] if len(parts) > 2 else "")
            if not stage:
                raise rest.forbidden()
        request = read_request(environ, path)
        try:
            route = self._rest_route(found, stage, request)
            status, headers, body = self._rest_answer(route, request, environ.get("HTTP_HOST", ""))
        except GatewayError as err:
            return error_response(start_response, err, request.request_id, True)
        headers += [("x-amzn-RequestId", request.request_id), ("x-amz-apigw-id", request.request_id[:16]),
                    ("X-Amzn-Trace-Id", request.header("x-amzn-trace-id") or "")]
        return start(start_response, status, headers, body)

    def _rest_route(self, found: tuple[Any, str, str], stage: str, request: Request) -> rest.RestRoute:
        api, account, region = found
        with self.lock:
            route = rest.resolve(api, account, region, stage, request.raw_path, request.method)
        if route.throttle is not None:
            rate, burst = route.throttle
            if not self.buckets.take((route.api_id, stage, route.resource_id, request.method), rate, burst):
                raise GatewayError(429, "Too Many Requests", "TooManyRequestsException")
        return route

    def _rest_answer(self, route: rest.RestRoute, request: Request, host: str
                     ) -> tuple[int, list[tuple[str, str]], bytes]:
        host = host.rsplit(":", 1)[0] or f"{route.api_id}.execute-api.localhost.localstack.cloud"
        context = rest.request_context(route, request, host)
        if route.authorizer is not None:
            context["authorizer"] = self._authorize(route, route.authorizer, request, context)
        kind = route.integration["type"]
        if kind == "MOCK":
            return rest.mock_response(route)
        if kind != "AWS_PROXY":
            log.warning("REST API %s: %s integrations are not served by stepkit", route.api_id, kind)
            raise integration_failure("Internal server error", 500)
        event = rest.proxy_event(route, request, context)
        function = function_of(route.integration["uri"], route.stage_variables)
        timeout = integration_failure("Endpoint request timed out", 504)
        payload, result = self.invoker(function, event, route.integration["timeout_ms"] / 1000, timeout)
        if result.function_error:
            log.info("REST API %s: the function %s failed: %.300r", route.api_id, function, payload)
            raise integration_failure()
        accepts_binary = media_type_matches(request.header("accept"), route.binary_media_types)
        return rest.proxy_response(payload, accepts_binary)

    def _authorize(self, route: rest.RestRoute, config: AuthorizerConfig, request: Request,
                   context: dict[str, Any]) -> dict[str, Any]:
        method_arn = (f"arn:aws:execute-api:{route.region}:{route.account}:{route.api_id}/{route.stage}/"
                      f"{request.method}{request.path}")
        identity = self.authorizers.identity(config, _identity_values(request, route, context))
        if config.type == "TOKEN":
            event: dict[str, Any] = {"type": "TOKEN", "authorizationToken": identity, "methodArn": method_arn}
        else:
            event = {"type": "REQUEST", "methodArn": method_arn, **rest.request_parts(route, request),
                     "requestContext": context}
        return self.authorizers.authorize(config, identity, event, method_arn, route.stage_variables)

