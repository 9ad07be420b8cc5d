"""select_model: ranking on validation, test score of the best, comparison with the champion."""

from __future__ import annotations

import pytest


def _failed(candidate_id: str, error: str = "TrainingFailedError") -> dict:
    return {"status": "FAILED", "candidate": {"id": candidate_id, "family": "random_forest"}, "error": error,
            "cause": '{"errorMessage": "boom", "errorType": "TrainingFailedError"}'}


def test_ranks_by_validation_metric_and_tests_the_best_without_a_champion(kit):
    pre = kit.preprocess("breast_cancer")
    weak = kit.train(pre, "random_forest", {"n_estimators": 3, "max_depth": 1}, "stump-forest")
    strong = kit.train(pre, "logistic_regression", {"C": 1.0}, "logreg")

    result = kit.select(pre, [weak, _failed("broken"), strong], model_name="bc", metric="accuracy")

    assert [r["candidate_id"] for r in result["ranking"]] == ["logreg", "stump-forest"]
    assert result["best"]["candidate_id"] == "logreg"
    assert result["best"]["artifact_sha256"] == strong["artifact_sha256"]
    assert result["candidates"] == {"total": 3, "succeeded": 2, "failed": 1, "failures": [
        {"candidate_id": "broken", "error": "TrainingFailedError",
         "cause": '{"errorMessage": "boom", "errorType": "TrainingFailedError"}'}]}
    assert result["best_test_score"] == result["best"]["test"]["accuracy"] > 0.9
    assert result["test_rows"] == pre["rows"]["test"]
    assert result["has_champion"] is False and result["champion"] is None and result["improvement"] is None
    assert kit.json(result["selection_key"])["best"]["candidate_id"] == "logreg"


def test_failed_candidates_without_an_id_get_the_id_train_would_give_them(kit):
    pre = kit.preprocess("iris")
    ok = kit.train(pre, "logistic_regression")
    failed = {"status": "FAILED", "candidate": {"family": "random_forest", "params": {"max_depth": 2}},
              "error": "States.Timeout", "cause": "x"}
    result = kit.select(pre, [ok, failed])
    train_module = kit.fn("train").module
    assert result["candidates"]["failures"][0]["candidate_id"] == train_module.candidate_id_for(
        "random_forest", {"max_depth": 2})


def test_all_candidates_failed_is_a_NoSuccessfulCandidatesError_listing_them(kit):
    pre = kit.preprocess("iris")
    select = kit.fn("select_model")
    with pytest.raises(select.module.NoSuccessfulCandidatesError, match="all 2 candidates failed: a: Training"):
        select({"run_id": "run-1", "manifest_key": pre["manifest_key"], "model_name": "iris",
                "candidates": [_failed("a"), _failed("b", "Sandbox.Timedout")]})


def test_the_champion_is_scored_on_the_same_test_rows(kit, champion):
    pre = kit.preprocess("iris", run_id="run-2")
    candidate = kit.train(pre, "random_forest", {"n_estimators": 20}, "rf")

    result = kit.select(pre, [candidate])

    assert result["has_champion"] is True and result["champion_comparable"] is True
    assert result["champion_version"] == 1
    assert result["champion"]["candidate_id"] == "logreg"
    assert 0.8 < result["champion_test_score"] <= 1
    assert result["improvement"] == pytest.approx(result["best_test_score"] - result["champion_test_score"], abs=1e-6)


def test_the_same_model_against_itself_improves_by_nothing(kit, champion):
    result = kit.select(champion["pre"], [champion["candidate"]])
    assert result["improvement"] == 0


def test_a_champion_of_other_features_is_not_comparable(kit, champion):
    pre = kit.preprocess("wine", run_id="wine-run")
    candidate = kit.train(pre, "logistic_regression")
    result = kit.select(pre, [candidate], model_name="iris")
    assert result["has_champion"] is True and result["champion_comparable"] is False
    assert "needs features this dataset lacks" in result["champion"]["reason"]
    assert result["improvement"] is None


def test_a_champion_whose_artifact_is_gone_is_a_ModelNotFoundError(kit, champion):
    kit.s3.delete_object(Bucket=kit.bucket, Key=champion["registration"]["artifact_key"])
    select = kit.fn("select_model")
    with pytest.raises(select.module.ModelNotFoundError, match=r"versions/000001/model\.joblib does not exist"):
        select({"run_id": "run-1", "manifest_key": champion["pre"]["manifest_key"], "model_name": "iris",
                "candidates": [champion["candidate"]]})


def test_a_tampered_candidate_artifact_is_a_ModelIntegrityError(kit):
    pre = kit.preprocess("iris")
    candidate = kit.train(pre, "logistic_regression")
    kit.put(candidate["artifact_key"], b"not the model")
    select = kit.fn("select_model")
    with pytest.raises(select.module.ModelIntegrityError):
        select({"run_id": "run-1", "manifest_key": pre["manifest_key"], "model_name": "iris",
                "candidates": [candidate]})


def test_an_empty_candidate_list_is_an_InvalidEventError(kit):
    select = kit.fn("select_model")
    with pytest.raises(select.module.InvalidEventError, match="candidates"):
        select({"run_id": "r", "manifest_key": "m", "model_name": "iris", "candidates": []})
