"""drift_check: does a batch of rows to score still look like the champion's training data?

Input: an S3 event (a batch uploaded under ``incoming/``), or a scheduled one (an EventBridge
Scheduler schedule's or a rule's ``Input``), or a direct invocation::

    {"bucket": "artifacts", "model_name": "classifier", "registry_prefix": "registry",
     "batch_key": "incoming/batch.csv",   # default: the newest object under batch_prefix
     "batch_prefix": "incoming/", "threshold": 0.5,
     "retrain_dataset_key": "datasets/latest.csv"}

The score, per feature: how far the batch's mean moved from the training mean, in training
standard deviations (the champion's preprocessing manifest keeps both, fitted on its training
split); the drift is the mean of these over the features, the worst feature is reported too.
A batch whose drift exceeds the threshold (the event's, else ``DRIFT_THRESHOLD``, 0.5) is
published to ``DRIFT_TOPIC_ARN`` (SNS; the message is this function's result, with a ``drift``
number attribute), whose subscriber starts retraining.

Output: ``{"model_name", "model_version", "batch_key", "rows", "drift", "threshold", "drifted",
"worst_feature": {"name", "shift"}, "published": <message id or null>}``, or
``{"skipped": <why>}`` when there is no champion yet or no batch to check.
"""

from __future__ import annotations

import csv
import io
import json
import os
from typing import Any
from urllib.parse import unquote_plus

import boto3
import numpy as np
from mlcontract.aws import read_object, s3
from mlcontract.errors import InvalidEventError, ModelNotFoundError
from mlcontract.events import SAFE_NAME, artifacts_bucket, parse_event
from mlcontract.service import MetricUnit, Service
from pydantic import BaseModel, Field

service = Service("drift_check")
logger = service.logger
__all__ = ["InvalidEventError", "handler"]


class DriftEvent(BaseModel):
    bucket: str | None = None
    model_name: str = Field(default_factory=lambda: os.environ.get("MODEL_NAME", "classifier"), pattern=SAFE_NAME)
    registry_prefix: str = "registry"
    alias: str = Field("champion", pattern=SAFE_NAME)
    batch_key: str | None = None
    batch_prefix: str = "incoming/"
    threshold: float | None = Field(None, gt=0)
    retrain_dataset_key: str = "datasets/latest.csv"


def _from_s3_event(event: dict[str, Any]) -> dict[str, Any]:
    """An S3 notification as this function's event (the uploaded object is the batch)."""
    record = event["Records"][0]["s3"]
    return {"bucket": record["bucket"]["name"], "batch_key": unquote_plus(record["object"]["key"])}


def _champion_manifest(bucket: str, request: DriftEvent) -> tuple[int, dict[str, Any]]:
    root = f"{request.registry_prefix}/{request.model_name}"
    index = json.loads(read_object(bucket, f"{root}/index.json", ModelNotFoundError, "the registry index "))
    version = (index.get("aliases") or {}).get(request.alias)
    if version is None:
        raise ModelNotFoundError(f"model '{request.model_name}' has no alias '{request.alias}'")
    entry = index["versions"][str(version)]
    version_doc = json.loads(read_object(bucket, entry["version_key"], ModelNotFoundError))
    manifest = version_doc["lineage"]["manifest"]
    return int(version), json.loads(read_object(manifest["bucket"], manifest["key"], ModelNotFoundError))


def _newest(bucket: str, prefix: str) -> str | None:
    newest: dict[str, Any] | None = None
    for page in s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".csv") and (newest is None or item["LastModified"] > newest["LastModified"]):
                newest = item
    return None if newest is None else str(newest["Key"])


def batch_matrix(body: bytes, features: list[str]) -> np.ndarray:
    """The batch's values of ``features`` (NaN where empty or missing)."""
    reader = csv.DictReader(io.StringIO(body.decode("utf-8"), newline=""))
    missing = [f for f in features if f not in (reader.fieldnames or [])]
    if missing:
        raise InvalidEventError(f"the batch lacks the model's features: {', '.join(missing[:5])}")
    rows = [[float(row[f]) if row[f] not in ("", None) else np.nan for f in features] for row in reader]
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(features))


def drift_score(x: np.ndarray, prep: dict[str, Any]) -> tuple[float, int, np.ndarray]:
    """Mean absolute shift of the feature means, in training standard deviations; the index of
    the feature that moved most; every feature's shift."""
    with np.errstate(all="ignore"):
        means = np.nanmean(x, axis=0)
    means = np.where(np.isnan(means), np.asarray(prep["means"]), means)
    shifts = np.abs(means - np.asarray(prep["means"])) / np.asarray(prep["scales"])
    return float(shifts.mean()), int(shifts.argmax()), shifts


def run(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raw = _from_s3_event(event) if isinstance(event, dict) and "Records" in event else event
    request = parse_event(raw, DriftEvent, "drift_check")
    bucket = artifacts_bucket(request.bucket)
    try:
        version, manifest = _champion_manifest(bucket, request)
    except ModelNotFoundError as exc:
        logger.info("no champion to compare with", extra={"reason": str(exc)})
        return {"skipped": str(exc)}
    key = request.batch_key or _newest(bucket, request.batch_prefix)
    if key is None:
        return {"skipped": f"no batch under s3://{bucket}/{request.batch_prefix}"}
    x = batch_matrix(read_object(bucket, key, InvalidEventError, "the batch "), manifest["feature_columns"])
    drift, worst, shifts = drift_score(x, manifest["preprocessing"])
    threshold = request.threshold or float(os.environ.get("DRIFT_THRESHOLD", "0.5"))
    result: dict[str, Any] = {
        "model_name": request.model_name, "model_version": version, "batch_key": key, "rows": len(x),
        "drift": round(drift, 4), "threshold": threshold, "drifted": drift > threshold,
        "worst_feature": {"name": manifest["feature_columns"][worst], "shift": round(float(shifts[worst]), 4)},
        "retrain_dataset_key": request.retrain_dataset_key, "published": None,
    }
    service.count("DriftScore", drift, unit=MetricUnit.NoUnit)
    if result["drifted"] and os.environ.get("DRIFT_TOPIC_ARN"):
        answer = boto3.client("sns").publish(
            TopicArn=os.environ["DRIFT_TOPIC_ARN"], Subject=f"drift {drift:.2f} on {request.model_name}",
            Message=json.dumps(result), MessageAttributes={
                "drift": {"DataType": "Number", "StringValue": f"{drift:.4f}"}})
        result["published"] = answer["MessageId"]
    logger.info("drift checked", extra=dict(result))  # the whole result: `stepkit demo --json` reports it
    return result


handler = service.handler(run)
