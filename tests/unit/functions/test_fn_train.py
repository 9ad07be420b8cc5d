"""train: one candidate per call; artifact, metrics and lineage in S3; named failures."""

from __future__ import annotations

import hashlib
import io

import joblib
import pytest

BUCKET = "artifacts"  # created by the conftest's `s3` fixture
FAST = {
    "logistic_regression": {"C": 1.0},
    "random_forest": {"n_estimators": 10, "max_depth": 4},
    "extra_trees": {"n_estimators": 10},
    "gradient_boosting": {"n_estimators": 10, "max_depth": 2},
    "hist_gradient_boosting": {"max_iter": 10},
}


@pytest.fixture
def pre(kit):
    return kit.preprocess("iris")


@pytest.mark.parametrize("family", sorted(FAST))
def test_each_family_trains_and_writes_artifact_metrics_and_lineage(kit, pre, family):
    result = kit.train(pre, family, FAST[family], f"{family}-x")

    assert result["status"] == "SUCCEEDED"
    assert result["candidate_id"] == f"{family}-x"
    assert result["validation"]["accuracy"] > 0.8  # iris is easy; chance is 1/3
    assert result["validation"]["log_loss"] >= 0 and 0.5 < result["validation"]["roc_auc"] <= 1
    prefix = f"runs/run-1/candidates/{family}-x/"
    assert kit.keys(prefix) == [prefix + "lineage.json", prefix + "metrics.json", prefix + "model.joblib"]

    body = kit.s3.get_object(Bucket=BUCKET, Key=result["artifact_key"])["Body"].read()
    assert hashlib.sha256(body).hexdigest() == result["artifact_sha256"]
    bundle = joblib.load(io.BytesIO(body))
    assert bundle["format"] == "stepkit.model/1" and bundle["family"] == family
    assert bundle["classes"] == ["setosa", "versicolor", "virginica"]
    assert len(bundle["feature_columns"]) == 4 and len(bundle["preprocessing"]["means"]) == 4

    lineage = kit.json(result["lineage_key"])
    manifest = kit.json(pre["manifest_key"])
    assert lineage["dataset"]["sha256"] == manifest["source"]["sha256"] == pre["dataset"]["sha256"]
    assert lineage["manifest"]["sha256"] == pre["manifest_sha256"]
    assert lineage["splits"]["train"] == manifest["files"]["train"]["sha256"]
    assert lineage["params"] == FAST[family]
    assert len(lineage["code"]["handler_sha256"]) == 64 and lineage["code"]["function_name"] == "train"
    assert len(lineage["code"]["model_layer_sha256"]) == 64
    assert lineage["libraries"]["scikit-learn"]
    assert kit.json(result["metrics_key"])["validation"] == result["validation"]


def test_training_is_seeded_and_an_id_is_derived_when_none_is_given(kit, pre):
    first = kit.train(pre, "random_forest", {"n_estimators": 15})
    second = kit.train(pre, "random_forest", {"n_estimators": 15})
    assert first["candidate_id"] == second["candidate_id"]
    assert first["candidate_id"].startswith("random_forest-")
    assert first["validation"] == second["validation"]
    assert kit.json(first["lineage_key"])["effective_params"]["random_state"] == 42


def test_a_candidate_whose_training_raises_is_a_TrainingFailedError_and_writes_nothing(kit, pre):
    train = kit.fn("train")
    event = {"run_id": "run-1", "manifest_key": pre["manifest_key"],
             "candidate": {"id": "bad", "family": "hist_gradient_boosting", "params": {"interaction_cst": [[99]]}}}
    with pytest.raises(train.module.TrainingFailedError, match=r"bad \(hist_gradient_boosting\) failed to train"):
        train(event)
    assert kit.keys("runs/run-1/candidates/bad/") == []


@pytest.mark.parametrize(
    ("family", "params", "message"),
    [
        ("random_forest", {"n_trees": 10}, "random_forest has no parameter 'n_trees'"),
        ("gradient_boosting", {"n_estimators": 0}, "'n_estimators' parameter"),
        ("logistic_regression", {"C": "big"}, "'C' parameter"),
    ],
    ids=["unknown-parameter", "out-of-range", "wrong-type"],
)
def test_bad_hyperparameters_are_an_InvalidHyperparametersError(kit, pre, family, params, message):
    train = kit.fn("train")
    with pytest.raises(train.module.InvalidHyperparametersError, match=message):
        train({"run_id": "run-1", "manifest_key": pre["manifest_key"],
               "candidate": {"family": family, "params": params}})


def test_an_unknown_family_is_an_InvalidEventError(kit, pre):
    train = kit.fn("train")
    with pytest.raises(train.module.InvalidEventError, match=r"candidate\.family"):
        train({"run_id": "run-1", "manifest_key": pre["manifest_key"], "candidate": {"family": "svm"}})


def test_a_split_changed_after_preprocessing_is_a_DatasetIntegrityError(kit, pre):
    kit.put(pre["files"]["train"]["key"], "tampered")
    train = kit.fn("train")
    with pytest.raises(train.module.DatasetIntegrityError, match="the split changed after preprocessing"):
        train({"run_id": "run-1", "manifest_key": pre["manifest_key"], "candidate": {"family": "logistic_regression"}})


def test_a_missing_manifest_is_an_ArtifactNotFoundError(kit):
    train = kit.fn("train")
    with pytest.raises(train.module.ArtifactNotFoundError, match=r"runs/none/processed/manifest\.json"):
        train({"run_id": "none", "manifest_key": "runs/none/processed/manifest.json",
               "candidate": {"family": "logistic_regression"}})
