"""HTTP on API Gateway's side: which requests are calls to a user's API, reading them, and
answering with API Gateway's own words.

The URL forms are LocalStack's:

- ``http://127.0.0.1:4566/restapis/{api_id}/{stage}/_user_request_/{path}``
- ``http://{api_id}.execute-api.localhost.localstack.cloud:4566/{stage}/{path}`` (by ``Host``)
- ``http://{url_id}.lambda-url.{region}.localhost.localstack.cloud:4566/{path}`` (function URLs)
"""

from __future__ import annotations

import base64
import fnmatch
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

#: API Gateway's payload limit (REST and HTTP APIs): a larger body is answered 413.
MAX_BODY = 10 * 1024 * 1024
_USER_REQUEST = re.compile(r"^/restapis/(?P<api>[A-Za-z0-9]+)/(?P<stage>[^/]+)/_user_request_(?P<path>/.*)?$")
_EXECUTE_API_HOST = re.compile(r"^(?P<api>[A-Za-z0-9]+)\.execute-api\.(?:[a-z0-9-]+\.)?localhost\.localstack\.cloud$")
_LAMBDA_URL_HOST = re.compile(r"^(?P<url>[a-z0-9]+)\.lambda-url\.(?P<region>[a-z0-9-]+)\.localhost\.localstack\.cloud$")
_PHRASES = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 413: "Payload Too Large", 429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass(frozen=True)
class GatewayTarget:
    """Which user API a request calls. ``stage`` is None on the host form, where it is the path's
    first segment for a REST API and may be absent for an HTTP API's ``$default`` stage."""

    kind: str  # "api" (REST or HTTP API, told apart by the id) or "function-url"
    api_id: str
    stage: str | None
    path: str
    region: str | None = None


def _host(environ: dict[str, Any]) -> str:
    return environ.get("HTTP_HOST", "").rsplit(":", 1)[0].lower()


def _raw_path(environ: dict[str, Any]) -> str:
    """The path as sent, still percent-encoded (``PATH_INFO`` is decoded, as Latin-1)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        raw = raw.split("?", 1)[0]
        if "://" in raw:  # an absolute URI in the request line
            raw = "/" + raw.split("://", 1)[1].partition("/")[2]
        return raw or "/"
    return quote(environ.get("PATH_INFO", "/").encode("latin-1", "replace").decode("utf-8", "replace")) or "/"


def target(environ: dict[str, Any]) -> GatewayTarget | None:
    """The user API this request calls, or None when it is a request to AWS itself. Its
    ``path`` is still percent-encoded: routing decodes each part on its own."""
    path = _raw_path(environ)
    host = _host(environ)
    m = _EXECUTE_API_HOST.match(host)
    if m:
        return GatewayTarget("api", m["api"], None, path)
    m = _LAMBDA_URL_HOST.match(host)
    if m:
        return GatewayTarget("function-url", m["url"], "$default", path, m["region"])
    m = _USER_REQUEST.match(path)
    if m:
        return GatewayTarget("api", m["api"], unquote(m["stage"]), m["path"] or "/")
    return None


def is_user_api_request(environ: dict[str, Any]) -> bool:
    """True for a call to a user's own API (REST ``_user_request_`` paths, execute-api hosts,
    function-URL hosts): it is routed without an AWS signature and follows the API's own CORS
    configuration, as on AWS."""
    return target(environ) is not None


class GatewayError(Exception):
    """An answer of API Gateway itself (not of the integration)."""

    def __init__(self, status: int, message: str | None, error_type: str | None = None, *,
                 spaced: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        #: AWS writes its gateway responses ``{"message":"..."}`` but the integration's failures
        #: (502, 504) ``{"message": "..."}``: the bytes are kept as AWS sends them.
        self.spaced = spaced


def integration_failure(message: str = "Internal server error", status: int = 502) -> GatewayError:
    return GatewayError(status, message, "InternalServerErrorException", spaced=True)


@dataclass
class Request:
    method: str
    path: str  # decoded
    raw_path: str  # as sent (percent-encoded)
    headers: list[tuple[str, str]]  # as sent: names in their casing, repeated names kept
    query: list[tuple[str, str]]
    raw_query: str
    body: bytes
    source_ip: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    epoch_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    def header(self, name: str) -> str | None:
        name = name.lower()
        values = [v for k, v in self.headers if k.lower() == name]
        return ",".join(values) if values else None

    @property
    def user_agent(self) -> str:
        return self.header("user-agent") or ""


def read_request(environ: dict[str, Any], raw_path: str) -> Request:
    """The request as API Gateway sees it (``raw_path``: its path inside the stage, as sent);
    a body over 10 MB is refused (413) unread."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise GatewayError(400, "Bad Request") from None
    if length > MAX_BODY:
        raise GatewayError(413, "Request Too Long", "RequestTooLargeException")
    stream = environ.get("wsgi.input")
    body = b""
    if stream is not None:
        if length > 0:
            body = stream.read(length)
        elif environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked" or environ.get("wsgi.input_terminated"):
            body = stream.read(MAX_BODY + 1)
            if len(body) > MAX_BODY:
                raise GatewayError(413, "Request Too Long", "RequestTooLargeException")
    raw_query = environ.get("QUERY_STRING", "")
    headers = _headers(environ)
    present = {k.lower() for k, _ in headers}
    source_ip = environ.get("REMOTE_ADDR", "127.0.0.1")
    # What API Gateway's front adds to every request it passes on.
    added = {"X-Amzn-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}",
             "X-Forwarded-For": source_ip, "X-Forwarded-Port": str(environ.get("SERVER_PORT", "")),
             "X-Forwarded-Proto": environ.get("wsgi.url_scheme", "http")}
    headers += [(k, v) for k, v in added.items() if k.lower() not in present]
    return Request(
        method=environ.get("REQUEST_METHOD", "GET").upper(),
        path=unquote(raw_path),
        raw_path=raw_path,
        headers=headers,
        query=parse_qsl(raw_query, keep_blank_values=True),
        raw_query=raw_query,
        body=body,
        source_ip=source_ip,
    )


def _headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    """The headers as sent (the endpoint's request handler keeps them under ``stepkit.headers``);
    from the WSGI names otherwise."""
    raw = environ.get("stepkit.headers")
    if raw is not None:
        return [(k, v) for k, v in raw]
    out = [(k[5:].replace("_", "-").title(), v) for k, v in environ.items() if k.startswith("HTTP_")]
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(key):
            out.append((name, environ[key]))
    return out


def split_path(path: str) -> list[str]:
    return [unquote(part) for part in path.split("/") if part]


def media_type_matches(content_type: str | None, patterns: list[str]) -> bool:
    """``content_type`` against an API's binary media types (``image/*``, ``*/*``...)."""
    if not content_type or not patterns:
        return False
    kinds = [part.split(";", 1)[0].strip().lower() for part in content_type.split(",")]
    return any(fnmatch.fnmatchcase(kind, p.lower()) for kind in kinds for p in patterns if p)


def decode_body(text: Any, base64_encoded: bool) -> bytes:
    if text is None or text == "":
        return b""
    if not isinstance(text, str):
        text = json.dumps(text)
    if base64_encoded:
        try:
            return base64.b64decode(text, validate=True)
        except ValueError:
            raise GatewayError(500, "Internal server error", "InternalServerErrorException") from None
    return text.encode()


def start(start_response: Any, status: int, headers: list[tuple[str, str]], body: bytes) -> list[bytes]:
    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(body))))
    start_response(f"{status} {_PHRASES.get(status, '')}".rstrip(), headers)
    return [body]


def error_response(start_response: Any, err: GatewayError, request_id: str, rest: bool) -> list[bytes]:
    """API Gateway's error answer: ``{"message": ...}`` (REST APIs also name the error type)."""
    body = json.dumps({"message": err.message}, separators=(", ", ": ") if err.spaced else (",", ":")).encode()
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId" if rest else "apigw-requestid", request_id)]
    if rest and err.error_type:
        headers.append(("x-amzn-ErrorType", err.error_type))
    return start(start_response, err.status, headers, body)
