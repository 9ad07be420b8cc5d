"""From raw values to the model's inputs: one implementation for training and for serving.

preprocess fits :func:`fit_preprocessing` on the training rows and writes the scaled splits
with :func:`transform`; the fitted parameters travel in the manifest and then in the model
bundle, and select_model and predict apply the same :func:`transform` to raw rows. Labels are
text everywhere, cast by :func:`label_text` (``1``, ``1.0`` and `` 1`` are the same class;
defined in :mod:`mlcontract.labels`, which needs no numpy).
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import numpy as np

# Re-exported: the functions that crunch numbers import them from here.
from mlcontract.labels import MISSING_MARKERS, class_sort_key, label_text  # noqa: F401


class InvalidRecordError(ValueError):
    """A record cannot be scored; the message names the record and the column."""


def cast_labels(values: Any) -> np.ndarray:
    """Labels (read from a split, or predicted by an estimator) as an array of text."""
    return np.array([label_text(v) or "" for v in np.asarray(values, dtype=object).tolist()], dtype=str)


def fit_preprocessing(train: np.ndarray) -> dict[str, list[float]]:
    """Median imputation and standard scaling, fitted on the training rows only."""
    with np.errstate(all="ignore"):
        medians = np.nanmedian(train, axis=0) if len(train) else np.zeros(train.shape[1])
    medians = np.where(np.isnan(medians), 0.0, medians)
    imputed = np.where(np.isnan(train), medians, train)
    means = imputed.mean(axis=0)
    scales = imputed.std(axis=0)
    scales = np.where(scales > 0, scales, 1.0)  # a constant column stays constant (0), not NaN
    return {"medians": medians.tolist(), "means": means.tolist(), "scales": scales.tolist()}


def transform(features: np.ndarray, prep: dict[str, Any]) -> np.ndarray:
    """Raw feature values (NaN where missing) -> the model's inputs."""
    imputed = np.where(np.isnan(features), np.asarray(prep["medians"]), features)
    return (imputed - np.asarray(prep["means"])) / np.asarray(prep["scales"])


def number(value: Any, where: str, column: str) -> float:
    """One raw feature value as a float (NaN when missing); :class:`InvalidRecordError` otherwise."""
    if value is None:
        return math.nan
    if isinstance(value, bool):
        raise InvalidRecordError(f"{where}: feature '{column}': {value!r} is not a number")
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.lower() in MISSING_MARKERS:
            return math.nan
        try:
            result = float(text)
        except ValueError:
            raise InvalidRecordError(f"{where}: feature '{column}': {text[:40]!r} is not a number") from None
    else:
        raise InvalidRecordError(f"{where}: feature '{column}': a {type(value).__name__} is not a number")
    if not math.isfinite(result):
        raise InvalidRecordError(f"{where}: feature '{column}': {value!r} is not finite")
    return result


def record_matrix(records: list[Any], features: list[str], ids: list[Any] | None = None) -> np.ndarray:
    """Records (feature mappings, or value lists in ``features`` order) as raw feature rows."""
    x = np.empty((len(records), len(features)), dtype=np.float64)
    for i, record in enumerate(records):
        where = f"record {i}" + (f" (id {ids[i]!r})" if ids is not None else "")
        if isinstance(record, dict):
            for j, column in enumerate(features):
                if column not in record:
                    raise InvalidRecordError(f"{where}: missing feature '{column}'")
                x[i, j] = number(record[column], where, column)
        else:
            if len(record) != len(features):
                raise InvalidRecordError(f"{where}: {len(record)} values, the model takes {len(features)} "
                                         f"({', '.join(features[:5])}{', ...' if len(features) > 5 else ''})")
            for j, value in enumerate(record):
                x[i, j] = number(value, where, features[j])
    return x


class FeatureMismatchError(InvalidRecordError):
    """A record's feature names are not the model's: some missing, some the model does not take."""


def check_feature_names(records: list[Any], features: list[str]) -> None:
    """:class:`FeatureMismatchError` naming the missing and the extra features of the first
    record (a feature mapping) whose names differ from ``features``; value lists are checked
    by :func:`record_matrix`."""
    wanted = set(features)
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            continue
        missing = [c for c in features if c not in record]
        extra = sorted(str(k) for k in record if k not in wanted)
        if missing or extra:
            problems = [f"missing features {', '.join(map(repr, missing))}" if missing else "",
                        f"extra features {', '.join(map(repr, extra))}" if extra else ""]
            raise FeatureMismatchError(f"record {i}: {'; '.join(p for p in problems if p)}")


def read_labelled_csv(body: bytes, target: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """A split preprocess wrote: the feature names, their values (NaN where empty), the labels."""
    reader = csv.reader(io.StringIO(body.decode("utf-8"), newline=""))
    header = next(reader)
    t = header.index(target)
    rows = [row for row in reader if row]
    table = np.array(rows, dtype=str).reshape(len(rows), len(header))
    cols = [i for i in range(len(header)) if i != t]
    x = table[:, cols]
    x = np.where(x == "", "nan", x).astype(np.float64)
    return [header[i] for i in cols], x, cast_labels(table[:, t])


def pick_columns(names: list[str], x: np.ndarray, wanted: list[str]) -> np.ndarray:
    """The columns ``wanted``, in that order, of a matrix whose columns are ``names``."""
    at = {name: i for i, name in enumerate(names)}
    return x[:, [at[c] for c in wanted]]
