"""predict: class predictions and probabilities from a registered model, chosen by alias or version.

Actions (``"action"``, default ``"predict"``):

``predict``: exactly one of ``record`` (one feature mapping or list of values),
``records`` (a list of them; ``record_ids`` optionally tags each) or ``s3_object``
(``{"bucket", "key"}`` of a CSV with a header; results go to ``output`` or next to it
under ``predictions/``)::

    {"model_name": "breast-cancer", "alias": "champion", "records": [{"mean_radius": 14.1, ...}]}
    -> {"model_name": ..., "model_version": 3, "alias": "champion", "count": 1, "classes": [...],
        "predictions": [{"prediction": "benign", "probabilities": {"benign": 0.97, "malignant": 0.03}}]}

``describe``: the version an alias points at, its features and classes (loads and checks
the model, so a missing or damaged model fails here, before any batch runs).

``summarize``: after a Distributed Map with a ``ResultWriter``, reads the Map Run's
manifest and result files (``result_writer``: the state's ``ResultWriterDetails``), writes
``<output_prefix>/predictions.csv`` (one line per input row, in input order) and
``<output_prefix>/summary.json``, and returns the summary.

The model is cached across warm invocations. Each invocation asks S3 whether the
registry's ``index.json`` changed (a conditional GET with the cached ETag; at most every
``ALIAS_CHECK_SECONDS``, default 0 = always), so when an alias moves the next invocation
loads the new version. Errors: :class:`ModelNotFoundError` (no registry, no such alias or
version, artifact gone), :class:`ModelIntegrityError` (artifact hash differs from the
registry's), :class:`InvalidRecordError` (the message names the record and the column).
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections import Counter, OrderedDict
from datetime import UTC, datetime
from typing import Any, Literal

from mlcontract.aws import read_object, s3
from mlcontract.bundle import load_bundle, record_inputs
from mlcontract.errors import InvalidEventError, ModelIntegrityError, ModelNotFoundError
from mlcontract.events import SAFE_NAME, artifacts_bucket, parse_event
from mlcontract.features import FeatureMismatchError, InvalidRecordError, cast_labels, check_feature_names, label_text
from mlcontract.registry import alias_version, current_index, index_key, version_entry
from mlcontract.service import MetricUnit, Service
from pydantic import BaseModel, ConfigDict, Field, model_validator

service = Service("predict")
logger = service.logger
MAX_RECORDS_RETURNED = 10_000
__all__ = ["FeatureMismatchError", "InvalidEventError", "InvalidRecordError", "ModelIntegrityError",
           "ModelNotFoundError", "handler"]


class ResultsNotFoundError(Exception):
    """The Map Run's result manifest or one of its files does not exist."""


class S3Location(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bucket: str | None = None
    key: str | None = None


class ResultWriterDetails(BaseModel):
    model_config = ConfigDict(extra="allow")

    Bucket: str
    Key: str


class ShadowOf(BaseModel):
    """The answer a shadow scoring is compared with: the primary version's, already returned."""

    model_config = ConfigDict(extra="forbid")

    request_id: str
    version: str
    predictions: list[Any]


class PredictEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["predict", "describe", "summarize", "shadow"] = "predict"
    bucket: str | None = None
    registry_prefix: str = "registry"
    model_name: str = Field(pattern=SAFE_NAME)
    alias: str | None = Field(None, pattern=SAFE_NAME)
    version: int | None = Field(None, ge=1)
    record: dict[str, Any] | list[Any] | None = None
    records: list[dict[str, Any] | list[Any]] | None = None
    record_ids: list[Any] | None = None
    s3_object: S3Location | None = None
    output: S3Location | None = None
    label_column: str | None = None
    result_writer: ResultWriterDetails | None = None
    source: S3Location | None = None
    output_prefix: str | None = None
    strict_features: bool = False
    """Records must name exactly the model's features (the serving API's contract)."""
    shadow_of: ShadowOf | None = None

    @model_validator(mode="after")
    def _check(self) -> PredictEvent:
        self.bucket = artifacts_bucket(self.bucket)
        self.registry_prefix = self.registry_prefix.strip("/")
        if self.alias is not None and self.version is not None:
            raise ValueError("give `alias` or `version`, not both")
        if self.alias is None and self.version is None:
            self.alias = "champion"
        if self.action == "shadow" and (self.shadow_of is None or self.records is None):
            raise ValueError("shadow needs records and shadow_of (the primary's answer)")
        if self.action == "predict":
            given = [n for n in ("record", "records", "s3_object") if getattr(self, n) is not None]
            if len(given) != 1:
                raise ValueError(f"give exactly one of record, records, s3_object (got {', '.join(given) or 'none'})")
            if self.record_ids is not None and (self.records is None or len(self.record_ids) != len(self.records)):
                raise ValueError("record_ids must go with records, one id per record")
            if self.s3_object is not None and not self.s3_object.key:
                raise ValueError("s3_object needs a key")
        if self.action == "summarize" and (self.result_writer is None or not self.output_prefix):
            raise ValueError("summarize needs result_writer (the Map's ResultWriterDetails) and output_prefix")
        return self


#: loaded model bundles: (bucket, artifact key, sha256) -> bundle; a small LRU.
_models: OrderedDict[tuple[str, str, str], dict[str, Any]] = OrderedDict()


def run(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = parse_event(event, PredictEvent, "predict")
    if request.action == "summarize":
        return summarize(request)
    model = resolve_model(request)
    service.count("ModelLoads" if model["loaded"] else "ModelCacheHits", 1)
    bundle = model["bundle"]
    info = {
        "model_name": request.model_name,
        "alias": request.alias,
        "model_version": model["version"],
        "model_loaded": model["loaded"],
        "classes": list(bundle["classes"]),
    }
    if request.action == "shadow":
        return shadow(request, bundle, info)
    if request.action == "describe":
        entry = model["entry"]
        return {**info, "family": bundle.get("family"), "candidate_id": bundle.get("candidate_id"),
                "feature_columns": list(bundle["feature_columns"]), "metric": entry.get("metric"),
                "test_score": entry.get("test_score"), "artifact_key": entry["artifact_key"]}

    started = time.perf_counter()
    if request.record is not None:
        result = score(bundle, [request.record], None, request.label_column, request.strict_features)[0]
        out = {**info, "count": 1, **result}
    elif request.records is not None:
        if len(request.records) > MAX_RECORDS_RETURNED:
            raise InvalidEventError(f"{len(request.records)} records in one call; at most {MAX_RECORDS_RETURNED} "
                                    "(use s3_object for more)")
        predictions = score(bundle, request.records, request.record_ids, request.label_column,
                            request.strict_features)
        out = {**info, "count": len(predictions), "predictions": predictions}
    else:
        out = {**info, **predict_object(request, bundle)}
    service.count("RecordsPredicted", out["count"])
    service.count("PredictMilliseconds", 1000 * (time.perf_counter() - started), MetricUnit.Milliseconds)
    return out


# -- the registry and the model cache -----------------------------------------------------------


def resolve_model(request: PredictEvent) -> dict[str, Any]:
    """The bundle for the requested alias or version, from the cache when it is current."""
    index = current_index(request.bucket, index_key(request.registry_prefix, request.model_name), request.model_name)
    version = request.version if request.version is not None else alias_version(index, request.model_name,
                                                                               request.alias or "champion")
    entry = version_entry(index, request.model_name, version)
    cache_key = (request.bucket, entry["artifact_key"], entry["artifact_sha256"])
    bundle = _models.get(cache_key)
    loaded = bundle is None
    if bundle is None:
        bundle = _load_bundle(request.bucket, entry["artifact_key"], entry["artifact_sha256"])
        _models[cache_key] = bundle
        while len(_models) > max(1, int(os.environ.get("MODEL_CACHE_SIZE", "2"))):
            _models.popitem(last=False)
        logger.info("model loaded", extra={"model_name": request.model_name, "version": version})
    else:
        _models.move_to_end(cache_key)
    return {"version": int(version), "entry": entry, "bundle": bundle, "loaded": loaded}


def _load_bundle(bucket: str, key: str, sha256: str) -> dict[str, Any]:
    body = read_object(bucket, key, ModelNotFoundError, "the registry names ")
    return load_bundle(body, sha256, f"s3://{bucket}/{key}")


# -- scoring ------------------------------------------------------------------------------------


def score(bundle: dict[str, Any], records: list[Any], ids: list[Any] | None,
          label_column: str | None, strict: bool = False) -> list[dict[str, Any]]:
    """Predictions for raw records: the bundle's own imputation and scaling, then the estimator.
    ``strict``: a record naming other features than the model's is refused, not scored."""
    if strict:
        check_feature_names(records, list(bundle["feature_columns"]))
    x = record_inputs(bundle, records, ids)
    estimator = bundle["estimator"]
    labels = cast_labels(estimator.predict(x)).tolist() if len(records) else []
    proba = estimator.predict_proba(x) if hasattr(estimator, "predict_proba") and len(records) else None
    classes = cast_labels(estimator.classes_).tolist()
    out = []
    for i, label in enumerate(labels):
        item: dict[str, Any] = {}
        if ids is not None:
            item["id"] = ids[i]
        item["prediction"] = label
        item["probabilities"] = (
            {c: round(float(p), 6) for c, p in zip(classes, proba[i], strict=True)} if proba is not None else None
        )
        if label_column and isinstance(records[i], dict) and label_column in records[i]:
            item["label"] = label_text(records[i][label_column]) or ""
        out.append(item)
    return out


def predict_object(request: PredictEvent, bundle: dict[str, Any]) -> dict[str, Any]:
    location = request.s3_object
    bucket = location.bucket or request.bucket
    body = read_object(bucket, location.key, InvalidEventError)
    try:
        rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidRecordError(f"s3://{bucket}/{location.key} is not a UTF-8 CSV file: {exc}") from None
    ids = list(range(len(rows)))
    predictions = score(bundle, rows, ids, request.label_column)
    out_bucket = (request.output.bucket if request.output else None) or request.bucket
    out_key = (request.output.key if request.output else None) or default_output_key(location.key)
    body = predictions_csv(predictions, [str(c) for c in bundle["classes"]])
    s3().put_object(Bucket=out_bucket, Key=out_key, Body=body, ContentType="text/csv")
    return {"count": len(predictions), "source": {"bucket": bucket, "key": location.key},
            "output": {"bucket": out_bucket, "key": out_key}, **tally(predictions)}


def default_output_key(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    stem = name[: -len(".csv")] if name.lower().endswith(".csv") else name
    return f"predictions/{stem}.predictions.csv"


def predictions_csv(predictions: list[dict[str, Any]], classes: list[str]) -> bytes:
    has_labels = any("label" in p for p in predictions)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["row", "prediction", *(f"probability_{c}" for c in classes), *(["label"] if has_labels else [])])
    for p in predictions:
        probabilities = p.get("probabilities") or {}
        writer.writerow([p.get("id", ""), p["prediction"], *(probabilities.get(c, "") for c in classes),
                         *([p.get("label", "")] if has_labels else [])])
    return out.getvalue().encode("utf-8")


def tally(predictions: list[dict[str, Any]]) -> dict[str, Any]:
    counts = Counter(p["prediction"] for p in predictions)
    labelled = [p for p in predictions if "label" in p]
    accuracy = (round(sum(p["label"] == p["prediction"] for p in labelled) / len(labelled), 6)
                if labelled else None)
    return {"class_counts": dict(sorted(counts.items())), "labelled_rows": len(labelled), "accuracy": accuracy}


# -- shadow scoring -----------------------------------------------------------------------------


def shadow(request: PredictEvent, bundle: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """Score what the primary version answered with this (challenger) version, in the
    background (the serving API invokes this asynchronously): the comparison is logged and
    counted in the router's state, never returned to the caller."""
    from mlcontract.router_state import RouterState

    primary = request.shadow_of
    predictions = score(bundle, request.records or [], None, None)
    ours = [str(p["prediction"]) for p in predictions]
    theirs = [str(p.get("prediction") if isinstance(p, dict) else p) for p in primary.predictions]
    agreed = ours == theirs
    RouterState(os.environ["ROUTER_TABLE"]).record_shadow(request.model_name, str(info["model_version"]), agreed)
    service.count("ShadowComparisons", 1)
    logger.info("shadow compared", extra={"request_id": primary.request_id, "model_name": request.model_name,
                                          "primary_version": primary.version, "shadow_version": info["model_version"],
                                          "agreed": agreed, "primary": theirs[:10], "shadow": ours[:10]})
    return {**info, "request_id": primary.request_id, "agreed": agreed, "predictions": predictions}


# -- summarising a Distributed Map's results ----------------------------------------------------


def summarize(request: PredictEvent) -> dict[str, Any]:
    writer = request.result_writer
    manifest = json.loads(_read_result(writer.Bucket, writer.Key))
    files = manifest.get("ResultFiles") or {}
    bucket = manifest.get("DestinationBucket") or writer.Bucket
    predictions: list[dict[str, Any]] = []
    versions: set[int] = set()
    batches = {"succeeded": 0, "failed": 0, "pending": 0}
    failed_rows = 0
    failures: list[dict[str, Any]] = []
    for status in ("SUCCEEDED", "FAILED", "PENDING"):
        for file in files.get(status) or []:
            for entry in _result_entries(_read_result(bucket, file["Key"])):
                batches[status.lower()] += 1
                if status == "SUCCEEDED":
                    output = _decoded(entry.get("Output")) if isinstance(entry, dict) and "Output" in entry else entry
                    if isinstance(output, dict):
                        predictions.extend(output.get("predictions") or [])
                        if output.get("model_version") is not None:
                            versions.add(int(output["model_version"]))
                    elif isinstance(output, list):
                        predictions.extend(output)
                else:
                    items = (_decoded(entry.get("Input")) or {}).get("Items") if isinstance(entry, dict) else None
                    failed_rows += len(items) if isinstance(items, list) else 0
                    if len(failures) < 5 and isinstance(entry, dict):
                        failures.append({"error": entry.get("Error"), "cause": str(entry.get("Cause"))[:300]})
    if predictions and all(isinstance(p.get("id"), int) for p in predictions):
        predictions.sort(key=lambda p: p["id"])
    classes = sorted({c for p in predictions for c in (p.get("probabilities") or {})})
    prefix = request.output_prefix.strip("/")
    predictions_key = f"{prefix}/predictions.csv"
    s3().put_object(Bucket=request.bucket, Key=predictions_key, Body=predictions_csv(predictions, classes),
                    ContentType="text/csv")
    summary = {
        "source": request.source.model_dump() if request.source else None,
        "model_name": request.model_name,
        "alias": request.alias,
        "model_versions": sorted(versions),
        "rows": len(predictions),
        "failed_rows": failed_rows,
        "batches": batches,
        "failures": failures,
        **tally(predictions),
        "map_run_arn": manifest.get("MapRunArn"),
        "result_writer": {"bucket": writer.Bucket, "key": writer.Key},
        "predictions": {"bucket": request.bucket, "key": predictions_key},
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    summary_key = f"{prefix}/summary.json"
    s3().put_object(Bucket=request.bucket, Key=summary_key, ContentType="application/json",
                    Body=(json.dumps(summary, indent=2) + "\n").encode())
    service.count("BatchRowsPredicted", len(predictions))
    service.count("BatchesFailed", batches["failed"])
    logger.info("batch inference summarised", extra={"rows": len(predictions), "batches": batches})
    return {**summary, "summary": {"bucket": request.bucket, "key": summary_key}}


def _read_result(bucket: str, key: str) -> bytes:
    return read_object(bucket, key, ResultsNotFoundError)


def _result_entries(body: bytes) -> list[Any]:
    """A result file: a JSON array (AWS's default layout) or JSON Lines (WriterConfig JSONL)."""
    text = body.decode("utf-8").strip()
    if not text:
        return []
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return document if isinstance(document, list) else [document]


def _decoded(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


handler = service.handler(run)
