"""serving: the HTTP API in front of the model registry (a Chalice app; stepkit deploys it as a
REST API, see ``functions.serving.api`` in infra/stack.yaml).

- ``GET /health`` -> 200 ``{"status": "ok"}``
- ``POST /predict`` with ``{"records": [{feature: value, ...}, ...]}`` (or ``{"record": {...}}``)
  -> the registry champion's predictions, computed by the ``predict`` function (invoked
  synchronously; its code loads and caches the model). A body that is not such JSON -> 400
  ``{"error": ...}``; no model registered yet -> 503 ``{"error": ...}``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from botocore.config import Config
from chalice import Chalice, Response

app = Chalice(app_name="stepkit-serving")

MAX_RECORDS = 1000
#: predict's errors that are the request's fault (400) or mean no model is there yet (503).
_CLIENT_ERRORS = {"InvalidRecordError", "InvalidEventError"}
_NO_MODEL = {"ModelNotFoundError"}
_lambda: Any = None


def _client() -> Any:
    global _lambda
    if _lambda is None:
        _lambda = boto3.client("lambda", config=Config(retries={"max_attempts": 2}, read_timeout=70))
    return _lambda


def _error(status: int, message: str) -> Response:
    return Response(body={"error": message}, status_code=status, headers={"Content-Type": "application/json"})


@app.route("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


def _records(raw: bytes | None) -> list[Any] | str:
    """The records of a /predict body, or what is wrong with it."""
    try:
        body = json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError):
        return "the body is not JSON"
    if not isinstance(body, dict) or ("records" in body) == ("record" in body):
        return 'the body is a JSON object with "records" (a list) or "record" (one record)'
    records = body["records"] if "records" in body else [body["record"]]
    if not isinstance(records, list) or not records:
        return '"records" is a non-empty list'
    if len(records) > MAX_RECORDS:
        return f'at most {MAX_RECORDS} records per request ("records" has {len(records)})'
    if not all(isinstance(r, dict | list) for r in records):
        return "each record is an object of feature values (or a list of them)"
    return records


@app.route("/predict", methods=["POST"], content_types=["application/json"])
def predict() -> Any:
    records = _records(app.current_request.raw_body)
    if isinstance(records, str):
        return _error(400, records)
    event = {"model_name": os.environ["MODEL_NAME"], "alias": os.environ.get("MODEL_ALIAS", "champion"),
             "records": records}
    answer = _client().invoke(FunctionName=os.environ["PREDICT_FUNCTION"], Payload=json.dumps(event).encode())
    payload = json.loads(answer["Payload"].read() or b"null")
    if answer.get("FunctionError"):
        kind = payload.get("errorType", "") if isinstance(payload, dict) else ""
        message = payload.get("errorMessage", "prediction failed") if isinstance(payload, dict) else str(payload)
        if kind in _CLIENT_ERRORS:
            return _error(400, message)
        if kind in _NO_MODEL:
            return _error(503, f"no model registered: {message}")
        app.log.error("predict failed: %s: %s", kind, message)
        return _error(502, "prediction failed")
    return payload
