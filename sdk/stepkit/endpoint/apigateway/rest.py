"""REST APIs (API Gateway v1): moto keeps the control plane (APIs, resources, methods,
integrations, authorizers, stages); this serves their data plane.

A request is matched against the API's resources as AWS does (a literal path part before a
``{param}``, before a greedy ``{proxy+}``; the method, else ``ANY``); no match → 403
``Missing Authentication Token``. ``AWS_PROXY`` integrations get the proxy event (payload
1.0) and their answer is mapped back; ``MOCK`` integrations (what Chalice and the console put
on ``OPTIONS`` for CORS) answer their integration response's static parameters and template.

Not served: ``AWS``/``HTTP`` (non-proxy) integrations and mapping templates (answered 500,
``Internal server error``, and logged), IAM and Cognito authorization (not checked). moto
does not snapshot deployments, so a stage serves the API's current resources.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from stepkit.endpoint.apigateway.authorizers import AuthorizerConfig
from stepkit.endpoint.apigateway.wire import (
    GatewayError,
    Request,
    decode_body,
    integration_failure,
    media_type_matches,
    split_path,
)

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_MS = 29000
_RESPONSE_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
_LITERAL = re.compile(r"^'(?P<value>.*)'$", re.S)


def missing_token() -> GatewayError:
    return GatewayError(403, "Missing Authentication Token", "MissingAuthenticationTokenException")


def forbidden() -> GatewayError:
    return GatewayError(403, "Forbidden", "ForbiddenException")


def iter_backends(backends: Any) -> Iterator[tuple[str, str, Any]]:
    """(account, region, backend) of every backend moto has made, without making new ones."""
    for account in list(dict.keys(backends)):
        regions = dict.__getitem__(backends, account)
        for region in list(dict.keys(regions)):
            yield account, region, dict.__getitem__(regions, region)


@dataclass
class RestRoute:
    """What one request needs from moto's models, copied out under moto's lock."""

    api_id: str
    account: str
    region: str
    stage: str
    stage_variables: dict[str, str]
    resource_id: str
    resource_path: str
    path_params: dict[str, str]
    integration: dict[str, Any]
    authorization_type: str
    authorizer: AuthorizerConfig | None
    binary_media_types: list[str]
    throttle: tuple[float, float] | None = None
    integration_responses: dict[str, dict[str, Any]] = field(default_factory=dict)


def find_rest_api(api_id: str) -> tuple[Any, str, str] | None:
    from moto.apigateway.models import apigateway_backends

    for account, region, backend in iter_backends(apigateway_backends):
        api = backend.apis.get(api_id)
        if api is not None:
            return api, account, region
    return None


def _segment_rank(pattern: str) -> int:
    if pattern.startswith("{") and pattern.endswith("+}"):
        return 0
    return 1 if pattern.startswith("{") and pattern.endswith("}") else 2


def match_path(resource_path: str, segments: list[str]) -> tuple[tuple[int, ...], dict[str, str]] | None:
    """How well a resource path matches the request's segments (higher is better) and its
    path parameters; None when it does not match."""
    patterns = [p for p in resource_path.split("/") if p]
    params: dict[str, str] = {}
    ranks: list[int] = []
    for i, pattern in enumerate(patterns):
        rank = _segment_rank(pattern)
        if rank == 0:
            if i != len(patterns) - 1 or i >= len(segments):
                return None
            params[pattern[1:-2]] = "/".join(segments[i:])
            ranks.append(0)
            return tuple(ranks), params
        if i >= len(segments):
            return None
        if rank == 1:
            params[pattern[1:-1]] = segments[i]
        elif pattern != segments[i]:
            return None
        ranks.append(rank)
    if len(patterns) != len(segments):
        return None
    return tuple(ranks), params


def _method_setting(stage: Any, resource_path: str, method: str) -> tuple[float, float] | None:
    settings = getattr(stage, "method_settings", None) or {}
    key = resource_path.lstrip("/").replace("/", "~1") + "/" + method
    chosen = settings.get(key) or settings.get("*/*")
    if not chosen or "throttlingRateLimit" not in chosen:
        return None
    return float(chosen["throttlingRateLimit"]), float(chosen.get("throttlingBurstLimit", 0))


def resolve(api: Any, account: str, region: str, stage_name: str, path: str, method: str) -> RestRoute:
    """The resource, method and integration a request reaches (403 when none)."""
    stage = api.stages.get(stage_name)
    if stage is None:
        raise forbidden()
    segments = split_path(path)
    best: tuple[tuple[int, ...], dict[str, str], Any] | None = None
    for resource in api.resources.values():
        found = match_path(resource.get_path(), segments)
        if found is not None and (best is None or found[0] > best[0]):
            best = (found[0], found[1], resource)
    if best is None:
        raise missing_token()
    resource = best[2]
    chosen = resource.resource_methods.get(method) or resource.resource_methods.get("ANY")
    if chosen is None or chosen.method_integration is None:
        raise missing_token()
    integration = chosen.method_integration
    authorizer = None
    if chosen.authorization_type == "CUSTOM" and chosen.authorizer_id in api.authorizers:
        a = api.authorizers[chosen.authorizer_id]
        kind = (a.type or "TOKEN").upper()  # an imported swagger spells it "token"
        default_source = "method.request.header.Authorization" if kind == "TOKEN" else ""
        ttl = 300 if a.authorizer_result_ttl is None else int(a.authorizer_result_ttl)
        authorizer = AuthorizerConfig(a.id, kind, a.authorizer_uri or "",
                                      a.identity_source or default_source, a.identity_validation_expression, ttl)
    responses = {str(k): {"parameters": v.response_parameters or {}, "templates": v.response_templates or {},
                          "pattern": v.selection_pattern}
                 for k, v in (integration.integration_responses or {}).items()}
    return RestRoute(
        api_id=api.id, account=account, region=region, stage=stage_name,
        stage_variables=dict(stage.variables or {}), resource_id=resource.id, resource_path=resource.get_path(),
        path_params=best[1],
        integration={"type": (integration.integration_type or "").upper(), "uri": integration.uri,
                     "timeout_ms": int(integration.timeout_in_millis or DEFAULT_TIMEOUT_MS),
                     "request_templates": integration.request_templates or {}},
        authorization_type=chosen.authorization_type or "NONE", authorizer=authorizer,
        binary_media_types=list(api.binaryMediaTypes or []),
        throttle=_method_setting(stage, resource.get_path(), method), integration_responses=responses,
    )


# -- the proxy event (payload format 1.0) ------------------------------------------------------


def _last_and_all(pairs: list[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        single[key] = value
        multi.setdefault(key, []).append(value)
    return single, multi


def request_context(route: RestRoute, request: Request, host: str) -> dict[str, Any]:
    when = datetime.fromtimestamp(request.epoch_ms / 1000, UTC)
    return {
        "resourceId": route.resource_id, "resourcePath": route.resource_path, "httpMethod": request.method,
        "extendedRequestId": request.request_id, "requestTime": when.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "path": f"/{route.stage}{request.path}", "accountId": route.account, "protocol": "HTTP/1.1",
        "stage": route.stage, "domainPrefix": host.split(".", 1)[0], "requestTimeEpoch": request.epoch_ms,
        "requestId": request.request_id,
        "identity": {"cognitoIdentityPoolId": None, "accountId": None, "cognitoIdentityId": None, "caller": None,
                     "sourceIp": request.source_ip, "principalOrgId": None, "accessKey": None,
                     "cognitoAuthenticationType": None, "cognitoAuthenticationProvider": None, "userArn": None,
                     "userAgent": request.user_agent, "user": None},
        "domainName": host, "apiId": route.api_id,
    }


def request_parts(route: RestRoute, request: Request) -> dict[str, Any]:
    """The parts of the proxy event a ``REQUEST`` authorizer gets too."""
    headers = [(k, v) for k, v in request.headers if k.lower() not in ("content-length", "connection")]
    single_headers, multi_headers = _last_and_all(headers)
    single_query, multi_query = _last_and_all(request.query)
    return {
        "resource": route.resource_path, "path": request.path, "httpMethod": request.method,
        "headers": single_headers, "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query, "multiValueQueryStringParameters": multi_query,
        "pathParameters": route.path_params or None, "stageVariables": route.stage_variables or None,
    }


def proxy_event(route: RestRoute, request: Request, context: dict[str, Any]) -> dict[str, Any]:
    event = request_parts(route, request)
    event["requestContext"] = context
    body: str | None = None
    encoded = False
    if request.body:
        if media_type_matches(request.header("content-type"), route.binary_media_types):
            body, encoded = base64.b64encode(request.body).decode(), True
        else:
            try:
                body = request.body.decode("utf-8")
            except UnicodeDecodeError:  # not text, not declared binary: AWS would mangle it; keep it whole
                body, encoded = base64.b64encode(request.body).decode(), True
    event["body"] = body
    event["isBase64Encoded"] = encoded
    return event


# -- mapping the answer back -------------------------------------------------------------------


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_answer(payload: bytes, failure: GatewayError) -> Any:
    """The function's answer as JSON (``failure`` when it is not JSON)."""
    try:
        return json.loads(payload)
    except ValueError:
        log.info("malformed Lambda response (not JSON): %.200r", payload)
        raise failure from None


def proxy_response(payload: bytes, binary: bool, failure: GatewayError | None = None
                   ) -> tuple[int, list[tuple[str, str]], bytes]:
    """The function's proxy answer (payload 1.0) as HTTP; anything else is ``failure`` (502,
    malformed proxy response). ``binary``: a base64 body is decoded (REST APIs: when the
    client accepts one of the API's binary media types)."""
    failure = failure or integration_failure()
    answer = parse_answer(payload, failure)
    if not isinstance(answer, dict) or set(answer) - _RESPONSE_KEYS:
        log.info("malformed Lambda proxy response: %.200r", payload)
        raise failure
    return map_answer(answer, binary, failure)


def map_answer(answer: dict[str, Any], binary: bool, failure: GatewayError) -> tuple[int, list[tuple[str, str]], bytes]:
    """A proxy answer's ``statusCode``, ``headers``, ``multiValueHeaders``, ``body`` and
    ``isBase64Encoded`` as HTTP (``failure`` when one of them has the wrong type)."""
    headers = answer.get("headers") or {}
    multi = answer.get("multiValueHeaders") or {}
    body = answer.get("body")
    try:
        status = int(answer.get("statusCode") or 200)
    except (TypeError, ValueError):
        raise failure from None
    if (not isinstance(headers, dict) or not isinstance(multi, dict)
            or any(not isinstance(v, str | bool) for v in headers.values())
            or any(not isinstance(v, list) for v in multi.values())
            or not (body is None or isinstance(body, str)) or not 100 <= status <= 599):
        log.info("malformed Lambda proxy response: %.200r", answer)
        raise failure
    out: list[tuple[str, str]] = []
    multi_names = {k.lower() for k in multi}
    for name, values in multi.items():
        out.extend((name, _header_value(v)) for v in values)
    out.extend((k, _header_value(v)) for k, v in headers.items() if k.lower() not in multi_names)
    if not any(k.lower() == "content-type" for k, _ in out):
        out.append(("Content-Type", "application/json"))
    return status, out, decode_body(body, binary and bool(answer.get("isBase64Encoded")))


def mock_response(route: RestRoute) -> tuple[int, list[tuple[str, str]], bytes]:
    """A ``MOCK`` integration: the status its request template selects, the integration
    response's static header values (``'...'``) and template. Templates are used as they are
    (Velocity is not evaluated)."""
    template = route.integration["request_templates"].get("application/json") or '{"statusCode": 200}'
    try:
        selected = str(json.loads(template).get("statusCode", 200))
    except (ValueError, AttributeError):
        raise integration_failure("Internal server error", 500) from None
    response = route.integration_responses.get(selected)
    if response is None:
        response = next((r for r in route.integration_responses.values() if not r["pattern"]), None)
    if response is None:
        raise integration_failure("Internal server error", 500)
    headers: list[tuple[str, str]] = []
    for name, value in response["parameters"].items():
        m = _LITERAL.match(value or "")
        if name.startswith("method.response.header.") and m:
            headers.append((name.removeprefix("method.response.header."), m["value"]))
    headers.append(("Content-Type", "application/json"))
    body = (response["templates"].get("application/json") or "").encode()
    return int(selected), headers, body
