"""train: fit one candidate (model family + hyperparameters) on a run's processed data.

Input (one invocation per candidate; the training state machine fans out over a grid)::

    {"bucket": "artifacts", "run_id": "run-1", "manifest_key": "runs/run-1/processed/manifest.json",
     "candidate": {"family": "random_forest", "params": {"n_estimators": 200, "max_depth": 8},
                   "id": "rf-200"},
     "seed": 42}

Writes under ``runs/<run_id>/candidates/<candidate_id>/``: ``model.joblib`` (the estimator
bundled with the preprocessing it expects, see the layer's ``mlcontract.bundle``), ``metrics.json``
(validation metrics) and ``lineage.json`` (dataset and split hashes, parameters, code and
library versions). Returns the candidate's summary with ``"status": "SUCCEEDED"``.

Errors: :class:`InvalidHyperparametersError` (unknown family parameter or bad value),
:class:`TrainingFailedError` (the estimator raised while fitting),
:class:`DatasetIntegrityError` (a split's content hash differs from the manifest's),
:class:`ArtifactNotFoundError` (the manifest or a split does not exist).
"""

from __future__ import annotations

import hashlib
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

import joblib
import numpy as np
import sklearn
from mlcontract import contract_sha256
from mlcontract.aws import json_bytes, read_object, s3
from mlcontract.bundle import candidate_id_for, dump_bundle, make_bundle
from mlcontract.errors import InvalidEventError
from mlcontract.events import SAFE_NAME, artifacts_bucket, parse_event
from mlcontract.features import pick_columns, read_labelled_csv
from mlcontract.scoring import evaluate, round6
from mlcontract.service import MetricUnit, Service
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

service = Service("train")
logger = service.logger
__all__ = ["InvalidEventError", "candidate_id_for", "handler"]

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
        self.bucket = artifacts_bucket(self.bucket)
        self.output_prefix = (self.output_prefix or f"runs/{self.run_id}/candidates").strip("/")
        return self


def run(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = parse_event(event, TrainEvent, "train")
    candidate = request.candidate
    candidate_id = candidate.id or candidate_id_for(candidate.family, candidate.params)
    # Per-call `extra=` rather than logger.append_keys / metrics.add_dimension: those are
    # process-wide, and candidates may share a process when called in-process concurrently.
    log_keys = {"candidate_id": candidate_id, "family": candidate.family}

    manifest_body = read_object(request.bucket, request.manifest_key, ArtifactNotFoundError)
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
    bundle = make_bundle(estimator, manifest, candidate_id=candidate_id, family=candidate.family,
                         params=candidate.params,
                         libraries={"scikit-learn": sklearn.__version__, "numpy": np.__version__})
    artifact = dump_bundle(bundle)
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
        "train": {"accuracy": round6(train_accuracy)},
        "rows": {"train": len(y_train), "validation": len(y_val)},
        "train_seconds": round(train_seconds, 4),
        "warnings": notes,
    }
    metrics_key = f"{prefix}/metrics.json"
    lineage_key = f"{prefix}/lineage.json"
    s3().put_object(Bucket=request.bucket, Key=metrics_key, Body=json_bytes(metrics_doc),
                    ContentType="application/json")
    s3().put_object(Bucket=request.bucket, Key=lineage_key, Body=json_bytes(lineage),
                    ContentType="application/json")

    service.count("TrainSeconds", train_seconds, MetricUnit.Seconds)
    if validation.get("accuracy") is not None:
        service.count("ValidationAccuracy", 100 * validation["accuracy"], MetricUnit.Percent)
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


def code_version(context: Any) -> dict[str, Any]:
    """What identifies the code that trained: the deployed function version and this
    handler's and the model layer's source hashes (the same sources give the same hashes locally and in AWS)."""
    source = Path(__file__).read_bytes()
    return {
        "function_name": getattr(context, "function_name", None),
        "function_version": getattr(context, "function_version", None),
        "code_version": os.environ.get("CODE_VERSION"),
        "handler_sha256": hashlib.sha256(source).hexdigest(),
        "model_layer_sha256": contract_sha256(),
        "request_id": getattr(context, "aws_request_id", None),
    }


def _load_split(bucket: str, manifest: dict[str, Any], name: str) -> tuple[np.ndarray, np.ndarray]:
    entry = manifest["files"][name]
    body = read_object(bucket, entry["key"], ArtifactNotFoundError)
    digest = hashlib.sha256(body).hexdigest()
    if digest != entry["sha256"]:
        raise DatasetIntegrityError(
            f"s3://{bucket}/{entry['key']} has SHA-256 {digest[:12]}..., the manifest records "
            f"{entry['sha256'][:12]}...: the split changed after preprocessing"
        )
    names, x, y = read_labelled_csv(body, manifest["target_column"])
    return pick_columns(names, x, manifest["feature_columns"]), y


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


handler = service.handler(run)
