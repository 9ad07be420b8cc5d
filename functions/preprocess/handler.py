"""preprocess: raw CSV in S3 -> validated, cleaned, split, scaled data + a manifest in S3.

Input (one invocation per training run)::

    {"bucket": "artifacts", "dataset_key": "datasets/breast_cancer.csv", "run_id": "run-1",
     "target_column": "target", "validation_fraction": 0.2, "test_fraction": 0.2, "seed": 42}

Writes under ``runs/<run_id>/processed/`` (or ``output_prefix``):

* ``train.csv``, ``validation.csv``, ``test.csv``: features imputed (train medians) and
  standardised (train mean and standard deviation), then the target label;
* ``test_raw.csv``: the test rows cleaned but neither imputed nor scaled, so that a model
  trained on another run (the registry's champion) can be scored with its own preprocessing;
* ``manifest.json``, written last: row counts, the split, the preprocessing parameters,
  per-feature statistics and the SHA-256 of the source and of every file written.

A dataset that does not fit the schema raises :class:`DatasetSchemaError` naming the column
and the row; a missing object raises :class:`DatasetNotFoundError`. Only numpy is needed
(no scikit-learn), which keeps this function's bundle small.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
from mlcontract.aws import json_bytes, read_object, s3
from mlcontract.errors import InvalidEventError
from mlcontract.events import SAFE_NAME, artifacts_bucket, parse_event
from mlcontract.features import MISSING_MARKERS, class_sort_key, fit_preprocessing, label_text, transform
from mlcontract.service import MetricUnit, Service
from pydantic import BaseModel, ConfigDict, Field, model_validator

service = Service("preprocess")
logger = service.logger
MANIFEST_FORMAT = "stepkit.processed/1"
__all__ = ["InvalidEventError", "handler"]


class DatasetNotFoundError(Exception):
    """The dataset object does not exist (or cannot be read)."""


class DatasetSchemaError(ValueError):
    """The dataset does not fit the expected schema; the message names the column and row."""


class PreprocessEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bucket: str | None = Field(None, description="Where outputs go; default $ARTIFACTS_BUCKET.")
    dataset_key: str = Field(min_length=1)
    dataset_bucket: str | None = Field(None, description="Bucket of the raw dataset; default `bucket`.")
    run_id: str = Field(pattern=SAFE_NAME)
    output_prefix: str | None = None
    target_column: str = "target"
    feature_columns: list[str] | None = Field(None, description="Use exactly these features (others ignored).")
    validation_fraction: float = Field(0.2, gt=0, lt=0.5)
    test_fraction: float = Field(0.2, gt=0, lt=0.5)
    seed: int = 42
    max_missing_fraction: float = Field(0.5, ge=0, le=1)
    min_rows: int = Field(20, ge=3)

    @model_validator(mode="after")
    def _defaults(self) -> PreprocessEvent:
        self.bucket = artifacts_bucket(self.bucket)
        self.dataset_bucket = self.dataset_bucket or self.bucket
        if self.validation_fraction + self.test_fraction >= 0.8:
            raise ValueError("validation_fraction + test_fraction must leave at least 20% for training")
        self.output_prefix = (self.output_prefix or f"runs/{self.run_id}/processed").strip("/")
        return self


def run(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = parse_event(event, PreprocessEvent, "preprocess")
    started = time.perf_counter()
    raw = _read_dataset(request)
    dataset_sha = hashlib.sha256(raw).hexdigest()
    logger.info("dataset read", extra={"key": request.dataset_key, "bytes": len(raw), "sha256": dataset_sha})

    table = parse_csv(raw, request)
    clean = clean_table(table, request)
    splits = split_indices(clean.labels, request.validation_fraction, request.test_fraction, request.seed)
    prep = fit_preprocessing(clean.features[splits["train"]])
    outputs = _write_outputs(request, clean, splits, prep)

    manifest = {
        "format": MANIFEST_FORMAT,
        "run_id": request.run_id,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": {"bucket": request.dataset_bucket, "key": request.dataset_key, "sha256": dataset_sha,
                   "bytes": len(raw)},
        "target_column": request.target_column,
        "feature_columns": clean.feature_columns,
        "classes": clean.classes,
        "rows": {
            "raw": table.row_count,
            "dropped_missing_target": clean.dropped_missing_target,
            "dropped_duplicates": clean.dropped_duplicates,
            "clean": len(clean.labels),
            **{name: len(idx) for name, idx in splits.items()},
        },
        "class_counts": {name: _class_counts(clean.labels[idx]) for name, idx in splits.items()},
        "split": {"seed": request.seed, "validation_fraction": request.validation_fraction,
                  "test_fraction": request.test_fraction, "stratified": True},
        "preprocessing": {"impute": "median", "scale": "standard", "fit_on": "train",
                          "medians": prep["medians"], "means": prep["means"], "scales": prep["scales"]},
        "feature_stats": feature_stats(clean, splits["train"]),
        "files": outputs,
    }
    manifest_body = json_bytes(manifest)
    manifest_key = f"{request.output_prefix}/manifest.json"
    s3().put_object(Bucket=request.bucket, Key=manifest_key, Body=manifest_body, ContentType="application/json")

    elapsed = time.perf_counter() - started
    service.count("RowsProcessed", len(clean.labels))
    service.count("RowsDropped", clean.dropped_missing_target + clean.dropped_duplicates)
    service.count("PreprocessSeconds", elapsed, MetricUnit.Seconds)
    logger.info("dataset processed", extra={"rows": manifest["rows"], "manifest_key": manifest_key})
    return {
        "run_id": request.run_id,
        "bucket": request.bucket,
        "manifest_key": manifest_key,
        "manifest_sha256": hashlib.sha256(manifest_body).hexdigest(),
        "dataset": {"bucket": request.dataset_bucket, "key": request.dataset_key, "sha256": dataset_sha},
        "target_column": request.target_column,
        "n_features": len(clean.feature_columns),
        "classes": clean.classes,
        "rows": manifest["rows"],
        "files": outputs,
        "seconds": round(elapsed, 3),
    }


# -- reading and validating ---------------------------------------------------------------------


def _read_dataset(request: PreprocessEvent) -> bytes:
    return read_object(request.dataset_bucket, request.dataset_key, DatasetNotFoundError, "dataset ")


class Table:
    """The CSV as text cells, after the header and row-length checks."""

    def __init__(self, header: list[str], rows: list[list[str]], lines: list[int]) -> None:
        self.header = header
        self.rows = rows
        self.lines = lines  # file line number of each row, for error messages
        self.row_count = len(rows)


def parse_csv(raw: bytes, request: PreprocessEvent) -> Table:
    where = f"s3://{request.dataset_bucket}/{request.dataset_key}"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetSchemaError(f"{where} is not UTF-8 text (bad byte at offset {exc.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise DatasetSchemaError(f"{where} is empty: expected a header row naming the columns")
        header = [cell.strip() for cell in header]
        seen: dict[str, int] = {}
        for position, name in enumerate(header, start=1):
            if not name:
                raise DatasetSchemaError(f"{where}: column {position} of the header has no name")
            if name in seen:
                raise DatasetSchemaError(
                    f"{where}: column '{name}' appears twice in the header (columns {seen[name]} and {position})"
                )
            seen[name] = position
        rows: list[list[str]] = []
        lines: list[int] = []
        for row in reader:
            line = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            if len(row) != len(header):
                raise DatasetSchemaError(
                    f"{where}: row {len(rows) + 1} (line {line}) has {len(row)} fields, the header has {len(header)}"
                )
            rows.append(row)
            lines.append(line)
    except csv.Error as exc:
        raise DatasetSchemaError(f"{where}: line {reader.line_num} is not valid CSV: {exc}") from None
    if request.target_column not in seen:
        raise DatasetSchemaError(
            f"{where}: the target column '{request.target_column}' is not in the header "
            f"(columns: {', '.join(header[:20])}{', ...' if len(header) > 20 else ''})"
        )
    return Table(header, rows, lines)


class CleanData:
    def __init__(self, feature_columns: list[str], features: np.ndarray, labels: np.ndarray, raw_rows: list[int],
                 classes: list[str], dropped_missing_target: int, dropped_duplicates: int) -> None:
        self.feature_columns = feature_columns
        self.features = features  # float, NaN where missing
        self.labels = labels  # str
        self.raw_rows = raw_rows  # 1-based data row number of each kept row
        self.classes = classes
        self.dropped_missing_target = dropped_missing_target
        self.dropped_duplicates = dropped_duplicates


def clean_table(table: Table, request: PreprocessEvent) -> CleanData:
    """Type-check every feature cell, drop rows without a target and exact duplicates."""
    where = f"s3://{request.dataset_bucket}/{request.dataset_key}"
    index = {name: i for i, name in enumerate(table.header)}
    if request.feature_columns is not None:
        missing = [c for c in request.feature_columns if c not in index]
        if missing:
            raise DatasetSchemaError(f"{where}: expected feature column '{missing[0]}' is not in the header")
        features = list(request.feature_columns)
    else:
        features = [c for c in table.header if c != request.target_column]
    if request.target_column in features:
        raise DatasetSchemaError(f"{where}: column '{request.target_column}' cannot be both target and feature")
    if not features:
        raise DatasetSchemaError(f"{where}: no feature columns besides the target '{request.target_column}'")
    target_at = index[request.target_column]
    feature_at = [index[c] for c in features]

    values = np.empty((table.row_count, len(features)), dtype=np.float64)
    cells = np.array(table.rows, dtype=str).reshape(table.row_count, len(table.header))
    for j, col in enumerate(feature_at):
        values[:, j] = _numeric_column(cells[:, col], features[j], table, where)
    labels: list[str | None] = [label_text(cell) for cell in cells[:, target_at].tolist()]

    keep = [r for r, label in enumerate(labels) if label is not None]
    dropped_target = table.row_count - len(keep)
    seen: set[tuple] = set()
    unique: list[int] = []
    for r in keep:
        key = (labels[r], values[r].tobytes())
        if key not in seen:
            seen.add(key)
            unique.append(r)
    dropped_dupes = len(keep) - len(unique)
    if len(unique) < request.min_rows:
        raise DatasetSchemaError(
            f"{where}: {len(unique)} usable rows after cleaning ({dropped_target} without a target, "
            f"{dropped_dupes} duplicates); at least {request.min_rows} are needed"
        )
    feats = values[unique]
    labs = np.array([labels[r] for r in unique], dtype=object)

    missing_share = np.isnan(feats).mean(axis=0)
    for j, share in enumerate(missing_share):
        if share > request.max_missing_fraction:
            raise DatasetSchemaError(
                f"{where}: column '{features[j]}' is missing in {share:.0%} of rows "
                f"(at most {request.max_missing_fraction:.0%} allowed)"
            )
    classes = sorted(set(labs.tolist()), key=class_sort_key)
    if len(classes) < 2:
        raise DatasetSchemaError(
            f"{where}: the target column '{request.target_column}' has a single class "
            f"{classes[0]!r}; a classifier needs at least two"
        )
    return CleanData(features, feats, labs, [r + 1 for r in unique], classes, dropped_target, dropped_dupes)


def _numeric_column(column: np.ndarray, name: str, table: Table, where: str) -> np.ndarray:
    """One feature column as floats (NaN where missing). Vectorised; a column that does not
    convert cleanly is walked cell by cell to name the first bad row."""
    lowered = np.char.lower(np.char.strip(column))
    missing = np.isin(lowered, list(MISSING_MARKERS))
    try:
        numbers = np.where(missing, "nan", column).astype(np.float64)
    except ValueError:
        numbers = None
    if numbers is not None and np.isfinite(numbers[~missing]).all():
        return numbers
    out = np.empty(len(column), dtype=np.float64)
    for r, raw in enumerate(column.tolist()):
        cell = raw.strip()
        if cell.lower() in MISSING_MARKERS:
            out[r] = math.nan
            continue
        try:
            number = float(cell)
        except ValueError:
            raise DatasetSchemaError(
                f"{where}: column '{name}', row {r + 1} (line {table.lines[r]}): {_short(cell)!r} is not a number"
            ) from None
        if not math.isfinite(number):
            raise DatasetSchemaError(f"{where}: column '{name}', row {r + 1} (line {table.lines[r]}): "
                                     f"{cell!r} is not finite")
        out[r] = number
    return out


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- splitting and preprocessing ----------------------------------------------------------------


def split_indices(labels: np.ndarray, validation: float, test: float, seed: int) -> dict[str, np.ndarray]:
    """Stratified, seeded train/validation/test split: the same file and seed give the same split."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "validation": [], "test": []}
    for label in sorted(set(labels.tolist()), key=class_sort_key):
        members = np.flatnonzero(labels == label)
        members = members[rng.permutation(len(members))]
        n = len(members)
        n_test = round(n * test)
        n_val = round(n * validation)
        while n_test + n_val >= n and (n_test or n_val):  # keep at least one training row per class
            if n_test >= n_val:
                n_test -= 1
            else:
                n_val -= 1
        parts["test"].append(members[:n_test])
        parts["validation"].append(members[n_test:n_test + n_val])
        parts["train"].append(members[n_test + n_val:])
    out = {}
    for name, chunks in parts.items():
        joined = np.concatenate(chunks) if chunks else np.array([], dtype=np.int64)
        out[name] = joined[rng.permutation(len(joined))]
    return out


def feature_stats(clean: CleanData, train_rows: np.ndarray) -> dict[str, dict[str, Any]]:
    """Per-feature statistics of the raw (unimputed, unscaled) training rows."""
    train = clean.features[train_rows]
    stats = {}
    with np.errstate(all="ignore"):
        for j, name in enumerate(clean.feature_columns):
            column = train[:, j]
            present = column[~np.isnan(column)]
            stats[name] = {
                "count": int(present.size),
                "missing": int(column.size - present.size),
                "missing_all_splits": int(np.isnan(clean.features[:, j]).sum()),
                "mean": _num(present.mean()) if present.size else None,
                "std": _num(present.std()) if present.size else None,
                "min": _num(present.min()) if present.size else None,
                "median": _num(np.median(present)) if present.size else None,
                "max": _num(present.max()) if present.size else None,
            }
    return stats


def _num(value: float) -> float:
    return float(f"{float(value):.10g}")


def _class_counts(labels: np.ndarray) -> dict[str, int]:
    values, counts = np.unique(labels.astype(str), return_counts=True)
    return {str(v): int(c) for v, c in zip(values, counts, strict=True)}


# -- writing ------------------------------------------------------------------------------------


def _write_outputs(request: PreprocessEvent, clean: CleanData, splits: dict[str, np.ndarray],
                   prep: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    header = [*clean.feature_columns, request.target_column]
    scaled = transform(clean.features, prep)
    outputs: dict[str, dict[str, Any]] = {}
    files = [(name, scaled, idx) for name, idx in splits.items()]
    files.append(("test_raw", clean.features, splits["test"]))
    for name, matrix, idx in files:
        body = _csv_bytes(header, matrix[idx], clean.labels[idx])
        key = f"{request.output_prefix}/{name}.csv"
        s3().put_object(Bucket=request.bucket, Key=key, Body=body, ContentType="text/csv")
        outputs[name] = {"key": key, "rows": len(idx), "sha256": hashlib.sha256(body).hexdigest(),
                         "bytes": len(body)}
    return outputs


def _csv_bytes(header: list[str], matrix: np.ndarray, labels: np.ndarray) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row, label in zip(matrix.tolist(), labels.tolist(), strict=True):
        writer.writerow([*("" if math.isnan(v) else repr(v) for v in row), label])
    return out.getvalue().encode("utf-8")


handler = service.handler(run)
