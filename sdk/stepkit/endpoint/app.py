"""The endpoint's WSGI app: a router by AWS protocol.

- ``X-Amz-Target: AWSStepFunctions.*``  → the Step Functions service (the stepkit engine)
- a path of Lambda's REST API, or a request signed for ``lambda`` → the Lambda service (the
  stepkit runtime)
- ``/_stepkit/health`` (and LocalStack's ``/_localstack/health``) → what is served;
  ``/_localstack/info`` → LocalStack's info fields
- everything else → moto, in this process

No request can crash the server: an exception anywhere answers 500 in the AWS JSON error
shape.
"""

from __future__ import annotations

import json
import logging
import platform
import re
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from stepkit.endpoint.protocol import respond

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_SIGNED_FOR = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/(?P<service>[^/]+)/aws4_request")

#: What moto answers here (the services of issue 4; moto serves many more).
MOTO_SERVICES = ("s3", "sqs", "sns", "iam", "sts", "events", "logs", "dynamodb", "secretsmanager", "ssm", "kinesis",
                 "dynamodbstreams", "scheduler", "pipes")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("stepkit")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


class EndpointApp:
    viewer: WsgiApp | None = None  # the browser viewer at /_stepkit/ui/ (stepkit.viewer), set by the server

    def __init__(
        self, stepfunctions: WsgiApp, lambda_app: Any, moto: WsgiApp, code_zip: Callable[[str], Any] | None = None
    ) -> None:
        self.stepfunctions = stepfunctions
        self.lambda_app = lambda_app
        self.moto = moto
        self.code_zip = code_zip
        self.session_id = str(uuid.uuid4())
        self.started = time.monotonic()
        self.apis: Any = None  # the data plane of the user's APIs (stepkit.endpoint.apigateway)

    def services(self) -> dict[str, str]:
        out = {"stepfunctions": "stepkit engine", "lambda": "stepkit runtime"}
        out.update({name: "moto" for name in MOTO_SERVICES})
        if self.apis is not None:  # the control plane is moto's, the APIs are served by stepkit
            out.update(apigateway="moto + stepkit", apigatewayv2="moto + stepkit")
        return out

    def route(self, environ: dict[str, Any]) -> WsgiApp:
        if self.apis is not None and self.apis.handles(environ):  # the user's own APIs: no signature
            return self.apis
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("AWSStepFunctions."):
            return self.stepfunctions
        path = environ.get("PATH_INFO", "/")
        signed = _SIGNED_FOR.search(environ.get("HTTP_AUTHORIZATION", ""))
        service = signed["service"] if signed else None
        if service == "states":
            return self.stepfunctions
        if service == "lambda" or (service is None and self.lambda_app.handles(path)):
            return self.lambda_app
        if path in ("/_stepkit/health", "/_localstack/health"):
            return self.health
        if path == "/_localstack/info":
            return self.info
        if path.startswith("/_stepkit/lambda-code/"):
            return self.lambda_code
        if path.startswith("/_stepkit/ui/") and self.viewer is not None:
            return self.viewer
        return self.moto

    def health(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        persistence = getattr(self.moto, "persistence", "off")
        body = json.dumps({"services": {k: "running" for k in self.services()}, "edition": "stepkit",
                           "persistence": {"moto": persistence}}).encode()
        return respond(start_response, 200, body, [("Content-Type", "application/json")])

    def info(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """LocalStack's ``/_localstack/info``, with its fields, for tools that ask which edition runs."""
        body = json.dumps({
            "version": f"stepkit-{_version()}", "edition": "stepkit", "is_license_activated": False,
            "session_id": self.session_id, "machine_id": f"stepkit_{platform.node()}",
            "system": platform.system().lower(),
            "is_docker": False, "server_time_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "uptime": int(time.monotonic() - self.started),
        }).encode()
        return respond(start_response, 200, body, [("Content-Type", "application/json")])

    def lambda_code(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """The zip of a function's code: where GetFunction's ``Code.Location`` points."""
        sha = environ.get("PATH_INFO", "").rsplit("/", 1)[-1].removesuffix(".zip")
        path = self.code_zip(sha) if self.code_zip is not None else None
        if path is None:
            return respond(start_response, 404, b"", [("Content-Type", "application/zip")])
        return respond(start_response, 200, path.read_bytes(), [("Content-Type", "application/zip")])

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            return self.route(environ)(environ, start_response)
        except Exception as exc:  # never let a request take the server down
            # The details stay in the log: an exception's text can carry a request's or a record's
            # contents (names, environment values), which an answer must never echo.
            log.error("request failed: %s", traceback.format_exc())
            body = json.dumps({"__type": "InternalFailure", "message": "stepkit endpoint error "
                               f"({type(exc).__name__}); the details are in the endpoint's log"}).encode()
            try:
                return respond(start_response, 500, body, [("Content-Type", "application/x-amz-json-1.0")],
                               sys.exc_info())
            except Exception:  # headers already sent: nothing more can be said
                return [b""]
