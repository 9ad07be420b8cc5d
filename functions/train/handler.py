"""train: fit one candidate (model family + hyperparameters) on a run's processed data.

Input (one invocation per candidate; the training state machine fans out over a grid)::

    {"bucket": "artifacts", "run_id": "run-1", "manifest_key": "runs/run-1/processed/manifest.json",
     "candidate": {"family": "random_forest", "params": {"n_estimators": 200, "max_depth": 8},
                   "id": "rf-200"},
     "seed": 42}

Writes under ``runs/<run_id>/candidates/<candidate_id>/``: ``model.joblib`` (the estimator
bundled with the preprocessing it expects, see :func:`model_bundle`), ``metrics.json``
(validation metrics) and ``lineage.json`` (dataset and split hashes, parameters, code and
library versions). Returns the candidate's summary with ``"status": "SUCCEEDED"``.

Errors: :class:`InvalidHyperparametersError` (unknown family parameter or bad value),
:class:`TrainingFailedError` (the estimator raised while fitting),
:class:`DatasetIntegrityError` (a split's content hash differs from the manifest's),
:class:`ArtifactNotFoundError` (the manifest or a split does not exist).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import platform
import re
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import boto3
import joblib
import numpy as np
import sklearn
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, log_loss, roc_auc_score

SERVICE = "train"
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "StepkitML"), service=SERVICE)

SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._=-]{0,127}$"
MODEL_FORMAT = "stepkit.model/1"

#: family -> (estimator class, defaults applied before the candidate's own parameters).
#: n_jobs=1: parallelism comes from the fan-out (one candidate per Lambda), not inside one.
FAMILIES: dict[str, tuple[type, dict[str, Any]]] = {
    "logistic_regression": (LogisticRegression, {"max_iter": 2000}),
    "random_forest": (RandomForestClassifier, {"n_estimators": 100, "n_jobs": 1}),
    "extra_trees": (ExtraTreesClassifier, {"n_estimators": 100, "n_jobs": 1}),
    "gradient_boosting": (GradientBoostingClassifier, {}),
    "hist_gradient_boosting": (HistGradientBoostingClassifier, {}),
}
Family = Literal["logistic_regression", "random_forest", "extra_trees", "gradient_boosting", "hist_gradient_boosting"]


class InvalidEventError(ValueError):
    """The event does not have the fields this function needs."""


class ArtifactNotFoundError(Exception):
    """An object this function reads does not exist."""


class DatasetIntegrityError(Exception):
    """A processed split's content does not match the hash recorded in the manifest."""


class InvalidHyperparametersError(ValueError):
    """The candidate's parameters are not valid for its model family."""


class TrainingFailedError(Exception):
    """The estimator raised while fitting; the message carries the original error."""


class Candidate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    family: Family
    params: dict[str, Any] = Field(default_factory=dict)
    id: str | None = Field(None, pattern=SAFE_NAME)


class TrainEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bucket: str | None = None
    run_id: str = Field(pattern=SAFE_NAME)
    manifest_key: str = Field(min_length=1)
    candidate: Candidate
    seed: int = 42
    output_prefix: str | None = None

    @model_validator(mode="after")
    def _defaults(self) -> TrainEvent:
        self.bucket = self.bucket or os.environ.get("ARTIFACTS_BUCKET")
        if not self.bucket:
            raise ValueError("no bucket: give `bucket` or set ARTIFACTS_BUCKET")
        self.output_prefix = (self.output_prefix or f"runs/{self.run_id}/candidates").strip("/")
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
    candidate = request.candidate
    candidate_id = candidate.id or candidate_id_for(candidate.family, candidate.params)
    # Per-call `extra=` rather than logger.append_keys / metrics.add_dimension: those are
    # process-wide, and candidates may share a process when called in-process concurrently.
    log_keys = {"candidate_id": candidate_id, "family": candidate.family}

    manifest_body = _get(request.bucket, request.manifest_key)
    manifest = json.loads(manifest_body)
    x_train, y_train = _load_split(request.bucket, manifest, "train")
    x_val, y_val = _load_split(request.bucket, manifest, "validation")

    estimator = build_estimator(candidate.family, candidate.params, request.seed)
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            estimator.fit(x_train, y_train)
        except (ValueError, TypeError) as exc:
            if type(exc).__name__ == "InvalidParameterError":  # sklearn's check of a parameter's value
                raise InvalidHyperparametersError(f"{candidate_id}: {exc}") from None
            raise TrainingFailedError(f"{candidate_id} ({candidate.family}) failed to train: "
                                      f"{type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            raise TrainingFailedError(f"{candidate_id} ({candidate.family}) failed to train: "
                                      f"{type(exc).__name__}: {exc}") from exc
    train_seconds = time.perf_counter() - started

    validation = evaluate(estimator, x_val, y_val)
    train_accuracy = float(accuracy_score(y_train, estimator.predict(x_train)))
    notes = sorted({f"{w.category.__name__}: {str(w.message)[:200]}" for w in caught})[:10]

    prefix = f"{request.output_prefix}/{candidate_id}"
    bundle = model_bundle(estimator, manifest, candidate_id, candidate.family, candidate.params)
    buffer = io.BytesIO()
    joblib.dump(bundle, buffer, compress=3)
    artifact = buffer.getvalue()
    artifact_sha = hashlib.sha256(artifact).hexdigest()
    artifact_key = f"{prefix}/model.joblib"
    s3().put_object(Bucket=request.bucket, Key=artifact_key, Body=artifact, ContentType="application/octet-stream")

    lineage = {
        "candidate_id": candidate_id,
        "run_id": request.run_id,
        "family": candidate.family,
        "params": candidate.params,
        "effective_params": _json_safe(estimator.get_params()),
        "seed": request.seed,
        "dataset": manifest["source"],
        "manifest": {"bucket": request.bucket, "key": request.manifest_key,
                     "sha256": hashlib.sha256(manifest_body).hexdigest()},
        "splits": {name: manifest["files"][name]["sha256"] for name in ("train", "validation", "test")},
        "artifact": {"key": artifact_key, "sha256": artifact_sha, "bytes": len(artifact)},
        "code": code_version(context),
        "libraries": {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
                      "numpy": np.__version__, "joblib": joblib.__version__},
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    metrics_doc = {
        "candidate_id": candidate_id,
        "family": candidate.family,
        "validation": validation,
        "train": {"accuracy": _round(train_accuracy)},
        "rows": {"train": len(y_train), "validation": len(y_val)},
        "train_seconds": round(train_seconds, 4),
        "warnings": notes,
    }
    metrics_key = f"{prefix}/metrics.json"
    lineage_key = f"{prefix}/lineage.json"
    s3().put_object(Bucket=request.bucket, Key=metrics_key, Body=_json_bytes(metrics_doc),
                    ContentType="application/json")
    s3().put_object(Bucket=request.bucket, Key=lineage_key, Body=_json_bytes(lineage),
                    ContentType="application/json")

    metrics.add_metric(name="TrainSeconds", unit=MetricUnit.Seconds, value=train_seconds)
    if validation.get("accuracy") is not None:
        metrics.add_metric(name="ValidationAccuracy", unit=MetricUnit.Percent, value=100 * validation["accuracy"])
    logger.info("candidate trained",
                extra={**log_keys, "validation": validation, "train_seconds": round(train_seconds, 3)})
    return {
        "status": "SUCCEEDED",
        "candidate_id": candidate_id,
        "family": candidate.family,
        "params": candidate.params,
        "artifact_key": artifact_key,
        "artifact_sha256": artifact_sha,
        "metrics_key": metrics_key,
        "lineage_key": lineage_key,
        "validation": validation,
        "train_seconds": round(train_seconds, 4),
        "warnings": notes,
    }


# -- helpers ------------------------------------------------------------------------------------


def _parse_event(event: Any) -> TrainEvent:
    try:
        return parse(event=event, model=TrainEvent)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in exc.errors())
        raise InvalidEventError(f"bad train event: {problems}") from None


def candidate_id_for(family: str, params: dict[str, Any]) -> str:
    """A stable id when the grid gives none: the family and a hash of the parameters."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f"{family}-{digest}"


def build_estimator(family: str, params: dict[str, Any], seed: int) -> Any:
    cls, defaults = FAMILIES[family]
    estimator = cls()
    settings = {**defaults, **params}
    if "random_state" in estimator.get_params() and "random_state" not in params:
        settings["random_state"] = seed
    valid = estimator.get_params()
    unknown = sorted(set(settings) - set(valid))
    if unknown:
        raise InvalidHyperparametersError(
            f"{family} has no parameter {', '.join(repr(u) for u in unknown)} "
            f"(valid: {', '.join(sorted(valid))})"
        )
    estimator.set_params(**settings)
    return estimator


def model_bundle(estimator: Any, manifest: dict[str, Any], candidate_id: str, family: str,
                 params: dict[str, Any]) -> dict[str, Any]:
    """What ``model.joblib`` holds: plain data plus the scikit-learn estimator, so loading it
    needs only scikit-learn (no module of this project). ``predict`` and ``select_model``
    apply ``preprocessing`` (median imputation, standard scaling) to raw feature values in
    ``feature_columns`` order, then call the estimator."""
    return {
        "format": MODEL_FORMAT,
        "estimator": estimator,
        "feature_columns": list(manifest["feature_columns"]),
        "target_column": manifest["target_column"],
        "classes": [str(c) for c in estimator.classes_],
        "preprocessing": manifest["preprocessing"],
        "candidate_id": candidate_id,
        "family": family,
        "params": params,
        "dataset_sha256": manifest["source"]["sha256"],
        "libraries": {"scikit-learn": sklearn.__version__, "numpy": np.__version__},
    }


def evaluate(estimator: Any, x: np.ndarray, y: np.ndarray) -> dict[str, float | None]:
    """Classification metrics; ``None`` for one that cannot be computed on this split."""
    predicted = estimator.predict(x)
    result: dict[str, float | None] = {
        "accuracy": _round(accuracy_score(y, predicted)),
        "balanced_accuracy": _round(balanced_accuracy_score(y, predicted)),
        "f1_macro": _round(f1_score(y, predicted, average="macro", zero_division=0)),
        "roc_auc": None,
        "log_loss": None,
    }
    if hasattr(estimator, "predict_proba"):
        proba = estimator.predict_proba(x)
        classes = list(estimator.classes_)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                if len(classes) == 2:
                    result["roc_auc"] = _round(roc_auc_score(y == classes[1], proba[:, 1]))
                else:
                    result["roc_auc"] = _round(roc_auc_score(y, proba, multi_class="ovr", labels=classes))
            except ValueError:
                pass  # a class absent from this split
            with contextlib.suppress(ValueError):
                result["log_loss"] = _round(log_loss(y, proba, labels=classes))
    return result


def code_version(context: Any) -> dict[str, Any]:
    """What identifies the code that trained: the deployed function version and this
    handler's own source hash (the same source gives the same hash locally and in AWS)."""
    source = Path(__file__).read_bytes()
    return {
        "function_name": getattr(context, "function_name", None),
        "function_version": getattr(context, "function_version", None),
        "code_version": os.environ.get("CODE_VERSION"),
        "handler_sha256": hashlib.sha256(source).hexdigest(),
        "request_id": getattr(context, "aws_request_id", None),
    }


def _get(bucket: str, key: str) -> bytes:
    try:
        return s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NoSuchBucket", "NotFound"):
            raise ArtifactNotFoundError(f"s3://{bucket}/{key} does not exist ({code})") from None
        raise


def _load_split(bucket: str, manifest: dict[str, Any], name: str) -> tuple[np.ndarray, np.ndarray]:
    entry = manifest["files"][name]
    body = _get(bucket, entry["key"])
    digest = hashlib.sha256(body).hexdigest()
    if digest != entry["sha256"]:
        raise DatasetIntegrityError(
            f"s3://{bucket}/{entry['key']} has SHA-256 {digest[:12]}..., the manifest records "
            f"{entry['sha256'][:12]}...: the split changed after preprocessing"
        )
    return read_labelled_csv(body, manifest["feature_columns"], manifest["target_column"])


def read_labelled_csv(body: bytes, features: list[str], target: str) -> tuple[np.ndarray, np.ndarray]:
    reader = csv.reader(io.StringIO(body.decode("utf-8"), newline=""))
    header = next(reader)
    at = {name: i for i, name in enumerate(header)}
    rows = [row for row in reader if row]
    table = np.array(rows, dtype=str).reshape(len(rows), len(header))
    x = table[:, [at[c] for c in features]]
    x = np.where(x == "", "nan", x).astype(np.float64)
    return x, table[:, at[target]]


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return re.sub(r" at 0x[0-9a-f]+", "", repr(value))


def _round(value: Any) -> float | None:
    number = float(value)
    return round(number, 6) if math.isfinite(number) else None


def _json_bytes(document: Any) -> bytes:
    return (json.dumps(document, indent=2, allow_nan=False) + "\n").encode("utf-8")
