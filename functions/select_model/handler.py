"""select_model: rank the trained candidates, test the best, and compare it with the champion.

Input (the training state machine passes the Map's results unchanged)::

    {"bucket": "artifacts", "run_id": "run-1", "manifest_key": "runs/run-1/processed/manifest.json",
     "model_name": "breast-cancer", "registry_prefix": "registry", "metric": "balanced_accuracy",
     "candidates": [{"status": "SUCCEEDED", "candidate_id": ..., "artifact_key": ..., "validation": {...}},
                    {"status": "FAILED", "candidate": {...}, "error": "TrainingFailedError", "cause": "..."}]}

Ranks the succeeded candidates by their validation ``metric``, scores the best on the test
split, and scores the registry's ``champion`` on the same test rows (through the champion's
own preprocessing, from ``test_raw.csv``), so both numbers are comparable. Writes
``runs/<run_id>/selection.json`` and returns the comparison; the decision to register is the
state machine's (its Choice on ``best_test_score``, ``has_champion`` and ``improvement``).

Errors: :class:`NoSuccessfulCandidatesError` (every candidate failed),
:class:`ModelNotFoundError` (the registry names a champion whose files are gone),
:class:`ModelIntegrityError` (an artifact's hash differs from the one recorded).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import warnings
from typing import Annotated, Any, Literal

import boto3
import joblib
import numpy as np
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, log_loss, roc_auc_score

SERVICE = "select_model"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "StepkitML"), service=SERVICE)

SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._=-]{0,127}$"
Metric = Literal["accuracy", "balanced_accuracy", "f1_macro", "roc_auc"]


class InvalidEventError(ValueError):
    """The event does not have the fields this function needs."""


class NoSuccessfulCandidatesError(Exception):
    """No candidate trained successfully; the message lists each failure."""


class ModelNotFoundError(Exception):
    """The registry or an artifact it refers to is missing."""


class ModelIntegrityError(Exception):
    """An artifact's content hash differs from the one recorded when it was written."""


class SucceededCandidate(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["SUCCEEDED"]
    candidate_id: str
    family: str
    params: dict[str, Any] = Field(default_factory=dict)
    artifact_key: str
    artifact_sha256: str
    metrics_key: str
    lineage_key: str
    validation: dict[str, float | None]
    train_seconds: float | None = None


class FailedCandidate(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["FAILED"]
    candidate: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    cause: str | None = None


CandidateResult = Annotated[SucceededCandidate | FailedCandidate, Field(discriminator="status")]


class SelectEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bucket: str | None = None
    run_id: str = Field(pattern=SAFE_NAME)
    manifest_key: str
    model_name: str = Field(pattern=SAFE_NAME)
    registry_prefix: str = "registry"
    metric: Metric = "balanced_accuracy"
    candidates: list[CandidateResult] = Field(min_length=1)

    @model_validator(mode="after")
    def _defaults(self) -> SelectEvent:
        self.bucket = self.bucket or os.environ.get("ARTIFACTS_BUCKET")
        if not self.bucket:
            raise ValueError("no bucket: give `bucket` or set ARTIFACTS_BUCKET")
        self.registry_prefix = self.registry_prefix.strip("/")
        return self


_s3_client: Any = None


def s3() -> Any:
    global _s3_client
    if _s3_client is None:
        _s3_client = boto3.client("s3", config=Config(retries={"mode": "standard", "max_attempts": 5}))
    return _s3_client


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return run(event, context)
    except Exception as exc:
        metrics.add_metric(name="Failures", unit=MetricUnit.Count, value=1)
        logger.error("invocation failed", extra={"error_type": type(exc).__name__, "error": str(exc)[:1000]})
        raise


def run(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = _parse_event(event)
    bucket = request.bucket
    succeeded = [c for c in request.candidates if isinstance(c, SucceededCandidate)]
    failed = [c for c in request.candidates if isinstance(c, FailedCandidate)]
    failures = [{"candidate_id": _failed_id(c), "error": c.error, "cause": _short(c.cause)} for c in failed]
    if not succeeded:
        detail = "; ".join(f"{f['candidate_id']}: {f['error']}: {f['cause']}" for f in failures)
        raise NoSuccessfulCandidatesError(f"all {len(failed)} candidates failed: {detail}")

    def score(c: SucceededCandidate) -> float:
        value = c.validation.get(request.metric)
        return -math.inf if value is None else float(value)

    ranked = sorted(succeeded, key=lambda c: (-score(c), c.candidate_id))
    best = ranked[0]

    manifest = json.loads(_get(bucket, request.manifest_key))
    test_entry = manifest["files"]["test_raw"]
    test_body = _get(bucket, test_entry["key"])
    if hashlib.sha256(test_body).hexdigest() != test_entry["sha256"]:
        raise ModelIntegrityError(f"s3://{bucket}/{test_entry['key']} changed after preprocessing (hash differs)")
    header, raw_x, test_y = read_raw_csv(test_body, manifest["target_column"])

    best_bundle = load_bundle(bucket, best.artifact_key, best.artifact_sha256)
    best_test = evaluate_bundle(best_bundle, header, raw_x, test_y)

    champion = champion_report(request, header, raw_x, test_y, manifest)
    best_score = best_test.get(request.metric)
    improvement = None
    if champion and champion["comparable"] and best_score is not None and champion["test_score"] is not None:
        improvement = round(best_score - champion["test_score"], 6)

    result = {
        "run_id": request.run_id,
        "model_name": request.model_name,
        "metric": request.metric,
        "candidates": {"total": len(request.candidates), "succeeded": len(succeeded), "failed": len(failed),
                       "failures": failures},
        "ranking": [{"candidate_id": c.candidate_id, "family": c.family, "validation_score": c.validation.get(
            request.metric)} for c in ranked],
        "best": {
            "candidate_id": best.candidate_id,
            "family": best.family,
            "params": best.params,
            "artifact_key": best.artifact_key,
            "artifact_sha256": best.artifact_sha256,
            "metrics_key": best.metrics_key,
            "lineage_key": best.lineage_key,
            "validation": best.validation,
            "test": best_test,
        },
        "best_test_score": best_score if best_score is not None else -1.0,
        "test_rows": len(test_y),
        "has_champion": champion is not None,
        "champion_comparable": bool(champion and champion["comparable"]),
        "champion_version": champion["version"] if champion else None,
        "champion_test_score": champion["test_score"] if champion else None,
        "champion": champion,
        "improvement": improvement,
    }
    key = f"runs/{request.run_id}/selection.json"
    s3().put_object(Bucket=bucket, Key=key, ContentType="application/json",
                    Body=(json.dumps(result, indent=2, allow_nan=False) + "\n").encode())
    result["selection_key"] = key

    metrics.add_metric(name="CandidatesSucceeded", unit=MetricUnit.Count, value=len(succeeded))
    metrics.add_metric(name="CandidatesFailed", unit=MetricUnit.Count, value=len(failed))
    if best_score is not None:
        metrics.add_metric(name="BestTestScore", unit=MetricUnit.Percent, value=100 * best_score)
    logger.info("model selected", extra={"best": best.candidate_id, "metric": request.metric,
                                         "best_test_score": best_score, "champion": champion,
                                         "improvement": improvement})
    return result


# -- the champion -------------------------------------------------------------------------------


def champion_report(request: SelectEvent, header: list[str], raw_x: np.ndarray, test_y: np.ndarray,
                    manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The champion scored on this run's test rows, or ``None`` when the registry has none."""
    prefix = f"{request.registry_prefix}/{request.model_name}"
    index_key = f"{prefix}/index.json"
    try:
        index = json.loads(s3().get_object(Bucket=request.bucket, Key=index_key)["Body"].read())
    except ClientError as exc:
        if _not_found(exc):
            return None  # no registry yet: the first model
        raise
    version = (index.get("aliases") or {}).get("champion")
    if version is None:
        return None
    entry = (index.get("versions") or {}).get(str(version))
    if entry is None:
        raise ModelNotFoundError(
            f"s3://{request.bucket}/{index_key}: alias 'champion' names version {version}, which the index lacks"
        )
    bundle = load_bundle(request.bucket, entry["artifact_key"], entry["artifact_sha256"])
    report: dict[str, Any] = {"version": int(version), "candidate_id": entry.get("candidate_id"),
                              "family": entry.get("family"), "registered_metric": entry.get("metric"),
                              "registered_test_score": entry.get("test_score")}
    missing = [c for c in bundle["feature_columns"] if c not in header]
    if missing:
        report.update(comparable=False, test_score=None, test=None,
                      reason=f"the champion needs features this dataset lacks: {', '.join(missing[:5])}")
        return report
    test = evaluate_bundle(bundle, header, raw_x, test_y)
    report.update(comparable=True, test=test, test_score=test.get(request.metric), reason=None)
    return report


# -- models (the same bundle format and preprocessing as train and predict write and use) -------


def load_bundle(bucket: str, key: str, sha256: str) -> dict[str, Any]:
    body = _get(bucket, key, missing=ModelNotFoundError)
    digest = hashlib.sha256(body).hexdigest()
    if digest != sha256:
        raise ModelIntegrityError(f"s3://{bucket}/{key} has SHA-256 {digest[:12]}..., expected {sha256[:12]}...")
    return joblib.load(io.BytesIO(body))


def features_for(bundle: dict[str, Any], header: list[str], raw_x: np.ndarray) -> np.ndarray:
    """The bundle's preprocessing applied to raw columns picked by name."""
    at = {name: i for i, name in enumerate(header)}
    x = raw_x[:, [at[c] for c in bundle["feature_columns"]]]
    prep = bundle["preprocessing"]
    x = np.where(np.isnan(x), np.asarray(prep["medians"]), x)
    return (x - np.asarray(prep["means"])) / np.asarray(prep["scales"])


def evaluate_bundle(bundle: dict[str, Any], header: list[str], raw_x: np.ndarray,
                    y: np.ndarray) -> dict[str, float | None]:
    estimator = bundle["estimator"]
    x = features_for(bundle, header, raw_x)
    predicted = estimator.predict(x).astype(str)
    result: dict[str, float | None] = {
        "accuracy": _round(accuracy_score(y, predicted)),
        "balanced_accuracy": _round(balanced_accuracy_score(y, predicted)),
        "f1_macro": _round(f1_score(y, predicted, average="macro", zero_division=0)),
        "roc_auc": None,
        "log_loss": None,
    }
    if hasattr(estimator, "predict_proba"):
        proba = estimator.predict_proba(x)
        classes = [str(c) for c in estimator.classes_]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                if len(classes) == 2:
                    result["roc_auc"] = _round(roc_auc_score(y == classes[1], proba[:, 1]))
                else:
                    result["roc_auc"] = _round(roc_auc_score(y, proba, multi_class="ovr", labels=classes))
            except ValueError:
                pass
            with contextlib.suppress(ValueError):
                result["log_loss"] = _round(log_loss(y, proba, labels=classes))
    return result


def read_raw_csv(body: bytes, target: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    reader = csv.reader(io.StringIO(body.decode("utf-8"), newline=""))
    header = next(reader)
    t = header.index(target)
    rows = [row for row in reader if row]
    table = np.array(rows, dtype=str).reshape(len(rows), len(header))
    cols = [i for i in range(len(header)) if i != t]
    x = table[:, cols]
    x = np.where(x == "", "nan", x).astype(np.float64)
    return [header[i] for i in cols], x, table[:, t]


# -- helpers ------------------------------------------------------------------------------------


def _parse_event(event: Any) -> SelectEvent:
    try:
        return parse(event=event, model=SelectEvent)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in exc.errors())
        raise InvalidEventError(f"bad select_model event: {problems}") from None


def _failed_id(c: FailedCandidate) -> str:
    """The id train would have given the candidate (same rule as train's ``candidate_id_for``)."""
    candidate = c.candidate or {}
    if candidate.get("id"):
        return str(candidate["id"])
    params = candidate.get("params") or {}
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f"{candidate.get('family', 'unknown')}-{digest}"


def _not_found(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code", "") in ("NoSuchKey", "404", "NotFound")


def _get(bucket: str, key: str, missing: type[Exception] = ModelNotFoundError) -> bytes:
    try:
        return s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if _not_found(exc) or exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
            raise missing(f"s3://{bucket}/{key} does not exist") from None
        raise


def _short(text: str | None, limit: int = 300) -> str | None:
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _round(value: Any) -> float | None:
    number = float(value)
    return round(number, 6) if math.isfinite(number) else None

