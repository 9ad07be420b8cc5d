"""Where moto's API Gateway control plane differs from AWS's in a way a deployer sees, make it
AWS's (installed once, by the endpoint's API Gateway service):

- an integration without ``uri`` or ``httpMethod`` (a ``mock``, as Chalice writes for CORS
  preflights): AWS needs neither there, moto's importer fails on it.
- ``PutRestApi``/``ImportRestApi`` with a Swagger 2.0 definition (what Chalice, the Serverless
  Framework and the console's exports write): AWS imports it, moto refuses every Swagger 2.0
  document. The paths are read the same way for both versions, so the document goes to moto's
  importer as it is; what that importer leaves out is added here as AWS imports it: the binary
  media types (``x-amazon-apigateway-binary-media-types``) and Lambda authorizers
  (``x-amazon-apigateway-authorizer`` security definitions, and the methods that name them in
  ``security``).
"""

from __future__ import annotations

import copy
from typing import Any

_installed = False


def _security_schemes(doc: dict[str, Any]) -> dict[str, Any]:
    return doc.get("securityDefinitions") or (doc.get("components") or {}).get("securitySchemes") or {}


def _add_extensions(backend: Any, api: Any, doc: dict[str, Any]) -> None:
    if "x-amazon-apigateway-binary-media-types" in doc:
        api.binaryMediaTypes = list(doc["x-amazon-apigateway-binary-media-types"] or [])
    authorizers: dict[str, str] = {}
    for name, scheme in _security_schemes(doc).items():
        config = scheme.get("x-amazon-apigateway-authorizer")
        if not config:
            continue
        kind = str(config.get("type", "token")).upper()
        source = config.get("identitySource")
        if source is None and scheme.get("in") == "header":
            source = f"method.request.header.{scheme.get('name', 'Authorization')}"
        ttl = config.get("authorizerResultTtlInSeconds")
        created = backend.create_authorizer(
            api.id, name, "REQUEST" if kind == "REQUEST" else "TOKEN", authorizer_uri=config.get("authorizerUri"),
            authorizer_credentials=config.get("authorizerCredentials"), identity_source=source,
            identiy_validation_expression=config.get("identityValidationExpression"),
            authorizer_result_ttl=300 if ttl is None else int(ttl))
        authorizers[name] = created.id
    if not authorizers:
        return
    for path, methods in (doc.get("paths") or {}).items():
        resource = api.get_resource_for_path(path)
        for verb, method_doc in methods.items():
            if resource is None or not isinstance(method_doc, dict):
                continue
            named = [n for requirement in method_doc.get("security") or [] for n in requirement if n in authorizers]
            method = resource.resource_methods.get(verb.upper())
            if named and method is not None:
                method.authorization_type = "CUSTOM"
                method.authorizer_id = authorizers[named[0]]


def _for_moto(api_doc: dict[str, Any]) -> dict[str, Any]:
    """The definition as moto's importer can read it (what it refuses, AWS accepts)."""
    doc = copy.deepcopy(api_doc)
    if str(doc.get("swagger", "")).startswith("2"):
        del doc["swagger"]
        doc["openapi"] = "3.0.1"  # moto's importer reads the paths of both versions alike
    for methods in (doc.get("paths") or {}).values():
        for verb, method_doc in methods.items():
            integration = method_doc.get("x-amazon-apigateway-integration") if isinstance(method_doc, dict) else None
            if integration is not None:
                integration.setdefault("uri", "")
                integration.setdefault("httpMethod", verb.upper())
    return doc


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.apigateway.models import APIGatewayBackend

    original = APIGatewayBackend.put_rest_api

    def put_rest_api(self: Any, function_id: str, api_doc: dict[str, Any], fail_on_warnings: bool,
                     mode: str = "merge") -> Any:
        if str(api_doc.get("swagger", "")).startswith("2"):
            fail_on_warnings = False  # moto's validator knows OpenAPI 3 only
        if mode == "overwrite" and function_id in self.apis:
            self.apis[function_id].authorizers.clear()
        api = original(self, function_id, _for_moto(api_doc), fail_on_warnings, mode)
        _add_extensions(self, api, api_doc)
        return api

    setattr(APIGatewayBackend, "put_rest_api", put_rest_api)  # noqa: B010 - moto's method, patched
    _installed = True
