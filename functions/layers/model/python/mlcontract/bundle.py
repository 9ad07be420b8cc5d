"""``model.joblib``: what train writes and select_model and predict load.

Plain data plus the scikit-learn estimator, so loading it needs only scikit-learn (no module
of this project). A reader applies ``preprocessing`` (see :mod:`mlcontract.features`) to raw
feature values in ``feature_columns`` order, then calls the estimator.
"""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import joblib
import numpy as np

from .errors import ModelIntegrityError
from .features import cast_labels, pick_columns, record_matrix, transform

MODEL_FORMAT = "stepkit.model/1"


def make_bundle(estimator: Any, manifest: dict[str, Any], **identity: Any) -> dict[str, Any]:
    """The bundle of a trained estimator; ``identity``: candidate_id, family, params, libraries."""
    return {
        "format": MODEL_FORMAT,
        "estimator": estimator,
        "feature_columns": list(manifest["feature_columns"]),
        "target_column": manifest["target_column"],
        "classes": [str(c) for c in cast_labels(estimator.classes_)],
        "preprocessing": manifest["preprocessing"],
        **identity,
        "dataset_sha256": manifest["source"]["sha256"],
    }


def dump_bundle(bundle: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(bundle, buffer, compress=3)
    return buffer.getvalue()


def load_bundle(body: bytes, sha256: str, where: str) -> dict[str, Any]:
    """A bundle read from ``where``, after checking its hash against the recorded one."""
    digest = hashlib.sha256(body).hexdigest()
    if digest != sha256:
        raise ModelIntegrityError(f"{where} has SHA-256 {digest[:12]}..., the registry recorded {sha256[:12]}...")
    return joblib.load(io.BytesIO(body))  # type: ignore[no-any-return]


def bundle_inputs(bundle: dict[str, Any], names: list[str], raw_x: np.ndarray) -> np.ndarray:
    """The model's inputs from raw columns ``names`` (a split read back, a CSV)."""
    return transform(pick_columns(names, raw_x, bundle["feature_columns"]), bundle["preprocessing"])


def record_inputs(bundle: dict[str, Any], records: list[Any], ids: list[Any] | None = None) -> np.ndarray:
    """The model's inputs from records as a caller sends them to predict."""
    return transform(record_matrix(records, bundle["feature_columns"], ids), bundle["preprocessing"])


def candidate_id_for(family: str, params: dict[str, Any]) -> str:
    """A candidate's id when the grid gives none: the family and a hash of the parameters
    (train names its artifacts with it, select_model its failures)."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f"{family}-{digest}"
