"""Lambda authorizers of REST APIs (``TOKEN`` and ``REQUEST``), as Chalice's ``@app.authorizer``
and ``CustomAuthorizer`` use them.

The authorizer function answers ``{"principalId", "policyDocument", "context"}``; the policy's
``execute-api:Invoke`` statements are matched against the method ARN
(``arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}``), an explicit Deny
winning. Answers as AWS words them: no identity or the function raising ``Unauthorized`` →
401 ``Unauthorized``; a policy that does not allow → 403; any other failure → 500
(``AuthorizerConfigurationException``, ``{"message":null}``). Results are cached per identity
for the authorizer's ``authorizerResultTtlInSeconds`` (300 by default, 0: no cache).
"""

from __future__ import annotations

import fnmatch
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from stepkit.endpoint.apigateway.invoke import Invoker, function_of
from stepkit.endpoint.apigateway.wire import GatewayError

_AUTHORIZER_TIMEOUT_S = 29.0


def unauthorized() -> GatewayError:
    return GatewayError(401, "Unauthorized", "UnauthorizedException")


def _configuration_error() -> GatewayError:
    return GatewayError(500, None, "AuthorizerConfigurationException")


class _Statement(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    Effect: str
    Action: str | list[str] = "execute-api:Invoke"
    Resource: str | list[str]


class _Policy(BaseModel):
    model_config = ConfigDict(extra="allow")
    Statement: list[_Statement]


class _AuthorizerAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")
    principalId: str | int
    policyDocument: _Policy
    context: dict[str, str | int | float | bool] | None = None
    usageIdentifierKey: str | None = None


@dataclass(frozen=True)
class AuthorizerConfig:
    id: str
    type: str  # TOKEN or REQUEST
    uri: str
    identity_source: str
    validation_expression: str | None
    ttl_s: int


def _source_key(source: str) -> str:
    """Header names in identity sources are case-insensitive."""
    prefix = "method.request.header."
    return prefix + source[len(prefix):].lower() if source.lower().startswith(prefix) else source


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _allows(answer: _AuthorizerAnswer, method_arn: str) -> bool:
    allowed = False
    for statement in answer.policyDocument.Statement:
        actions = _as_list(statement.Action)
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions):
            continue
        if any(fnmatch.fnmatchcase(method_arn, r) for r in _as_list(statement.Resource)):
            if statement.Effect == "Deny":
                raise GatewayError(403, "User is not authorized to access this resource with an explicit deny",
                                   "AccessDeniedException")
            allowed = allowed or statement.Effect == "Allow"
    return allowed


class Authorizers:
    def __init__(self, invoker: Invoker) -> None:
        self.invoker = invoker
        self._cache: dict[tuple[str, str], tuple[float, _AuthorizerAnswer]] = {}
        self._lock = threading.Lock()

    def identity(self, config: AuthorizerConfig, values: dict[str, str | None]) -> str:
        """The identity the authorizer is called with (its cache key); 401 when it is missing."""
        sources = [s.strip() for s in config.identity_source.split(",") if s.strip()]
        found = [values.get(_source_key(s)) for s in sources]
        if config.type == "TOKEN":
            token = found[0] if found else None
            if not token:
                raise unauthorized()
            if config.validation_expression and not re.fullmatch(config.validation_expression, token):
                raise unauthorized()
            return token
        if sources and any(not v for v in found):
            raise unauthorized()
        return "\x00".join(v or "" for v in found)

    def authorize(self, config: AuthorizerConfig, identity: str, event: dict[str, Any], method_arn: str,
                  stage_variables: dict[str, str]) -> dict[str, Any]:
        """``requestContext.authorizer`` for the integration (principalId and the context)."""
        key = (config.id, identity)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            answer = cached[1]
        else:
            answer = self._call(config, event, stage_variables)
            if config.ttl_s > 0:
                with self._lock:
                    self._cache[key] = (now + config.ttl_s, answer)
        if not _allows(answer, method_arn):
            raise GatewayError(403, "User is not authorized to access this resource", "AccessDeniedException")
        out: dict[str, Any] = {"principalId": str(answer.principalId), "integrationLatency": 0}
        out.update(answer.context or {})
        return out

    def _call(self, config: AuthorizerConfig, event: dict[str, Any],
              stage_variables: dict[str, str]) -> _AuthorizerAnswer:
        function = function_of(config.uri, stage_variables)
        try:
            payload, result = self.invoker(function, event, _AUTHORIZER_TIMEOUT_S, _configuration_error())
        except GatewayError:
            raise _configuration_error() from None
        if result.function_error:
            try:
                message = json.loads(payload).get("errorMessage")
            except (ValueError, AttributeError):
                message = None
            if message == "Unauthorized":
                raise unauthorized()
            raise _configuration_error()
        try:
            return _AuthorizerAnswer.model_validate_json(payload)
        except ValidationError:
            raise _configuration_error() from None
