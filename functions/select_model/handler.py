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

import hashlib
import json
import math
from typing import Annotated, Any, Literal

import numpy as np
from botocore.exceptions import ClientError
from mlcontract.aws import NOT_FOUND_CODES, error_code, json_bytes, read_object, s3
from mlcontract.bundle import bundle_inputs, candidate_id_for, load_bundle
from mlcontract.errors import InvalidEventError, ModelIntegrityError, ModelNotFoundError
from mlcontract.events import SAFE_NAME, artifacts_bucket, parse_event
from mlcontract.features import read_labelled_csv
from mlcontract.scoring import evaluate
from mlcontract.service import MetricUnit, Service
from pydantic import BaseModel, ConfigDict, Field, model_validator

service = Service("select_model")
logger = service.logger
Metric = Literal["accuracy", "balanced_accuracy", "f1_macro", "roc_auc"]
__all__ = ["InvalidEventError", "ModelIntegrityError", "ModelNotFoundError", "handler"]


class NoSuccessfulCandidatesError(Exception):
    """No candidate trained successfully; the message lists each failure."""


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
        self.bucket = artifacts_bucket(self.bucket)
        self.registry_prefix = self.registry_prefix.strip("/")
        return self


def run(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = parse_event(event, SelectEvent, "select_model")
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

    manifest = json.loads(read_object(bucket, request.manifest_key, ModelNotFoundError))
    test_entry = manifest["files"]["test_raw"]
    test_body = read_object(bucket, test_entry["key"], ModelNotFoundError)
    if hashlib.sha256(test_body).hexdigest() != test_entry["sha256"]:
        raise ModelIntegrityError(f"s3://{bucket}/{test_entry['key']} changed after preprocessing (hash differs)")
    header, raw_x, test_y = read_labelled_csv(test_body, manifest["target_column"])

    best_bundle = fetch_bundle(bucket, best.artifact_key, best.artifact_sha256)
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
    s3().put_object(Bucket=bucket, Key=key, ContentType="application/json", Body=json_bytes(result))
    result["selection_key"] = key

    service.count("CandidatesSucceeded", len(succeeded))
    service.count("CandidatesFailed", len(failed))
    if best_score is not None:
        service.count("BestTestScore", 100 * best_score, MetricUnit.Percent)
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
        if error_code(exc) in NOT_FOUND_CODES:
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
    bundle = fetch_bundle(request.bucket, entry["artifact_key"], entry["artifact_sha256"])
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


def fetch_bundle(bucket: str, key: str, sha256: str) -> dict[str, Any]:
    body = read_object(bucket, key, ModelNotFoundError)
    return load_bundle(body, sha256, f"s3://{bucket}/{key}")


def evaluate_bundle(bundle: dict[str, Any], header: list[str], raw_x: np.ndarray,
                    y: np.ndarray) -> dict[str, float | None]:
    """The bundle scored on raw rows, through its own preprocessing."""
    return evaluate(bundle["estimator"], bundle_inputs(bundle, header, raw_x), y)


# -- helpers ------------------------------------------------------------------------------------


def _failed_id(c: FailedCandidate) -> str:
    """The id train would have given the candidate (same rule as train's ``candidate_id_for``)."""
    candidate = c.candidate or {}
    if candidate.get("id"):
        return str(candidate["id"])
    return candidate_id_for(candidate.get("family", "unknown"), candidate.get("params") or {})


def _short(text: str | None, limit: int = 300) -> str | None:
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 3] + "..."


handler = service.handler(run)
