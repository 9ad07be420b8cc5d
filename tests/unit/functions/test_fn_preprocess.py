"""preprocess: schema validation, cleaning, seeded stratified split, train-only scaling, manifest."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

BUCKET = "artifacts"  # created by the conftest's `s3` fixture

def _matrix(rows: list[dict[str, str]], columns: list[str]) -> np.ndarray:
    return np.array([[float(r[c]) if r[c] else np.nan for c in columns] for r in rows])


def test_writes_splits_and_a_manifest_that_describes_them(kit):
    result = kit.preprocess("breast_cancer", run_id="r1")
    manifest = kit.json(result["manifest_key"])

    assert result["manifest_key"] == "runs/r1/processed/manifest.json"
    assert manifest["rows"]["raw"] == 569 and manifest["rows"]["clean"] == 569
    assert manifest["rows"]["train"] + manifest["rows"]["validation"] + manifest["rows"]["test"] == 569
    assert manifest["classes"] == ["benign", "malignant"]
    assert len(manifest["feature_columns"]) == 30 and "mean_radius" in manifest["feature_columns"]
    assert result["dataset"]["sha256"] == manifest["source"]["sha256"]
    for name, entry in manifest["files"].items():
        body = kit.s3.get_object(Bucket=BUCKET, Key=entry["key"])["Body"].read()
        assert hashlib.sha256(body).hexdigest() == entry["sha256"], name
        assert len(kit.csv(entry["key"])) == entry["rows"]
    stats = manifest["feature_stats"]["mean_radius"]
    assert stats["count"] == manifest["rows"]["train"] and stats["min"] < stats["mean"] < stats["max"]
    assert set(manifest["preprocessing"]) >= {"medians", "means", "scales"}


def test_split_is_stratified_and_reproducible_with_its_seed(kit):
    first = kit.preprocess("breast_cancer", run_id="a", seed=7)
    again = kit.preprocess("breast_cancer", run_id="b", seed=7)
    other = kit.preprocess("breast_cancer", run_id="c", seed=8)
    hashes = {run["run_id"]: {n: f["sha256"] for n, f in run["files"].items()} for run in (first, again, other)}
    assert hashes["a"] == hashes["b"]
    assert hashes["a"]["train"] != hashes["c"]["train"]

    counts = kit.json(first["manifest_key"])["class_counts"]
    share = {split: c["malignant"] / sum(c.values()) for split, c in counts.items()}
    assert max(share.values()) - min(share.values()) < 0.03  # the same class balance in every split


def test_scaling_is_fitted_on_the_training_split_only(kit):
    result = kit.preprocess("wine")
    manifest = kit.json(result["manifest_key"])
    features = manifest["feature_columns"]
    train = _matrix(kit.csv(result["files"]["train"]["key"]), features)
    validation = _matrix(kit.csv(result["files"]["validation"]["key"]), features)
    raw_test = _matrix(kit.csv(result["files"]["test_raw"]["key"]), features)
    test = _matrix(kit.csv(result["files"]["test"]["key"]), features)

    np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(train.std(axis=0), 1, atol=1e-9)
    assert np.abs(validation.mean(axis=0)).max() > 1e-3  # scaled with train's statistics, not its own
    prep = manifest["preprocessing"]
    np.testing.assert_allclose((raw_test - prep["means"]) / prep["scales"], test, rtol=1e-9, atol=1e-9)


def test_cleaning_drops_rows_without_target_and_duplicates_and_imputes_with_train_medians(kit):
    lines = ["x1,x2,target"]
    rng = np.random.default_rng(0)
    for i in range(60):
        lines.append(f"{rng.normal():.6f},{rng.normal():.6f},{'yes' if i % 2 else 'no'}")
    lines[5] = "NA,0.5,yes"  # a missing feature: imputed
    lines.append(lines[10])  # an exact duplicate
    lines.append("0.1,0.2,")  # no target
    kit.put("datasets/messy.csv", "\n".join(lines) + "\n")

    result = kit.fn("preprocess")({"dataset_key": "datasets/messy.csv", "run_id": "m"})

    rows = result["rows"]
    assert rows["raw"] == 62 and rows["dropped_duplicates"] == 1 and rows["dropped_missing_target"] == 1
    assert rows["clean"] == 60
    for split in ("train", "validation", "test"):
        assert all(r["x1"] != "" for r in kit.csv(result["files"][split]["key"]))
    manifest = kit.json(result["manifest_key"])
    assert manifest["feature_stats"]["x1"]["missing_all_splits"] == 1


def test_numeric_labels_are_normalised(kit):
    body = "a,b,target\n" + "".join(f"{i},{i * 2},{'1.0' if i % 2 else '0'}\n" for i in range(40))
    kit.put("datasets/num.csv", body)
    result = kit.fn("preprocess")({"dataset_key": "datasets/num.csv", "run_id": "n"})
    assert result["classes"] == ["0", "1"]


GOOD = "".join(f"{i},{i % 7},{'a' if i % 2 else 'b'}\n" for i in range(30))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "is empty"),
        ("f1,f2,label\n" + GOOD, "target column 'target' is not in the header"),
        ("f1,f1,target\n" + GOOD, "column 'f1' appears twice"),
        ("f1,f2,target\n" + GOOD + "1,2\n", "row 31 (line 32) has 2 fields, the header has 3"),
        ("f1,f2,target\n" + GOOD + "1,abc,a\n", "column 'f2', row 31 (line 32): 'abc' is not a number"),
        ("f1,f2,target\n" + GOOD + "inf,1,a\n", "column 'f1', row 31 (line 32): 'inf' is not finite"),
        ("f1,f2,target\n" + "".join(f"{i},{i},same\n" for i in range(30)), "has a single class"),
        ("f1,f2,target\n1,2,a\n3,4,b\n", "2 usable rows"),
        ("f1,f2,target\n" + "".join(f"{i},,{'a' if i % 2 else 'b'}\n" for i in range(30)),
         "column 'f2' is missing in 100% of rows"),
        ("target\na\nb\n", "no feature columns"),
        (b"f1,target\n\xff\xfe,a\n", "is not UTF-8"),
    ],
    ids=["empty", "no-target", "duplicate-column", "ragged-row", "not-a-number", "infinite", "one-class",
         "too-few-rows", "mostly-missing", "no-features", "not-utf8"],
)
def test_a_malformed_dataset_fails_with_DatasetSchemaError_naming_the_problem(kit, body, message):
    kit.put("datasets/bad.csv", body)
    preprocess = kit.fn("preprocess")
    with pytest.raises(preprocess.module.DatasetSchemaError) as caught:
        preprocess({"dataset_key": "datasets/bad.csv", "run_id": "bad"})
    assert message in str(caught.value)
    assert type(caught.value).__name__ == "DatasetSchemaError"  # the errorType Step Functions sees
    assert kit.keys("runs/bad/") == []  # nothing written


def test_expected_feature_columns_are_checked(kit):
    kit.put("datasets/d.csv", "f1,f2,target\n" + GOOD)
    preprocess = kit.fn("preprocess")
    with pytest.raises(preprocess.module.DatasetSchemaError, match="expected feature column 'f3'"):
        preprocess({"dataset_key": "datasets/d.csv", "run_id": "x", "feature_columns": ["f1", "f3"]})
    result = preprocess({"dataset_key": "datasets/d.csv", "run_id": "y", "feature_columns": ["f1"]})
    assert result["n_features"] == 1


def test_a_missing_dataset_is_a_DatasetNotFoundError(kit):
    preprocess = kit.fn("preprocess")
    with pytest.raises(preprocess.module.DatasetNotFoundError, match=r"s3://artifacts/datasets/nope\.csv"):
        preprocess({"dataset_key": "datasets/nope.csv", "run_id": "x"})


@pytest.mark.parametrize(
    "event",
    [{"run_id": "x"}, {"dataset_key": "d.csv", "run_id": "has space"},
     {"dataset_key": "d.csv", "run_id": "x", "test_fraction": 0.7}, {"dataset_key": "d.csv", "run_id": "x", "typo": 1}],
    ids=["no-dataset", "bad-run-id", "bad-fraction", "unknown-field"],
)
def test_a_bad_event_is_an_InvalidEventError(kit, event):
    preprocess = kit.fn("preprocess")
    with pytest.raises(preprocess.module.InvalidEventError, match="bad preprocess event"):
        preprocess(event)
