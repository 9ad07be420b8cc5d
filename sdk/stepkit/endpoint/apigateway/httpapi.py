"""HTTP APIs (API Gateway v2, moto's control plane) and Lambda function URLs: payload format
2.0 (1.0 for integrations that ask for it), the API's CORS configuration, AWS's answers
(no route → 404 ``Not Found``; a failing function or a malformed answer → 500
``Internal Server Error``; over the integration timeout → 503 ``Service Unavailable``).

Not served: route authorizers (JWT and Lambda; such routes answer 500 and it is logged) and
non-Lambda integrations.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from stepkit.endpoint.apigateway import rest
from stepkit.endpoint.apigateway.invoke import function_of
from stepkit.endpoint.apigateway.wire import GatewayError, GatewayTarget, Request, read_request, split_path, start

if TYPE_CHECKING:
    from stepkit.endpoint.apigateway.service import ApiGateway

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_MS = 30000
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript",
               "application/x-www-form-urlencoded", "application/graphql", "application/ld+json")
_V2_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"}


def internal_error() -> GatewayError:
    return GatewayError(500, "Internal Server Error")


def find_http_api(api_id: str) -> tuple[Any, str, str] | None:
    from moto.apigatewayv2.models import apigatewayv2_backends

    for account, region, backend in rest.iter_backends(apigatewayv2_backends):
        api = backend.apis.get(api_id)
        if api is not None and (api.protocol_type or "HTTP") == "HTTP":
            return api, account, region
    return None


@dataclass
class HttpRoute:
    api_id: str
    account: str
    region: str
    stage: str
    stage_variables: dict[str, str]
    route_key: str
    path_params: dict[str, str]
    function: str
    payload_version: str
    timeout_ms: int
    cors: dict[str, Any] | None


def _route_rank(route_key: str, method: str, segments: list[str]) -> tuple[Any, ...] | None:
    if route_key == "$default":
        return ((-1,), 0, {})
    verb, _, path = route_key.partition(" ")
    if verb not in (method, "ANY"):
        return None
    found = rest.match_path(path, segments)
    if found is None:
        return None
    return (found[0], 1 if verb == method else 0, found[1])


def _camel(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """moto keeps the CORS configuration as the request spelled it."""
    if not config:
        return None
    return {k[:1].lower() + k[1:]: v for k, v in config.items()}


def resolve(found: tuple[Any, str, str], stage: str, path: str, method: str) -> HttpRoute:
    api, account, region = found
    segments = split_path(path)
    best: tuple[Any, ...] | None = None
    for route in api.routes.values():
        rank = _route_rank(route.route_key, method, segments)
        if rank is not None and (best is None or rank[:2] > best[0][:2]):
            best = (rank, route)
    if best is None:
        raise GatewayError(404, "Not Found")
    (_, _, params), route = best
    if (route.authorization_type or "NONE") != "NONE":
        log.warning("HTTP API %s: %s authorizers are not served by stepkit", api.api_id, route.authorization_type)
        raise internal_error()
    integration_id = (route.target or "").removeprefix("integrations/")
    integration = api.integrations.get(integration_id)
    if integration is None or integration.integration_type != "AWS_PROXY":
        log.warning("HTTP API %s: route %r has no Lambda proxy integration", api.api_id, route.route_key)
        raise internal_error()
    stage_model = api.stages[stage]
    variables = dict(stage_model.stage_variables or {})
    return HttpRoute(
        api_id=api.api_id, account=account, region=region, stage=stage, stage_variables=variables,
        route_key=route.route_key, path_params=params, function=function_of(integration.integration_uri, variables),
        payload_version=integration.payload_format_version or "2.0",
        timeout_ms=int(integration.timeout_in_millis or DEFAULT_TIMEOUT_MS), cors=_camel(api.cors_configuration),
    )


# -- payload format 2.0 -------------------------------------------------------------------------


def _body(request: Request) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    content_type = (request.header("content-type") or "").lower()
    if content_type.startswith(_TEXT_TYPES) or not content_type:
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode(), True


def event_v2(route: HttpRoute, request: Request, raw_path: str, domain: str) -> dict[str, Any]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        name = name.lower()
        if name == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    query: dict[str, str] = {}
    for name, value in request.query:
        query[name] = f"{query[name]},{value}" if name in query else value
    when = datetime.fromtimestamp(request.epoch_ms / 1000, UTC)
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": route.route_key, "rawPath": raw_path, "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": route.account, "apiId": route.api_id, "domainName": domain,
            "domainPrefix": domain.split(".", 1)[0],
            "http": {"method": request.method, "path": raw_path, "protocol": "HTTP/1.1",
                     "sourceIp": request.source_ip, "userAgent": request.user_agent},
            "requestId": request.request_id, "routeKey": route.route_key, "stage": route.stage,
            "time": when.strftime("%d/%b/%Y:%H:%M:%S +0000"), "timeEpoch": request.epoch_ms,
        },
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if route.path_params:
        event["pathParameters"] = route.path_params
    if route.stage_variables:
        event["stageVariables"] = route.stage_variables
    body, encoded = _body(request)
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = encoded
    return event


def response_v2(payload: bytes, failure: GatewayError | None = None) -> tuple[int, list[tuple[str, str]], bytes]:
    """Format 2.0 answers: a dict with ``statusCode`` is a proxy answer; any other JSON is the
    body of a 200 ``application/json`` answer (a string as its text)."""
    failure = failure or internal_error()
    answer = rest.parse_answer(payload, failure)
    if not (isinstance(answer, dict) and "statusCode" in answer):
        text = answer if isinstance(answer, str) else payload.decode()
        return 200, [("Content-Type", "application/json")], text.encode()
    cookies = answer.get("cookies") or []
    if set(answer) - _V2_KEYS or not isinstance(cookies, list):
        raise failure
    status, headers, body = rest.map_answer(answer, True, failure)
    headers += [("Set-Cookie", str(c)) for c in cookies]
    return status, headers, body


def event_v1(route: HttpRoute, request: Request, raw_path: str, domain: str) -> dict[str, Any]:
    """Payload format 1.0 of an HTTP API: REST's proxy event, ``version`` 1.0."""
    headers = [(k.lower(), v) for k, v in request.headers]
    single, multi = rest._last_and_all(headers)
    query, multi_query = rest._last_and_all(request.query)
    body, encoded = _body(request)
    when = datetime.fromtimestamp(request.epoch_ms / 1000, UTC)
    path_part = route.route_key.partition(" ")[2] or raw_path
    return {
        "version": "1.0", "resource": path_part, "path": unquote(raw_path), "httpMethod": request.method,
        "headers": single, "multiValueHeaders": multi, "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "requestContext": {"accountId": route.account, "apiId": route.api_id, "domainName": domain,
                           "domainPrefix": domain.split(".", 1)[0], "extendedRequestId": request.request_id,
                           "httpMethod": request.method, "path": raw_path, "protocol": "HTTP/1.1",
                           "requestId": request.request_id, "requestTime": when.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                           "requestTimeEpoch": request.epoch_ms, "resourcePath": path_part, "stage": route.stage,
                           "identity": {"sourceIp": request.source_ip, "userAgent": request.user_agent}},
        "pathParameters": route.path_params or None, "stageVariables": route.stage_variables or None,
        "body": body, "isBase64Encoded": encoded,
    }


# -- CORS ----------------------------------------------------------------------------------------


def _origin_allowed(cors: dict[str, Any], origin: str) -> str | None:
    allowed = cors.get("allowOrigins") or []
    if "*" in allowed:
        return "*" if not cors.get("allowCredentials") else origin
    return origin if origin in allowed else None


def cors_headers(cors: dict[str, Any] | None, request: Request) -> list[tuple[str, str]]:
    origin = request.header("origin")
    if not cors or not origin:
        return []
    allowed = _origin_allowed(cors, origin)
    if allowed is None:
        return []
    out = [("Access-Control-Allow-Origin", allowed)]
    if cors.get("allowCredentials"):
        out.append(("Access-Control-Allow-Credentials", "true"))
    if cors.get("exposeHeaders"):
        out.append(("Access-Control-Expose-Headers", ",".join(cors["exposeHeaders"])))
    return out


def preflight(cors: dict[str, Any] | None, request: Request) -> list[tuple[str, str]] | None:
    """The headers of API Gateway's own answer to a CORS preflight, None when it is not one."""
    if (not cors or request.method != "OPTIONS" or not request.header("origin")
            or not request.header("access-control-request-method")):
        return None
    out = cors_headers(cors, request)
    if not out:
        return []
    if cors.get("allowMethods"):
        out.append(("Access-Control-Allow-Methods", ",".join(cors["allowMethods"])))
    if cors.get("allowHeaders"):
        out.append(("Access-Control-Allow-Headers", ",".join(cors["allowHeaders"])))
    if cors.get("maxAge") is not None:
        out.append(("Access-Control-Max-Age", str(cors["maxAge"])))
    return out


# -- serving -------------------------------------------------------------------------------------


def _stage_and_path(api: Any, where: GatewayTarget) -> tuple[str, str, str]:
    """(stage, path inside the stage, rawPath as the function sees it)."""
    if where.stage is not None:
        raw = where.path if where.stage == "$default" else f"/{where.stage}{where.path}"
        return where.stage, where.path, raw
    if "$default" in api.stages:
        return "$default", where.path, where.path
    parts = where.path.split("/", 2)
    stage = unquote(parts[1]) if len(parts) > 1 else ""
    return stage, "/" + (parts[2] if len(parts) > 2 else ""), where.path


def serve(gateway: ApiGateway, found: tuple[Any, str, str], where: GatewayTarget, environ: dict[str, Any],
          start_response: Any) -> list[bytes]:
    api = found[0]
    stage, path, raw_path = _stage_and_path(api, where)
    if stage not in api.stages:
        raise GatewayError(404, "Not Found")
    request = read_request(environ, path)
    pre = preflight(_camel(api.cors_configuration), request)
    if pre is not None:
        return start(start_response, 204, [*pre, ("apigw-requestid", request.request_id)], b"")
    with gateway.lock:
        route = resolve(found, stage, path, request.method)
    host = environ.get("HTTP_HOST", "").rsplit(":", 1)[0] or f"{route.api_id}.execute-api.localhost.localstack.cloud"
    if route.payload_version == "1.0":
        event = event_v1(route, request, raw_path, host)
    else:
        event = event_v2(route, request, raw_path, host)
    timeout = GatewayError(503, "Service Unavailable")
    payload, result = gateway.invoker(route.function, event, route.timeout_ms / 1000, timeout)
    if result.function_error:
        log.info("HTTP API %s: the function %s failed: %.300r", route.api_id, route.function, payload)
        raise internal_error()
    if route.payload_version == "1.0":
        status, headers, body = rest.proxy_response(payload, True, internal_error())
    else:
        status, headers, body = response_v2(payload)
    headers += [*cors_headers(route.cors, request), ("apigw-requestid", request.request_id)]
    return start(start_response, status, headers, body)


# -- Lambda function URLs ------------------------------------------------------------------------

#: A function URL waits for the function's own timeout (at most 900 s), not for a gateway's.
_FUNCTION_URL_WAIT_S = 905.0


def _url_answer(start_response: Any, status: int, body: bytes, error_type: str | None, request_id: str
                ) -> list[bytes]:
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    return start(start_response, status, headers, body)


def serve_function_url(gateway: ApiGateway, where: GatewayTarget, environ: dict[str, Any], start_response: Any
                       ) -> list[bytes]:
    """A function URL: Lambda's answers are its own (403 ``{"Message":null}`` for an unknown URL,
    403 ``Forbidden`` for an ``AWS_IAM`` URL called unsigned, 502 ``Internal Server Error`` for a
    failing function or a malformed answer)."""
    request = read_request(environ, where.path)
    config = gateway.function_urls(where.api_id) if gateway.function_urls is not None else None
    if config is None:
        return _url_answer(start_response, 403, b'{"Message":null}', "AccessDeniedException", request.request_id)
    if config["AuthType"] == "AWS_IAM" and "AWS4-HMAC-SHA256" not in (request.header("authorization") or ""):
        return _url_answer(start_response, 403, b'{"Message":"Forbidden"}', "AccessDeniedException",
                           request.request_id)
    cors = _camel(config.get("Cors"))
    pre = preflight(cors, request)
    if pre is not None:
        return start(start_response, 200, [*pre, ("x-amzn-RequestId", request.request_id)], b"")
    arn = config["FunctionArn"]
    account, region = arn.split(":")[4], arn.split(":")[3]
    route = HttpRoute(api_id=where.api_id, account=account, region=region, stage="$default", stage_variables={},
                      route_key="$default", path_params={}, function=arn, payload_version="2.0",
                      timeout_ms=0, cors=cors)
    domain = environ.get("HTTP_HOST", "").rsplit(":", 1)[0]
    event = event_v2(route, request, where.path, domain)
    event["requestContext"]["accountId"] = "anonymous" if config["AuthType"] == "NONE" else account
    failure = GatewayError(502, "Internal Server Error")
    payload, result = gateway.invoker(arn, event, _FUNCTION_URL_WAIT_S, failure)
    try:
        if result.function_error:
            raise failure
        status, headers, body = response_v2(payload, failure)
    except GatewayError:
        return start(start_response, 502, [("Content-Type", "text/plain; charset=utf-8"),
                                           ("x-amzn-RequestId", request.request_id)], b"Internal Server Error")
    headers += [*cors_headers(cors, request), ("x-amzn-RequestId", result.request_id)]
    return start(start_response, status, headers, body)
