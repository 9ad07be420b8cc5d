"""serving: the HTTP API of the model registry's versions (a Chalice app; stepkit deploys it as
a REST API, see ``functions.serving.api`` in infra/stack.yaml).

- ``GET /health`` -> ``{"status": "ok"}``.
- ``POST /predict`` ``{"record": {feature: value, ...}}`` or ``{"records": [...]}`` (optional
  ``"caller"``; or an ``X-Caller-Id`` header) -> the answer of the version the model's routing
  policy picks, with ``model_version`` and ``request_id`` in the body and an
  ``X-Model-Version`` header. ``X-Model-Version`` on the request pins a version.
- ``POST /feedback`` ``{"request_id", "label" | "reward"}`` -> the reward counted for the
  version that answered.
- ``GET /models`` -> the registry's versions, their traffic shares and live metrics.
- ``PUT /models/{name}/policy`` -> change the routing at run time (``expected_revision``
  optional; ``reset_arms: true`` starts the policy's versions' counters from zero);
  ``GET /models/{name}/policy``; ``GET /models/{name}/decisions``: the rollout log.

Bad input changes nothing: 400 (not JSON, wrong shape), 422 (features missing or extra,
bad fields), 404 (unknown version or request id), 409 (feedback already recorded, policy
changed meanwhile), 503 (no model registered; the model could not answer, after falling
back to the champion).
"""

from __future__ import annotations

import functools
import json
import uuid
from typing import Any

from chalice import Chalice, Response
from chalicelib.backend import Backend, ServingError, logger
from chalicelib.views import feedback_request, models_view, policy_request, predict_records
from mlcontract.errors import FeedbackAlreadyRecordedError, PolicyConflictError, UnknownRequestError
from mlcontract.routing import ensemble_arm

app = Chalice(app_name="stepkit-serving")
_backend: Backend | None = None


def backend() -> Backend:
    """The worker's backend, made on first use (tests set their own with :func:`use_backend`)."""
    global _backend
    if _backend is None:
        _backend = Backend.from_environment()
    return _backend


def use_backend(value: Backend | None) -> None:
    global _backend
    _backend = value


def _error(status: int, message: str, **extra: Any) -> Response:
    return Response(body={"error": message, **extra}, status_code=status,
                    headers={"Content-Type": "application/json"})


def _json_body() -> Any:
    """The request's JSON body; :class:`ServingError` 400 when it is not JSON."""
    try:
        return json.loads(app.current_request.raw_body or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ServingError(400, f"the body is not valid JSON: {exc}") from None


def _handled(route: Any) -> Any:
    """A route whose :class:`ServingError` becomes its status and ``{"error": ...}``, and any
    other failure a 500 without a traceback (the traceback goes to the log)."""

    @functools.wraps(route)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return route(*args, **kwargs)
        except ServingError as exc:
            return _error(exc.status, exc.message)
        except Exception:
            logger.exception("request failed")
            return _error(500, "internal error (logged)")

    return wrapper


@app.route("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


def _header(name: str) -> str | None:
    headers = app.current_request.headers or {}
    value = headers.get(name) or headers.get(name.lower())
    return value.strip() if isinstance(value, str) and value.strip() else None


@app.route("/predict", methods=["POST"], content_types=["application/json"])
@_handled
def predict() -> Response:
    request_id = uuid.uuid4().hex
    logger.append_keys(request_id=request_id)
    try:
        records, caller = predict_records(_json_body())
        served = backend().predict(request_id, records, _header("X-Model-Version"), _header("X-Caller-Id") or caller)
    finally:
        logger.remove_keys(["request_id"])
    return Response(body=served.body(), status_code=200,
                    headers={"Content-Type": "application/json", "X-Model-Version": served.version,
                             "X-Request-Id": request_id})


@app.route("/feedback", methods=["POST"], content_types=["application/json"])
@_handled
def feedback() -> Any:
    request = feedback_request(_json_body())
    try:
        return backend().feedback(request.request_id, request.label, request.reward)
    except UnknownRequestError as exc:
        return _error(404, str(exc))
    except FeedbackAlreadyRecordedError as exc:
        return _error(409, str(exc))


@app.route("/models")
@_handled
def models() -> Any:
    serving = backend()
    return models_view(serving, serving.model_name)


@app.route("/models/{name}/policy", methods=["GET"])
@_handled
def get_policy(name: str) -> Any:
    serving = backend()
    serving.index(name)
    policy, revision = serving.state.policy(name)
    return {"model_name": name, "policy": policy.model_dump(), "revision": revision}


@app.route("/models/{name}/policy", methods=["PUT"], content_types=["application/json"])
@_handled
def put_policy(name: str) -> Any:
    serving = backend()
    policy, expected, reset = policy_request(_json_body(), serving.index(name), name)
    try:
        revision = serving.state.set_policy(name, policy, expected_revision=expected)
    except PolicyConflictError as exc:
        return _error(409, str(exc))
    arms = policy.arms() + ([ensemble_arm(policy.arms())] if policy.kind == "ensemble" else [])
    for version in arms if reset else []:
        serving.state.reset_arm(name, version)
    logger.info("routing policy changed", extra={"model_name": name, "policy": policy.model_dump(),
                                                 "revision": revision, "reset_arms": arms if reset else []})
    return {"model_name": name, "policy": policy.model_dump(), "revision": revision,
            "reset_arms": arms if reset else []}


@app.route("/models/{name}/decisions", methods=["GET"])
@_handled
def decisions(name: str) -> Any:
    serving = backend()
    serving.index(name)
    return {"model_name": name, "decisions": serving.state.decisions(name)}
