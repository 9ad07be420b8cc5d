"""The ML pipeline end to end on a small dataset, in-process under moto S3.

First the five handlers called in sequence as the state machines call them; then the two
state machines themselves (statemachines/*.asl.json) run by stepkit's engine with the same
handlers standing in for the Lambda functions.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("aws_lambda_powertools")
moto = pytest.importorskip("moto")

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "pipeline-artifacts"
MODEL = "breast-cancer"
GRID = [
    {"id": "logreg", "family": "logistic_regression", "params": {"C": 1.0}},
    {"id": "rf", "family": "random_forest", "params": {"n_estimators": 25, "max_depth": 5}},
    {"id": "gb", "family": "gradient_boosting", "params": {"n_estimators": 25, "max_depth": 2}},
    {"id": "broken", "family": "hist_gradient_boosting", "params": {"interaction_cst": [[999]]}},
]


def _load(name: str, path: Path) -> Any:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


harness = _load("stepkit_pipeline_local_harness", ROOT / "functions" / "local_harness.py")
sample = _load("stepkit_pipeline_sample_datasets", ROOT / "functions" / "sample_datasets.py")


@pytest.fixture
def s3(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        sample.upload_dataset(client, BUCKET, "datasets/breast_cancer.csv", "breast_cancer")
        yield client


@pytest.fixture
def functions(s3):
    return harness.pipeline_functions(environment={"ARTIFACTS_BUCKET": BUCKET})


def _json(s3, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def _csv_rows(s3, key: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode())))


def _train_all(functions, run_id: str, manifest_key: str) -> list[dict[str, Any]]:
    """The training Map: one call per candidate, a failure recorded as the Catch records it."""
    results = []
    for candidate in GRID:
        event = {"bucket": BUCKET, "run_id": run_id, "manifest_key": manifest_key, "seed": 42,
                 "candidate": candidate}
        try:
            results.append(functions["train"](event))
        except Exception as exc:
            payload = harness.lambda_error_payload(exc)
            results.append({"status": "FAILED", "candidate": candidate, "error": payload["errorType"],
                            "cause": json.dumps(payload)})
    return results


def _training_run(functions, run_id: str) -> dict[str, Any]:
    pre = functions["preprocess"]({"bucket": BUCKET, "dataset_key": "datasets/breast_cancer.csv", "run_id": run_id,
                                   "target_column": "target", "seed": 42})
    candidates = _train_all(functions, run_id, pre["manifest_key"])
    selection = functions["select_model"]({"bucket": BUCKET, "run_id": run_id, "manifest_key": pre["manifest_key"],
                                           "model_name": MODEL, "metric": "balanced_accuracy",
                                           "candidates": candidates})
    return {"pre": pre, "candidates": candidates, "selection": selection}


def test_the_five_functions_in_sequence_learn_register_and_predict(s3, functions):
    run = _training_run(functions, "run-1")
    pre, candidates, selection = run["pre"], run["candidates"], run["selection"]

    assert pre["rows"]["clean"] == 569
    assert [c["status"] for c in candidates] == ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "FAILED"]
    assert candidates[-1]["error"] == "TrainingFailedError"
    assert selection["candidates"]["succeeded"] == 3 and selection["candidates"]["failed"] == 1
    # The model learns: majority-class guessing scores 0.63 accuracy (0.5 balanced) here.
    assert selection["best"]["test"]["accuracy"] > 0.9
    assert selection["best_test_score"] > 0.9
    assert selection["has_champion"] is False

    registration = functions["register_model"]({
        "bucket": BUCKET, "model_name": MODEL, "run_id": "run-1", "metric": selection["metric"], "alias": "champion",
        "expected_champion_version": selection["champion_version"], "candidate": selection["best"]})
    assert registration["version"] == 1 and registration["promoted"] is True

    index = _json(s3, f"registry/{MODEL}/index.json")
    assert index["aliases"] == {"champion": 1} and list(index["versions"]) == ["1"]
    version = _json(s3, index["versions"]["1"]["version_key"])
    assert version["candidate_id"] == selection["best"]["candidate_id"]
    assert version["lineage"]["dataset"]["sha256"] == pre["dataset"]["sha256"]
    assert version["metrics"]["test"]["accuracy"] > 0.9

    # Batch inference as the Distributed Map runs it: batches of rows tagged with their index,
    # each predicted with the pinned version, the Map Run's results then summarised.
    sample.upload_inference_file(s3, BUCKET, "incoming/new.csv", "breast_cancer", rows=230, with_target=True)
    rows = _csv_rows(s3, "incoming/new.csv")
    described = functions["predict"]({"action": "describe", "bucket": BUCKET, "model_name": MODEL})
    assert described["model_version"] == 1
    outputs = []
    for start in range(0, len(rows), 50):
        outputs.append(functions["predict"]({
            "bucket": BUCKET, "model_name": MODEL, "version": described["model_version"], "label_column": "target",
            "records": rows[start:start + 50], "record_ids": list(range(start, min(start + 50, len(rows))))}))
    assert sum(o["count"] for o in outputs) == 230
    run_dir = "predictions/batch-1/maprun"
    s3.put_object(Bucket=BUCKET, Key=f"{run_dir}/SUCCEEDED_0.json", Body=json.dumps(
        [{"Status": "SUCCEEDED", "Output": json.dumps(o)} for o in outputs]))
    s3.put_object(Bucket=BUCKET, Key=f"{run_dir}/manifest.json", Body=json.dumps({
        "DestinationBucket": BUCKET, "MapRunArn": "arn:maprun",
        "ResultFiles": {"SUCCEEDED": [{"Key": f"{run_dir}/SUCCEEDED_0.json", "Size": 1}], "FAILED": [],
                        "PENDING": []}}))
    summary = functions["predict"]({
        "action": "summarize", "bucket": BUCKET, "model_name": MODEL, "version": 1,
        "result_writer": {"Bucket": BUCKET, "Key": f"{run_dir}/manifest.json"},
        "source": {"bucket": BUCKET, "key": "incoming/new.csv"}, "output_prefix": "predictions/batch-1"})
    assert summary["rows"] == 230 and summary["batches"]["succeeded"] == 5
    assert summary["accuracy"] > 0.9
    predictions = _csv_rows(s3, "predictions/batch-1/predictions.csv")
    assert len(predictions) == 230 and [int(p["row"]) for p in predictions] == list(range(230))
    assert _json(s3, "predictions/batch-1/summary.json")["rows"] == 230

    # A whole S3 object in one call gives the same row count.
    whole = functions["predict"]({"bucket": BUCKET, "model_name": MODEL, "s3_object": {"key": "incoming/new.csv"}})
    assert whole["count"] == 230 and len(_csv_rows(s3, whole["output"]["key"])) == 230

    # A second run on the same data finds the same best model: no improvement over the champion.
    again = _training_run(functions, "run-2")["selection"]
    assert again["has_champion"] is True and again["champion_version"] == 1
    assert again["improvement"] == 0


# -- the state machines, run by stepkit's engine ----------------------------------------------------------


SUBSTITUTIONS = {
    "PreprocessFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:preprocess",
    "TrainFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:train",
    "SelectModelFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:select_model",
    "RegisterModelFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:register_model",
    "PredictFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:predict",
    "RolloutStateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:rollout",
    "ArtifactsBucket": BUCKET,
    "ModelName": MODEL,
}


def _definition(name: str) -> str:
    text = (ROOT / "statemachines" / name).read_text(encoding="utf-8")
    for key, value in SUBSTITUTIONS.items():
        text = text.replace(f"${{{key}}}", value)
    assert "${" not in text
    return text


@pytest.fixture
def engine_functions(functions):
    return {name: harness.for_engine(fn) for name, fn in functions.items()}


def test_the_state_machines_train_register_and_score_an_upload(s3, engine_functions):
    runner = pytest.importorskip("stepkit.runner")
    training = _definition("training.asl.json")

    first = runner.run(training, {"dataset_key": "datasets/breast_cancer.csv", "grid": GRID},
                       functions=engine_functions, name="train-1")
    assert first.status == "SUCCEEDED", (first.error, first.cause)
    out = first.output
    assert out["candidates"] == {"total": 4, "succeeded": 3, "failed": 1}
    assert out["failures"][0]["error"] == "TrainingFailedError"
    assert out["best"]["test"]["accuracy"] > 0.9
    assert out["outcome"]["registered"] is True and out["outcome"]["version"] == 1

    second = runner.run(training, {"dataset_key": "datasets/breast_cancer.csv", "grid": GRID},
                        functions=engine_functions, name="train-2")
    assert second.status == "SUCCEEDED"
    assert second.output["outcome"]["registered"] is False
    assert "the champion stays" in second.output["outcome"]["reason"]
    assert _json(s3, f"registry/{MODEL}/index.json")["aliases"] == {"champion": 1}

    sample.upload_inference_file(s3, BUCKET, "incoming/upload.csv", "breast_cancer", rows=180, with_target=True)
    upload_event = {"detail-type": "Object Created", "source": "aws.s3",
                    "detail": {"bucket": {"name": BUCKET}, "object": {"key": "incoming/upload.csv"}}}
    batch = runner.run(_definition("batch_inference.asl.json"), upload_event, functions=engine_functions,
                       name="batch-1")
    assert batch.status == "SUCCEEDED", (batch.error, batch.cause)
    summary = batch.output["summary"]
    assert summary["rows"] == 180 and summary["failed_rows"] == 0 and summary["accuracy"] > 0.9
    assert len(_csv_rows(s3, summary["predictions"]["key"])) == 180


def test_the_state_machines_fail_with_named_errors(s3, engine_functions):
    runner = pytest.importorskip("stepkit.runner")
    training = _definition("training.asl.json")

    s3.put_object(Bucket=BUCKET, Key="datasets/bad.csv", Body=b"a,b,target\n1,2,x\n3,oops,y\n")
    bad = runner.run(training, {"dataset_key": "datasets/bad.csv"}, functions=engine_functions, name="bad-data")
    assert bad.status == "FAILED" and bad.error == "DatasetSchemaError"
    assert "column 'b', row 2 (line 3): 'oops' is not a number" in bad.cause

    strict = runner.run(training, {"dataset_key": "datasets/breast_cancer.csv", "grid": GRID,
                                   "max_failed_candidates": 0}, functions=engine_functions, name="strict")
    assert strict.status == "FAILED" and strict.error == "TooManyCandidatesFailed"
    assert strict.cause.startswith("1 of 4 candidates failed (at most 0 tolerated)")

    no_model = runner.run(_definition("batch_inference.asl.json"), {"bucket": BUCKET, "key": "datasets/bad.csv"},
                          functions=engine_functions, name="no-model")
    assert no_model.status == "FAILED" and no_model.error == "ModelNotFoundError"
