"""The classification metrics train and select_model report (needs scikit-learn)."""

from __future__ import annotations

import contextlib
import math
import warnings
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, log_loss, roc_auc_score

from .features import cast_labels


def round6(value: Any) -> float | None:
    number = float(value)
    return round(number, 6) if math.isfinite(number) else None


def evaluate(estimator: Any, x: np.ndarray, y: Any) -> dict[str, float | None]:
    """Metrics of ``estimator`` on inputs ``x`` with true labels ``y``; ``None`` for one that
    cannot be computed on these rows. True and predicted labels are cast the same way."""
    truth = cast_labels(y)
    predicted = cast_labels(estimator.predict(x))
    result: dict[str, float | None] = {
        "accuracy": round6(accuracy_score(truth, predicted)),
        "balanced_accuracy": round6(balanced_accuracy_score(truth, predicted)),
        "f1_macro": round6(f1_score(truth, predicted, average="macro", zero_division=0)),
        "roc_auc": None,
        "log_loss": None,
    }
    if hasattr(estimator, "predict_proba"):
        proba = estimator.predict_proba(x)
        classes = cast_labels(estimator.classes_).tolist()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.suppress(ValueError):  # a class absent from these rows
                if len(classes) == 2:
                    result["roc_auc"] = round6(roc_auc_score(truth == classes[1], proba[:, 1]))
                else:
                    result["roc_auc"] = round6(roc_auc_score(truth, proba, multi_class="ovr", labels=classes))
            with contextlib.suppress(ValueError):
                result["log_loss"] = round6(log_loss(truth, proba, labels=classes))
    return result
