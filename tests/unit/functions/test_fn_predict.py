"""predict: by alias or version; record, batch or S3 object; warm cache; alias moves; summaries."""

from __future__ import annotations

import json

import pytest

BUCKET = "artifacts"  # created by the conftest's `s3` fixture
CLASSES = ["setosa", "versicolor", "virginica"]


def _iris_rows(kit, n: int = 12, with_target: bool = True) -> list[dict[str, str]]:
    import csv
    import io

    text = kit.sample.inference_csv("iris", rows=n, with_target=with_target).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def predict(kit, champion):
    return kit.fn("predict")


def test_one_record_gives_a_prediction_and_probabilities(predict):
    record = {"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, "petal_length_cm": 1.4, "petal_width_cm": 0.2}
    result = predict({"model_name": "iris", "record": record})
    assert result["model_version"] == 1 and result["alias"] == "champion" and result["count"] == 1
    assert result["prediction"] == "setosa"
    assert set(result["probabilities"]) == set(CLASSES)
    assert sum(result["probabilities"].values()) == pytest.approx(1, abs=1e-5)
    assert result["probabilities"]["setosa"] > 0.5

    as_list = predict({"model_name": "iris", "record": [5.1, 3.5, 1.4, 0.2]})
    assert as_list["probabilities"] == result["probabilities"]


def test_a_batch_keeps_ids_and_echoes_labels(kit, predict):
    rows = _iris_rows(kit, 12)
    result = predict({"model_name": "iris", "records": rows, "record_ids": list(range(100, 112)),
                      "label_column": "target"})
    assert result["count"] == 12
    assert [p["id"] for p in result["predictions"]] == list(range(100, 112))
    assert all(p["label"] == r["target"] for p, r in zip(result["predictions"], rows, strict=True))
    correct = sum(p["prediction"] == p["label"] for p in result["predictions"])
    assert correct >= 10


def test_missing_feature_values_are_imputed(predict):
    result = predict({"model_name": "iris", "record": {"sepal_length_cm": "", "sepal_width_cm": None,
                                                        "petal_length_cm": "1.4", "petal_width_cm": "NA"}})
    assert result["prediction"] in CLASSES


def test_an_s3_object_is_scored_to_a_csv_beside_the_registry(kit, predict):
    kit.put("incoming/batch.csv", kit.sample.inference_csv("iris", rows=40, with_target=True))
    result = predict({"model_name": "iris", "s3_object": {"key": "incoming/batch.csv"}, "label_column": "target"})
    assert result["count"] == 40 and result["output"] == {"bucket": BUCKET, "key": "predictions/batch.predictions.csv"}
    rows = kit.csv("predictions/batch.predictions.csv")
    assert len(rows) == 40 and [int(r["row"]) for r in rows] == list(range(40))
    assert set(rows[0]) == {"row", "prediction", "label", *(f"probability_{c}" for c in CLASSES)}
    assert result["accuracy"] > 0.85 and sum(result["class_counts"].values()) == 40


def test_the_model_is_cached_while_warm_and_reloaded_when_the_alias_moves(kit, champion, predict):
    record = [6.0, 2.9, 4.5, 1.5]
    first = predict({"model_name": "iris", "record": record})
    warm = predict({"model_name": "iris", "record": record})
    assert first["model_loaded"] is True and warm["model_loaded"] is False
    assert warm["model_version"] == 1

    selection = champion["selection"]
    kit.register({**selection, "champion_version": 1})  # version 2 becomes the champion

    moved = predict({"model_name": "iris", "record": record})
    assert moved["model_version"] == 2 and moved["model_loaded"] is True
    again = predict({"model_name": "iris", "record": record})
    assert again["model_loaded"] is False

    pinned = predict({"model_name": "iris", "version": 1, "record": record})
    assert pinned["model_version"] == 1 and pinned["alias"] is None


def test_describe_names_the_version_features_and_classes(predict):
    result = predict({"action": "describe", "model_name": "iris"})
    assert result["model_version"] == 1 and result["family"] == "logistic_regression"
    assert result["classes"] == CLASSES and len(result["feature_columns"]) == 4


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"model_name": "unknown", "record": [1, 2, 3, 4]}, "model 'unknown' is not in the registry"),
        ({"model_name": "iris", "alias": "staging", "record": [1, 2, 3, 4]},
         "model 'iris' has no alias 'staging' (aliases: champion)"),
        ({"model_name": "iris", "version": 9, "record": [1, 2, 3, 4]}, "model 'iris' has no version 9"),
    ],
    ids=["no-registry", "no-alias", "no-version"],
)
def test_a_missing_model_is_a_ModelNotFoundError(predict, event, message):
    with pytest.raises(predict.module.ModelNotFoundError) as caught:
        predict(event)
    assert message in str(caught.value)


def test_a_deleted_or_tampered_artifact_is_named(kit, champion, predict):
    key = champion["registration"]["artifact_key"]
    original = kit.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    kit.put(key, b"tampered")
    with pytest.raises(predict.module.ModelIntegrityError, match="the registry recorded"):
        predict({"model_name": "iris", "record": [1, 2, 3, 4]})
    kit.s3.delete_object(Bucket=BUCKET, Key=key)
    with pytest.raises(predict.module.ModelNotFoundError, match="does not exist"):
        predict({"model_name": "iris", "record": [1, 2, 3, 4]})
    kit.put(key, original)
    assert predict({"model_name": "iris", "record": [1, 2, 3, 4]})["model_version"] == 1


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{"sepal_length_cm": 1}], "record 0 (id 7): missing feature 'sepal_width_cm'"),
        ([[1, 2, 3, 4], [1, "x", 3, 4]], "record 1 (id 8): feature 'sepal_width_cm': 'x' is not a number"),
        ([[1, 2, 3]], "record 0 (id 7): 3 values, the model takes 4"),
        ([[1, 2, True, 4]], "feature 'petal_length_cm': True is not a number"),
    ],
    ids=["missing-column", "not-a-number", "wrong-length", "boolean"],
)
def test_an_invalid_record_is_an_InvalidRecordError_naming_record_and_column(predict, records, message):
    with pytest.raises(predict.module.InvalidRecordError) as caught:
        predict({"model_name": "iris", "records": records, "record_ids": list(range(7, 7 + len(records)))})
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"model_name": "iris"}, "exactly one of record, records, s3_object"),
        ({"model_name": "iris", "alias": "champion", "version": 1, "record": [1, 2, 3, 4]}, "not both"),
        ({"model_name": "iris", "records": [[1, 2, 3, 4]], "record_ids": [1, 2]}, "one id per record"),
        ({"model_name": "iris", "action": "summarize"}, "summarize needs result_writer"),
    ],
    ids=["no-input", "alias-and-version", "ids-mismatch", "summarize-without-results"],
)
def test_a_bad_event_is_an_InvalidEventError(predict, event, message):
    with pytest.raises(predict.module.InvalidEventError, match=message):
        predict(event)


def _write_map_run(kit, prefix: str, outputs: list[dict], failed_inputs: list[dict]) -> dict:
    """Result files laid out as a Distributed Map's ResultWriter writes them."""
    run = f"{prefix}/0123abcd-map-run"
    succeeded = [{"ExecutionArn": f"arn:child:{i}", "Input": "{}", "Output": json.dumps(out), "Status": "SUCCEEDED"}
                 for i, out in enumerate(outputs)]
    failed = [{"ExecutionArn": "arn:child:f", "Input": json.dumps(inp), "Status": "FAILED",
               "Error": "InvalidRecordError", "Cause": "record 3: ..."} for inp in failed_inputs]
    kit.put(f"{run}/SUCCEEDED_0.json", json.dumps(succeeded))
    files = {"SUCCEEDED": [{"Key": f"{run}/SUCCEEDED_0.json", "Size": 1}], "FAILED": [], "PENDING": []}
    if failed:
        kit.put(f"{run}/FAILED_0.json", json.dumps(failed))
        files["FAILED"] = [{"Key": f"{run}/FAILED_0.json", "Size": 1}]
    kit.put(f"{run}/manifest.json", json.dumps({"DestinationBucket": BUCKET, "MapRunArn": "arn:maprun",
                                                "ResultFiles": files}))
    return {"Bucket": BUCKET, "Key": f"{run}/manifest.json"}


def test_summarize_collects_a_map_runs_batches_in_input_order(kit, predict):
    rows = _iris_rows(kit, 25)
    batches = [(list(range(i, min(i + 10, 25))), rows[i:i + 10]) for i in range(0, 25, 10)]
    outputs = [predict({"model_name": "iris", "version": 1, "records": recs, "record_ids": ids,
                        "label_column": "target"}) for ids, recs in reversed(batches)]  # finished out of order
    details = _write_map_run(kit, "predictions/exec-1", outputs, [{"Items": [{}, {}, {}], "BatchInput": {}}])

    summary = predict({"action": "summarize", "model_name": "iris", "version": 1, "result_writer": details,
                       "source": {"bucket": BUCKET, "key": "incoming/x.csv"}, "output_prefix": "predictions/exec-1"})

    assert summary["rows"] == 25 and summary["failed_rows"] == 3
    assert summary["batches"] == {"succeeded": 3, "failed": 1, "pending": 0}
    assert summary["model_versions"] == [1] and summary["accuracy"] > 0.8
    assert summary["failures"][0]["error"] == "InvalidRecordError"
    csv_rows = kit.csv(summary["predictions"]["key"])
    assert [int(r["row"]) for r in csv_rows] == list(range(25))
    assert kit.json(summary["summary"]["key"])["rows"] == 25
