"""The viewer's view of the serving API (``functions/serving``) deployed on the same endpoint:
its ``GET /models`` (each version's traffic share and live metrics), read through API Gateway
as any client reads it.

The API is found, not configured: the REST API of the endpoint with a ``GET /models``
resource (the serving app's; ``stepkit serving`` finds it through the deploy record
instead), called at the endpoint's own URL
(``/restapis/{id}/{stage}/_user_request_/models``). Nothing but that path is ever requested,
so the page cannot be used to reach another address.
"""

from __future__ import annotations

import urllib.error
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

MODELS_PATH = "/models"


@dataclass(frozen=True, slots=True)
class ServingApi:
    id: str
    name: str
    stage: str
    url: str
    """The base URL the endpoint serves it at (``.../_user_request_``)."""


def find_serving_api(apigateway: Any) -> ServingApi | None:
    """The newest REST API with a ``GET /models`` and a stage; None when there is none."""
    apis = []
    for page in apigateway.get_paginator("get_rest_apis").paginate():
        apis += page.get("items", [])
    # Newest first; APIs created within the same second in the order listed (creation order).
    def created(api: dict[str, Any]) -> float:
        when = api.get("createdDate")
        return when.timestamp() if isinstance(when, datetime) else 0.0

    newest = sorted(enumerate(apis), key=lambda pair: (created(pair[1]), pair[0]), reverse=True)
    for _, api in newest:
        resources = [r for page in apigateway.get_paginator("get_resources").paginate(restApiId=api["id"])
                     for r in page.get("items", [])]
        if not any(r.get("path") == MODELS_PATH and "GET" in (r.get("resourceMethods") or {}) for r in resources):
            continue
        stages = apigateway.get_stages(restApiId=api["id"]).get("item", [])
        if not stages:
            continue
        stage = sorted(s["stageName"] for s in stages)[0]
        base = apigateway.meta.endpoint_url.rstrip("/")
        return ServingApi(api["id"], api.get("name", ""), stage, f"{base}/restapis/{api['id']}/{stage}/_user_request_")
    return None


def read_models(api: ServingApi) -> dict[str, Any]:
    """``GET /models`` of ``api``: ``{"api", "status", "models"}``, or ``"error"`` with the
    API's own message when it answers with one (no model registered yet, say)."""
    from stepkit.demo.serving import call

    out: dict[str, Any] = {"api": asdict(api)}
    try:
        status, body = call(api.url + MODELS_PATH)
    except (urllib.error.URLError, OSError, ValueError) as err:
        return out | {"status": None, "error": f"the serving API does not answer: {err}"}
    if status != 200:
        message = body.get("error") if isinstance(body, dict) else None
        return out | {"status": status, "error": str(message or body)}
    return out | {"status": status, "models": body}
