"""The model layer (functions/layers/model): one contract for training and serving."""

from __future__ import annotations

import csv
import io
import sys
from typing import Any

import numpy as np
import pytest
from fn_kit import Kit, harness

for _folder in harness.layer_paths("predict"):
    if str(_folder) not in sys.path:
        sys.path.append(str(_folder))

from mlcontract.bundle import bundle_inputs, dump_bundle, load_bundle, make_bundle, record_inputs  # noqa: E402
from mlcontract.errors import ModelIntegrityError  # noqa: E402
from mlcontract.features import cast_labels, fit_preprocessing, label_text, read_labelled_csv  # noqa: E402
from mlcontract.scoring import evaluate  # noqa: E402


def _rows(kit: Kit, key: str) -> list[dict[str, str]]:
    return kit.csv(key)


def test_a_row_preprocessed_for_training_and_for_prediction_gives_the_same_features(kit: Kit) -> None:
    pre = kit.preprocess("breast_cancer")
    manifest = kit.json(pre["manifest_key"])
    features = manifest["feature_columns"]
    written = _rows(kit, manifest["files"]["test"]["key"])  # what train and select_model read
    raw = _rows(kit, manifest["files"]["test_raw"]["key"])  # the same rows, unscaled
    assert len(written) == len(raw) > 0
    bundle_like = {"feature_columns": features, "preprocessing": manifest["preprocessing"]}
    # As predict receives records: a mapping of raw values, strings from a CSV included.
    served = record_inputs(bundle_like, [{c: row[c] for c in features} for row in raw])
    trained = np.array([[float(row[c]) for c in features] for row in written])
    np.testing.assert_array_equal(served, trained)
    # As select_model reads the champion's test rows: raw columns picked by name.
    names, raw_x, labels = read_labelled_csv(
        kit.s3.get_object(Bucket=kit.bucket, Key=manifest["files"]["test_raw"]["key"])["Body"].read(),
        manifest["target_column"])
    np.testing.assert_array_equal(bundle_inputs(bundle_like, names, raw_x), trained)
    assert labels.tolist() == [row[manifest["target_column"]] for row in written]


@pytest.mark.parametrize("value", ["1", "1.0", " 1 ", 1, 1.0, np.int64(1), np.float64(1.0)])
def test_labels_are_cast_one_way(value: Any) -> None:
    assert label_text(value) == "1"
    assert cast_labels([value]).tolist() == ["1"]


def test_missing_labels_and_text_labels() -> None:
    assert [label_text(v) for v in (None, "", "NA", "?", "benign", "1.5")] == [None, None, None, None, "benign", "1.5"]


class _NumericEstimator:
    """An estimator fitted on numeric labels: predicts 1.0 where the first input is positive."""

    classes_ = np.array([0.0, 1.0])

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (x[:, 0] > 0).astype(np.float64)


def test_metrics_compare_true_and_predicted_labels_after_the_same_cast() -> None:
    x = np.array([[1.0], [-1.0], [2.0], [-3.0]])
    truth = np.array(["1", "0", "1", "0"])  # as read back from a split: text
    result = evaluate(_NumericEstimator(), x, truth)
    assert (result["accuracy"], result["balanced_accuracy"], result["f1_macro"]) == (1.0, 1.0, 1.0)
    assert result["roc_auc"] is None and result["log_loss"] is None  # no predict_proba


def test_a_bundle_round_trips_and_a_changed_one_is_refused() -> None:
    import hashlib

    raw = np.array([[1.0, np.nan], [3.0, 4.0], [5.0, 8.0]])
    manifest = {"feature_columns": ["a", "b"], "target_column": "y", "source": {"sha256": "0" * 64},
                "preprocessing": fit_preprocessing(raw)}
    body = dump_bundle(make_bundle(_NumericEstimator(), manifest, candidate_id="c1", family="test"))
    sha = hashlib.sha256(body).hexdigest()
    bundle = load_bundle(body, sha, "s3://b/model.joblib")
    assert (bundle["format"], bundle["classes"], bundle["candidate_id"]) == ("stepkit.model/1", ["0", "1"], "c1")
    assert record_inputs(bundle, [{"a": 3, "b": None}]).tolist() == record_inputs(bundle, [[3.0, "NA"]]).tolist()
    with pytest.raises(ModelIntegrityError, match=r"s3://b/model.joblib has SHA-256"):
        load_bundle(body + b"x", sha, "s3://b/model.joblib")


def test_training_splits_are_written_with_the_layers_transform(kit: Kit) -> None:
    pre = kit.preprocess("iris")
    manifest = kit.json(pre["manifest_key"])
    body = kit.s3.get_object(Bucket=kit.bucket, Key=manifest["files"]["train"]["key"])["Body"].read()
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    scaled = np.array([[float(r[c]) for c in manifest["feature_columns"]] for r in rows])
    np.testing.assert_allclose(scaled.mean(axis=0), 0.0, atol=1e-9)  # fitted on these very rows
