"""AWS wire protocols, driven by botocore's service models.

The operation list, the input shapes (required members, types, lengths, ranges, enums,
patterns: checked by ``stepkit.endpoint.validation`` before any handler runs), the HTTP
bindings of REST operations and the error codes with their HTTP statuses all come from the
JSON models botocore ships, so the services here answer what the SDKs expect without a
hand-written table per operation.

Two protocols are served:

- AWS JSON 1.0/1.1 (Step Functions): ``POST /`` with ``X-Amz-Target: Prefix.Operation``,
  a JSON body; errors are ``{"__type": code, "message": text}``.
- REST-JSON (Lambda): the operation is found from the method and the path template in the
  model; members come from the path, the query string, headers and the body; errors carry
  ``X-Amzn-ErrorType``.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote

from botocore.model import OperationModel, ServiceModel, Shape

from stepkit.aws_sessions import service_model
from stepkit.endpoint.errors import AwsError
from stepkit.endpoint.validation import BadText, InputRules, check_input, parse_json, validation_error

# AwsError, check_input and validation_error live in errors.py and validation.py; named here too,
# where the services have always imported them from.
__all__ = ["AwsError", "JsonService", "RequestContext", "RestJsonService", "check_input", "epoch",
           "validation_error"]

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request")


def error_status(model: ServiceModel, code: str, default: int = 400) -> int:
    for shape in model.error_shapes:
        if shape.name == code or shape.metadata.get("error", {}).get("code") == code:
            return int(shape.metadata.get("error", {}).get("httpStatusCode", default))
    return default


@dataclass
class RequestContext:
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    headers: dict[str, str] = field(default_factory=dict)


def request_context(environ: dict[str, Any]) -> RequestContext:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = _SCOPE.search(auth)
    region = m["region"] if m else DEFAULT_REGION
    account = DEFAULT_ACCOUNT
    key = m and re.search(r"Credential=(\d{12})/", auth)
    if key:  # moto's convention: a 12-digit access key id names the account
        account = key.group(1)
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return RequestContext(region=region, account=account, headers=headers)


def read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if length > 0:
        return stream.read(length)
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked" or environ.get("wsgi.input_terminated"):
        return stream.read()
    return b""


# -- output --------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(value: Any) -> bytes:
    return json.dumps(value, default=_json_default, separators=(",", ":")).encode()


def epoch(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


Handler = Callable[[dict[str, Any], RequestContext], dict[str, Any] | None]
StartResponse = Callable[..., Any]


def respond(
    start_response: StartResponse, status: int, body: bytes, headers: list[tuple[str, str]], exc_info: Any = None
) -> list[bytes]:
    phrase = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request",
              404: "Not Found", 409: "Conflict", 413: "Payload Too Large", 429: "Too Many Requests",
              500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway"}.get(status, "")
    headers = [*headers, ("Content-Length", str(len(body)))]
    if exc_info is not None:
        start_response(f"{status} {phrase}".rstrip(), headers, exc_info)
    else:
        start_response(f"{status} {phrase}".rstrip(), headers)
    return [body]


# -- AWS JSON 1.0 --------------------------------------------------------------------------


class JsonService:
    """A service on the AWS JSON protocol: ``handlers`` maps operation names to callables."""

    def __init__(self, model_name: str, handlers: dict[str, Handler], bad_text: BadText | None = None) -> None:
        self.model = service_model(model_name)
        self.handlers = handlers
        self.rules = InputRules("SerializationException", *([bad_text] if bad_text else []))
        version = self.model.metadata.get("jsonVersion", "1.0")
        self.content_type = f"application/x-amz-json-{version}"

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        ctx = request_context(environ)
        try:
            result = self.dispatch(environ, ctx)
            body = to_json(result or {})
            status = 200
        except AwsError as err:
            status = err.status or error_status(self.model, err.code)
            body = to_json({"__type": err.code, "message": err.message, **err.extra})
        headers = [("Content-Type", self.content_type), ("x-amzn-RequestId", ctx.request_id)]
        return respond(start_response, status, body, headers)

    def dispatch(self, environ: dict[str, Any], ctx: RequestContext) -> dict[str, Any] | None:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        prefix, _, operation = target.partition(".")
        if prefix != self.model.metadata.get("targetPrefix") or operation not in self.model.operation_names:
            raise AwsError("UnknownOperationException", f"Operation {operation or target!r} is not known to "
                           f"{self.model.metadata.get('serviceFullName')}.")
        handler = self.handlers.get(operation)
        if handler is None:
            raise AwsError("UnknownOperationException", f"stepkit does not implement {operation} yet.")
        raw = read_body(environ)
        try:
            params = parse_json(raw) if raw.strip() else {}
        except ValueError as exc:  # UnicodeDecodeError is a ValueError
            raise AwsError("SerializationException", f"The request body is not valid JSON: {exc}") from None
        op = self.model.operation_model(operation)
        check_input(op.input_shape, params, self.rules, operation)
        return handler(params, ctx)


# -- REST-JSON -----------------------------------------------------------------------------


@dataclass
class _Route:
    operation: OperationModel
    method: str
    pattern: re.Pattern[str]
    query: dict[str, str]
    static: int


def _compile_uri(uri: str) -> tuple[re.Pattern[str], dict[str, str], int]:
    path, _, query = uri.partition("?")
    static = 0
    parts = []
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{"):
            name = piece[1:-1]
            if name.endswith("+"):
                parts.append(f"(?P<{name[:-1]}>.+)")
            else:
                parts.append(f"(?P<{name}>[^/]+)")
        else:
            static += len(piece)
            parts.append(re.escape(piece))
    fixed = {}
    for item in filter(None, query.split("&")):
        key, _, value = item.partition("=")
        fixed[key] = value
    return re.compile("".join(parts) + "/?"), fixed, static


class RestJsonService:
    """A service on the REST-JSON protocol, routed by the model's HTTP bindings."""

    def __init__(self, model_name: str, handlers: dict[str, Handler], bad_text: BadText | None = None) -> None:
        self.model = service_model(model_name)
        self.handlers = handlers
        self.rules = InputRules("InvalidRequestContentException", *([bad_text] if bad_text else []))
        routes = []
        for name in self.model.operation_names:
            op = self.model.operation_model(name)
            pattern, query, static = _compile_uri(op.http["requestUri"])
            routes.append(_Route(op, op.http["method"], pattern, query, static + 100 * len(query)))
        self.routes = sorted(routes, key=lambda r: -r.static)

    def match(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[_Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method != method:
                continue
            m = route.pattern.fullmatch(path)
            if m is None:
                continue
            if any(query.get(k, [None])[0] != v for k, v in route.query.items()):
                continue
            return route, {k: unquote(v) for k, v in m.groupdict().items()}
        return None

    def handles(self, path: str) -> bool:
        return any(r.pattern.fullmatch(path) for r in self.routes)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        ctx = request_context(environ)
        op: OperationModel | None = None
        try:
            method = environ.get("REQUEST_METHOD", "GET")
            path = environ.get("PATH_INFO", "/")
            query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            found = self.match(method, path, query)
            if found is None:
                raise AwsError("UnknownOperationException", f"No {self.model.metadata['serviceFullName']} "
                               f"operation answers {method} {path}.", 404)
            route, path_params = found
            op = route.operation
            handler = self.handlers.get(op.name)
            if handler is None:
                raise AwsError("ServiceException", f"stepkit does not implement the operation {op.name}.", 501)
            params = self._parse(op, path_params, query, ctx.headers, read_body(environ))
            check_input(op.input_shape, params, self.rules, op.name)
            result = handler(params, ctx) or {}
            return self._serialize(op, result, ctx, start_response)
        except AwsError as err:
            status = err.status or error_status(self.model, err.code)
            body = to_json({"Type": "User" if status < 500 else "Service", "message": err.message,
                            "Message": err.message, **err.extra})
            headers = [("Content-Type", "application/json"), ("X-Amzn-ErrorType", err.code),
                       ("x-amzn-RequestId", ctx.request_id)]
            return respond(start_response, status, body, headers)

    @staticmethod
    def _convert(shape: Shape, raw: str | list[str]) -> Any:
        if shape.type_name == "list":
            values = raw if isinstance(raw, list) else [raw]
            return [RestJsonService._convert(shape.member, v) for v in values]
        value = raw[0] if isinstance(raw, list) else raw
        if shape.type_name in ("integer", "long"):
            try:
                return int(value)
            except ValueError:
                raise AwsError("InvalidParameterValueException", f"{value!r} is not an integer.", 400) from None
        if shape.type_name == "boolean":
            return value.lower() == "true"
        return value

    def _parse(
        self, op: OperationModel, path_params: dict[str, str], query: dict[str, list[str]],
        headers: dict[str, str], body: bytes,
    ) -> dict[str, Any]:
        shape = op.input_shape
        params: dict[str, Any] = {}
        if shape is None:
            return params
        payload_member = shape.serialization.get("payload")
        body_members = {}
        for name, member in shape.members.items():
            where = member.serialization.get("location")
            wire = member.serialization.get("name", name)
            if where == "uri":
                if wire in path_params:  # typed as the model says (a layer's VersionNumber: long)
                    params[name] = self._convert(member, path_params[wire])
            elif where == "querystring":
                if wire in query:
                    params[name] = self._convert(member, query[wire])
            elif where == "header":
                if wire.lower() in headers:
                    params[name] = self._convert(member, headers[wire.lower()])
            elif name == payload_member:
                if member.type_name == "blob":
                    params[name] = body
                elif body.strip():
                    params[name] = self._json_body(body)
            else:
                body_members[name] = member
        if body_members and body.strip():
            data = self._json_body(body)
            if not isinstance(data, dict):
                raise AwsError("SerializationException", "The request body must be a JSON object.", 400)
            for name in body_members:
                if name in data:
                    params[name] = data[name]
        return params

    @staticmethod
    def _json_body(body: bytes) -> Any:
        try:
            return parse_json(body)
        except ValueError as exc:
            raise AwsError("InvalidRequestContentException", f"Could not parse request body into json: {exc}",
                           400) from None

    def _serialize(
        self, op: OperationModel, result: dict[str, Any], ctx: RequestContext, start_response: StartResponse
    ) -> list[bytes]:
        status = int(op.http.get("responseCode", 200))
        headers = [("x-amzn-RequestId", ctx.request_id)]
        shape = op.output_shape
        if shape is None:
            return respond(start_response, status, b"", headers)
        payload_member = shape.serialization.get("payload")
        body_fields = {}
        raw_body: bytes | None = None
        for name, value in result.items():
            member = shape.members.get(name)
            if member is None or value is None:
                continue
            where = member.serialization.get("location")
            if where == "statusCode":
                status = int(value)
            elif where == "header":
                headers.append((member.serialization.get("name", name), str(value)))
            elif name == payload_member:
                raw_body = value if isinstance(value, bytes) else to_json(value)
            else:
                body_fields[name] = value
        if raw_body is None:
            raw_body = to_json(body_fields) if status != 204 or body_fields else b""
        headers.append(("Content-Type", "application/json"))
        return respond(start_response, status, raw_body, headers)
