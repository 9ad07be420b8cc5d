"""What the serving API's routes stand on: the registry (S3 ``index.json``), the router's state
(DynamoDB, :mod:`mlcontract.router_state`), the routing policies (:mod:`mlcontract.routing`)
and the ``predict`` function, which loads a version once per worker and keeps it warm.

Nothing here knows HTTP: failures are :class:`ServingError` with the status the route answers.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from mlcontract.errors import ModelNotFoundError, NoChampionError
from mlcontract.registry import current_index, index_key
from mlcontract.router_state import RouterState
from mlcontract.routing import ArmStats, ChampionPolicy, Decision, RoutingPolicy, choose, combine, ensemble_arm

logger = Logger(service="serving")

#: predict's errors that are the request's fault: the records do not fit the model.
RECORD_ERRORS = frozenset({"FeatureMismatchError", "InvalidRecordError", "InvalidEventError"})

#: the policies that choose from the versions' live counters
ADAPTIVE = frozenset({"thompson", "epsilon_greedy"})

#: ``invoke(payload, asynchronous)`` -> (error type or None, the function's answer)
Invoker = Callable[[dict[str, Any], bool], tuple[str | None, Any]]


class ServingError(Exception):
    """A request the API answers with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


NO_ROUTER = ("this deployment of the serving API has no router table (ROUTER_TABLE is empty): every request goes to "
             "the champion, and feedback, routing policies and rollout decisions are not available")


class NoRouterState:
    """The router's state where a stage deploys serving without the router table (``ROUTER_TABLE``
    empty: the LocalStack stage, whose DynamoDB is a download an offline machine cannot make).
    Duck-types :class:`~mlcontract.router_state.RouterState`: every request goes to the
    champion; nothing is counted (the versions' metrics are still emitted as EMF lines and
    logs); feedback, policy changes and the rollout's decisions answer 503 saying why."""

    def policy(self, model: str) -> tuple[RoutingPolicy, int]:
        return ChampionPolicy(), 0

    def stats(self, model: str) -> dict[str, ArmStats]:
        return {}

    def view(self, model: str) -> tuple[RoutingPolicy, int, dict[str, ArmStats]]:
        return ChampionPolicy(), 0, {}

    def remember_prediction(self, *args: Any, **kwargs: Any) -> None:
        """No prediction is kept: without the table there is no /feedback to match it."""

    def record_request(self, *args: Any, **kwargs: Any) -> None:
        """No counters without the table: the request is in the metrics (EMF) and logs only."""

    def record_feedback(self, *args: Any, **kwargs: Any) -> Any:
        raise ServingError(503, NO_ROUTER)

    def set_policy(self, *args: Any, **kwargs: Any) -> int:
        raise ServingError(503, NO_ROUTER)

    def reset_arm(self, *args: Any, **kwargs: Any) -> None:
        raise ServingError(503, NO_ROUTER)

    def decisions(self, model: str) -> list[dict[str, Any]]:
        raise ServingError(503, NO_ROUTER)


class _Unanswered(Exception):
    """A version could not answer (unreadable model, predict failed); the router may fall back."""

    def __init__(self, version: str, error_type: str, message: str) -> None:
        super().__init__(f"version {version}: {error_type}: {message}")
        self.version = version


def lambda_invoker(function_name: str) -> Invoker:
    """Invoke ``function_name`` through the Lambda API (``Event`` for background work)."""
    import boto3
    from botocore.config import Config

    client = boto3.client("lambda", config=Config(retries={"mode": "standard", "max_attempts": 3}, read_timeout=70))

    def invoke(payload: dict[str, Any], asynchronous: bool) -> tuple[str | None, Any]:
        answer = client.invoke(FunctionName=function_name, Payload=json.dumps(payload).encode(),
                               InvocationType="Event" if asynchronous else "RequestResponse")
        if asynchronous:
            return None, None
        body = json.loads(answer["Payload"].read() or b"null")
        if answer.get("FunctionError"):
            kind = body.get("errorType", "Unhandled") if isinstance(body, dict) else "Unhandled"
            message = body.get("errorMessage", "") if isinstance(body, dict) else str(body)
            return kind or "Unhandled", message
        return None, body

    return invoke


@dataclass
class Served:
    """One answered /predict: the body's fields and what the metrics need."""

    request_id: str
    model_name: str
    version: str
    policy: str
    answer: dict[str, Any]
    latency_ms: float
    fallback_from: str | None = None
    ensemble: list[str] | None = None

    def body(self) -> dict[str, Any]:
        out = {"request_id": self.request_id, "model_name": self.model_name, "model_version": self.version,
               "policy": self.policy, "count": self.answer.get("count"), "classes": self.answer.get("classes"),
               "predictions": self.answer.get("predictions")}
        if self.fallback_from is not None:
            out["fallback_from"] = self.fallback_from
        if self.ensemble is not None:
            out["ensemble"] = self.ensemble
        return out


@dataclass
class Backend:
    """The serving API's state and collaborators (one per worker; tests build their own)."""

    model_name: str
    bucket: str
    registry_prefix: str
    state: RouterState | NoRouterState
    invoke: Invoker
    rng: random.Random = field(default_factory=random.Random)
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=4))

    @classmethod
    def from_environment(cls) -> Backend:
        return cls(model_name=os.environ["MODEL_NAME"], bucket=os.environ["ARTIFACTS_BUCKET"],
                   registry_prefix=os.environ.get("REGISTRY_PREFIX", "registry"),
                   state=RouterState(table) if (table := os.environ.get("ROUTER_TABLE")) else NoRouterState(),
                   invoke=lambda_invoker(os.environ["PREDICT_FUNCTION"]))

    # -- the registry -------------------------------------------------------------------------

    def index(self, model_name: str | None = None) -> dict[str, Any]:
        """The registry's index; 503 when no model is registered under that name yet."""
        name = model_name or self.model_name
        try:
            return current_index(self.bucket, index_key(self.registry_prefix, name), name)
        except ModelNotFoundError as exc:
            raise ServingError(503, f"no model registered: {exc}") from None

    # -- /predict ---------------------------------------------------------------------------

    def decide(self, index: dict[str, Any], pinned: str | None, caller_key: str | None) -> tuple[Decision, str]:
        """Which version answers: the pinned one (404 when the registry has no such version),
        else the model's policy applied to its live counters; and an ensemble's method."""
        versions = index.get("versions") or {}
        if pinned is not None:
            if pinned not in versions:
                known = ", ".join(sorted(versions, key=int)) or "none"
                raise ServingError(404, f"model '{self.model_name}' has no version {pinned!r} (versions: {known})")
            return Decision(version=pinned, policy="pinned"), "vote"
        # Only the bandits read the counters, and only of the arms they choose between (one
        # BatchGetItem): a GetItem of the policy is all the others need.
        policy, _ = self.state.policy(self.model_name)
        stats = self.state.stats(self.model_name, policy.arms()) if policy.kind in ADAPTIVE else {}
        try:
            decision = choose(policy, stats, caller_key=caller_key, rng=self.rng, champion=self.champion(index))
        except NoChampionError as exc:
            raise ServingError(503, f"no model registered as champion: {exc}") from None
        return decision, getattr(policy, "method", "vote")

    @staticmethod
    def champion(index: dict[str, Any]) -> str | None:
        version = (index.get("aliases") or {}).get("champion")
        return None if version is None else str(version)

    def predict(self, request_id: str, records: list[Any], pinned: str | None, caller_key: str | None) -> Served:
        index = self.index()
        decision, method = self.decide(index, pinned, caller_key)
        started = time.perf_counter()
        try:
            served = self._answer(request_id, records, decision, index, method)
        except _Unanswered as failed:
            champion = self.champion(index)
            if pinned is not None or champion is None or failed.version == champion:
                raise ServingError(503, f"the model could not answer: {failed}") from None
            logger.warning("falling back to the champion", extra={"failed_version": failed.version,
                                                                   "champion": champion, "error": str(failed)})
            started = time.perf_counter()
            served = self._answer(request_id, records, Decision(version=champion, policy=decision.policy), index,
                                  method)
            served.fallback_from = failed.version
        served.latency_ms = (time.perf_counter() - started) * 1000
        self._count(served)
        if decision.shadow is not None and decision.shadow in (index.get("versions") or {}):
            self._shadow(served, decision.shadow, records)
        return served

    def _answer(self, request_id: str, records: list[Any], decision: Decision, index: dict[str, Any],
                method: str) -> Served:
        if decision.ensemble:
            return self._ensemble(request_id, records, decision, index, method)
        started = time.perf_counter()
        answer = self._score(decision.version, records, index)
        return Served(request_id, self.model_name, decision.version, decision.policy, answer,
                      (time.perf_counter() - started) * 1000)

    def _score(self, version: str, records: list[Any], index: dict[str, Any]) -> dict[str, Any]:
        """``version``'s answer for the records; 422 when they do not fit the model,
        :class:`_Unanswered` when the version cannot answer (counted as its error)."""
        if version not in (index.get("versions") or {}):
            self._record(version, 0.0, error=True)
            raise _Unanswered(version, "ModelNotFoundError", "not in the registry")
        started = time.perf_counter()
        try:
            error, answer = self.invoke(self._event(version, records), False)
        except Exception as exc:  # the Lambda API itself failed (throttled, timed out)
            error, answer = type(exc).__name__, str(exc)
        if error in RECORD_ERRORS:
            raise ServingError(422, str(answer))
        if error is not None:
            self._record(version, (time.perf_counter() - started) * 1000, error=True)
            raise _Unanswered(version, error, str(answer)[:500])
        return answer  # type: ignore[no-any-return]

    def _event(self, version: str, records: list[Any]) -> dict[str, Any]:
        return {"bucket": self.bucket, "registry_prefix": self.registry_prefix, "model_name": self.model_name,
                "version": int(version), "records": records, "strict_features": True}

    def _ensemble(self, request_id: str, records: list[Any], decision: Decision, index: dict[str, Any],
                  method: str) -> Served:
        members = decision.ensemble or []
        started = time.perf_counter()
        answers = list(self.pool.map(lambda v: self._score(v, records, index), members))
        combined = [combine(method, [a["predictions"][i] for a in answers]) for i in range(len(records))]
        classes = sorted({c for a in answers for c in a.get("classes") or []})
        answer = {"count": len(records), "classes": classes, "predictions": combined}
        return Served(request_id, self.model_name, ensemble_arm(members), decision.policy, answer,
                      (time.perf_counter() - started) * 1000, ensemble=members)

    def _count(self, served: Served) -> None:
        """The answer in the router's state (counters, the prediction kept for /feedback),
        the version's metrics and a log line."""
        predictions = served.answer.get("predictions") or []
        remembered = predictions[0] if len(predictions) == 1 else predictions
        # Two independent writes at once; both done before the answer (feedback may follow at once).
        kept = self.pool.submit(self.state.remember_prediction, served.request_id, self.model_name,
                                served.version, remembered)
        self._record(served.version, served.latency_ms, error=False)
        kept.result()
        logger.info("prediction served", extra={"request_id": served.request_id, "model_version": served.version,
                                                "policy": served.policy, "records": len(predictions),
                                                "latency_ms": round(served.latency_ms, 3),
                                                "fallback_from": served.fallback_from})

    def _record(self, version: str, latency_ms: float, *, error: bool) -> None:
        self.state.record_request(self.model_name, version, latency_ms, error)
        emit_metric(self.model_name, version, "Errors" if error else "Requests", 1)
        if not error:
            emit_metric(self.model_name, version, "Latency", latency_ms, MetricUnit.Milliseconds)

    def _shadow(self, served: Served, version: str, records: list[Any]) -> None:
        """Have ``version`` score the same records in the background (an asynchronous
        invocation of predict, which compares and counts; nothing comes back here)."""
        event = {**self._event(version, records), "action": "shadow", "strict_features": False,
                 "shadow_of": {"request_id": served.request_id, "version": served.version,
                               "predictions": served.answer.get("predictions") or []}}
        try:
            self.invoke(event, True)
        except Exception:  # the caller's answer does not depend on its shadow
            logger.exception("shadow invocation failed", extra={"request_id": served.request_id,
                                                                "shadow_version": version})

    # -- /feedback --------------------------------------------------------------------------

    def feedback(self, request_id: str, label: Any, reward: float | None) -> dict[str, Any]:
        model, version, value = self.state.record_feedback(request_id, label=label, reward=reward)
        emit_metric(model, version, "Feedback", 1)
        emit_metric(model, version, "Reward", value, MetricUnit.Count)
        logger.info("feedback recorded", extra={"request_id": request_id, "model_version": version, "reward": value})
        return {"request_id": request_id, "model_name": model, "model_version": version, "reward": value}


def emit_metric(model: str, version: str, name: str, value: float, unit: MetricUnit = MetricUnit.Count) -> None:
    """One metric of one version in CloudWatch's embedded metric format (a log line that
    CloudWatch, and the local endpoint's logs, read as a metric with these dimensions)."""
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "StepkitML")
    with single_metric(name=name, unit=unit, value=value, namespace=namespace) as metric:
        metric.add_dimension(name="model", value=model)
        metric.add_dimension(name="version", value=version)
