"""Who may ask the endpoint: the check every request passes before any routing.

``stepkit up`` runs user code by design (CreateFunction, then Invoke), so it must refuse what
a real cloud refuses, and what only a local server has to fear:

- **another web site.** A page the user merely visits can send a "simple" cross-origin POST
  (``Content-Type: text/plain``) to ``http://127.0.0.1:4566``; the browser adds an ``Origin``
  header it cannot forge. A request whose ``Origin`` is not the endpoint's own
  (``http://127.0.0.1:PORT``, ``http://localhost:PORT``) or listed in
  ``STEPKIT_ALLOWED_ORIGINS`` is refused; so is a CORS preflight from such an origin.
- **DNS rebinding.** A name the attacker controls can be made to resolve to 127.0.0.1, after
  which the page is "same-origin" with the endpoint, but its requests still carry the
  attacker's name in ``Host``. Only loopback names and addresses are answered: ``127.0.0.0/8``,
  ``localhost`` and ``*.localhost`` (browsers resolve them to loopback themselves, RFC 6761),
  ``[::1]``, ``localhost.localstack.cloud`` and its subdomains (LocalStack's public name, which
  resolves to 127.0.0.1 and is how its S3 virtual hosts and API URLs are spelt), and the names
  listed in ``STEPKIT_ALLOWED_HOSTS``.
- **unsigned requests.** Every AWS API that AWS always signs must carry a signature here too:
  an ``Authorization`` header or a presigned query. Any key is accepted (as LocalStack does):
  the point is that a browser cannot produce one without script access the two rules above
  deny. Exempt, as on AWS: anonymous S3 reads (GET/HEAD of an object or a listing), and the
  endpoint's own pages (health, LocalStack's info, the code download that GetFunction's
  ``Code.Location`` points to, whose unguessable SHA-256 stands in for a presigned URL's
  signature). The viewer's pages under ``/_stepkit/ui/`` are open too; its actions (any
  method but GET/HEAD there) need instead the random token its page was served with, in
  ``X-Stepkit-Csrf``, which no other origin can read.

Requests to the user's own HTTP APIs (API Gateway invocations, Lambda function URLs) are not
the control plane: a predicate given by the endpoint exempts them from the origin and
signature rules (their CORS is their own configuration, as on AWS); the Host rule holds for
them as for everything.

Both settings are comma-separated shell-style patterns (``*.lan``); ``*`` allows any (say so
only on a machine no browser uses). A refusal answers 403 in the protocol's error shape, is logged once per reason, and
changes nothing.
"""

from __future__ import annotations

import fnmatch
import hmac
import ipaddress
import json
import logging
import os
import re
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

log = logging.getLogger(__name__)

ORIGINS_SETTING = "STEPKIT_ALLOWED_ORIGINS"
HOSTS_SETTING = "STEPKIT_ALLOWED_HOSTS"

#: Paths served to anyone on loopback, signed or not: read-only pages of the endpoint itself.
OPEN_PATHS = ("/_stepkit/health", "/_localstack/health", "/_localstack/info")
UI_PREFIX = "/_stepkit/ui/"
OPEN_PREFIXES = ("/_stepkit/lambda-code/", UI_PREFIX)
#: The header carrying the viewer's token; its pages are open, its actions (any method but
#: GET/HEAD under the prefix) pass only with the token the page was served with.
UI_TOKEN_HEADER = "X-Stepkit-Csrf"

_LOOPBACK_NAMES = ("localhost", "localhost.localstack.cloud")
_PRESIGNED = ({"X-Amz-Signature", "X-Amz-Credential"}, {"Signature", "AWSAccessKeyId"})
_REST_JSON_PATH = re.compile(r"^/\d{4}-\d{2}-\d{2}/")
_PREFLIGHT_HEADERS = "Content-Type, Authorization, X-Amz-Target, X-Amz-Date, X-Amz-Security-Token, " \
                     "X-Amz-User-Agent, X-Amz-Content-Sha256, Amz-Sdk-Invocation-Id, Amz-Sdk-Request"
_EXPOSE_HEADERS = "ETag, x-amz-request-id, x-amzn-RequestId, x-amz-version-id, x-amz-id-2, x-amzn-ErrorType"

StartResponse = Callable[..., Any]


def _split_setting(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip().lower().rstrip("/") for part in (value or "").split(",") if part.strip())


def host_name(host: str) -> str:
    """The name in a ``Host`` header, without the port (``[::1]:4566`` → ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def is_loopback_name(name: str) -> bool:
    if name in _LOOPBACK_NAMES or name.endswith(tuple("." + n for n in _LOOPBACK_NAMES)):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _matches(name: str, patterns: Iterable[str]) -> bool:
    """Shell-style patterns: ``devbox``, ``*.lan``, ``https://*.corp.example``, ``*``."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def is_signed(environ: Mapping[str, Any]) -> bool:
    """An ``Authorization`` header of any value, or a presigned query (SigV4 or SigV2)."""
    if environ.get("HTTP_AUTHORIZATION", "").strip():
        return True
    query = environ.get("QUERY_STRING", "")
    if "Signature" not in query:
        return False
    present = set(parse_qs(query, keep_blank_values=True))
    return any(needed <= present for needed in _PRESIGNED)


def _is_anonymous_read(environ: Mapping[str, Any]) -> bool:
    """GET/HEAD that reaches S3: AWS serves these unsigned for public objects and presigned
    URLs. Query-protocol actions (``?Action=...``) and the Lambda/Step Functions APIs, which
    AWS always signs, are not reads of this kind."""
    if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
        return False
    if environ.get("HTTP_X_AMZ_TARGET") or _REST_JSON_PATH.match(environ.get("PATH_INFO", "/")):
        return False
    return "Action" not in parse_qs(environ.get("QUERY_STRING", ""))


@dataclass
class Refusal:
    status: int
    code: str
    message: str
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class RequestGuard:
    """The origin, host and signature rules for an endpoint listening on ``port``."""

    port: int
    allowed_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    #: Requests to the user's own HTTP APIs: exempt from the origin and signature rules.
    user_api: Callable[[Mapping[str, Any]], bool] = field(default=lambda environ: False)
    #: The viewer's CSRF token: what its actions (POSTs under /_stepkit/ui/) must carry.
    ui_token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    _logged: set[str] = field(default_factory=set, repr=False)

    @classmethod
    def from_environment(cls, port: int, env: Mapping[str, str] = os.environ, **kwargs: Any) -> RequestGuard:
        return cls(port, _split_setting(env.get(ORIGINS_SETTING)), _split_setting(env.get(HOSTS_SETTING)), **kwargs)

    def own_origins(self) -> tuple[str, ...]:
        return (f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}", f"http://[::1]:{self.port}")

    def origin_allowed(self, origin: str) -> bool:
        origin = origin.strip().lower().rstrip("/")
        return origin in self.own_origins() or _matches(origin, self.allowed_origins)

    def host_allowed(self, host: str) -> bool:
        name = host_name(host)
        return is_loopback_name(name) or _matches(name, self.allowed_hosts)

    # -- the check ------------------------------------------------------------------------
    def check(self, environ: Mapping[str, Any]) -> Refusal | None:
        """None when the request may go on; otherwise what to answer."""
        host = environ.get("HTTP_HOST")
        if host is not None and not self.host_allowed(host):
            return self._refuse("host", f"Requests for host {host_name(host)!r} are refused: the stepkit endpoint "
                                f"answers only loopback names (add the name to {HOSTS_SETTING} to allow it).")
        if self.user_api(environ):
            return None
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and not self.origin_allowed(origin):
            return self._refuse("origin", f"Requests from origin {origin!r} are refused: the stepkit endpoint "
                                f"answers only its own origin (add it to {ORIGINS_SETTING} to allow it).")
        path = environ.get("PATH_INFO", "/")
        if environ.get("REQUEST_METHOD") == "OPTIONS" and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"):
            return self._preflight(environ, origin)
        if path.startswith(UI_PREFIX) and environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return None if self.ui_token_valid(environ) else self._refuse(
                "csrf", f"The stepkit viewer's actions need its token in {UI_TOKEN_HEADER}.")
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            return None
        if is_signed(environ) or _is_anonymous_read(environ):
            return None
        return self._refuse("signature", "Missing Authentication Token", code="MissingAuthenticationTokenException")

    def ui_token_valid(self, environ: Mapping[str, Any]) -> bool:
        given = environ.get("HTTP_" + UI_TOKEN_HEADER.upper().replace("-", "_"), "")
        return hmac.compare_digest(given.encode(), self.ui_token.encode())

    def _refuse(self, reason: str, message: str, code: str = "AccessDeniedException") -> Refusal:
        if reason not in self._logged:
            self._logged.add(reason)
            log.warning("refused a request (%s): %s", reason, message)
        return Refusal(403, code, message)

    def _preflight(self, environ: Mapping[str, Any], origin: str | None) -> Refusal:
        """A CORS preflight from an allowed origin (others were refused above): 200, no body."""
        requested = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS") or _PREFLIGHT_HEADERS
        headers = [
            ("Access-Control-Allow-Origin", origin or f"http://127.0.0.1:{self.port}"),
            ("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS"),
            ("Access-Control-Allow-Headers", requested),
            ("Access-Control-Max-Age", "600"),
            ("Vary", "Origin"),
        ]
        return Refusal(200, "", "", headers)

    # -- WSGI -----------------------------------------------------------------------------
    def wrap(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        """``app`` behind the check; answers to an allowed cross-origin caller name it exactly
        (moto's own CORS says ``*`` to everyone)."""

        def guarded(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            refusal = self.check(environ)
            if refusal is not None:
                return answer(environ, start_response, refusal)
            origin = environ.get("HTTP_ORIGIN")
            if origin is None or self.user_api(environ):
                return app(environ, start_response)

            def with_cors(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                kept = [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
                kept += [("Access-Control-Allow-Origin", origin), ("Access-Control-Expose-Headers", _EXPOSE_HEADERS),
                         ("Vary", "Origin")]
                return start_response(status, kept, exc_info) if exc_info is not None else start_response(status, kept)

            return app(environ, with_cors)

        return guarded


def answer(environ: Mapping[str, Any], start_response: StartResponse, refusal: Refusal) -> list[bytes]:
    """The refusal in the error shape of the protocol the request speaks."""
    status_line = "200 OK" if refusal.status == 200 else f"{refusal.status} Forbidden"
    request_id = str(uuid.uuid4())
    if refusal.status == 200:
        body, content_type = b"", "text/plain"
    elif environ.get("PATH_INFO", "").startswith(UI_PREFIX):  # the viewer's API speaks plain JSON
        body, content_type = json.dumps({"code": refusal.code, "message": refusal.message}).encode(), "application/json"
    elif environ.get("HTTP_X_AMZ_TARGET") or "amz-json" in environ.get("CONTENT_TYPE", ""):
        body = json.dumps({"__type": refusal.code, "message": refusal.message}).encode()
        content_type = "application/x-amz-json-1.0"
    elif _REST_JSON_PATH.match(environ.get("PATH_INFO", "/")):
        body = json.dumps({"Type": "User", "message": refusal.message}).encode()
        content_type = "application/json"
        refusal.headers.append(("x-amzn-ErrorType", refusal.code))
    elif "form-urlencoded" in environ.get("CONTENT_TYPE", "") or "Action=" in environ.get("QUERY_STRING", ""):
        code = refusal.code.removesuffix("Exception")
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(refusal.message)}"
                f"</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>").encode()
        content_type = "text/xml"
    else:  # S3: its anonymous-access error
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>'
                f"{escape(refusal.message)}</Message><RequestId>{request_id}</RequestId></Error>").encode()
        content_type = "application/xml"
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))),
               ("x-amzn-RequestId", request_id), *refusal.headers]
    start_response(status_line, headers)
    return [body]
