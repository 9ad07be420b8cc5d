"""Sample data for the pipeline: scikit-learn's bundled datasets (no download) and a generator.

Not a Lambda function (``stepkit`` treats only folders of ``functions/`` as functions): the
demo, the benchmark and the tests call it to put a dataset into S3 before a run::

    import importlib.util, pathlib
    spec = importlib.util.spec_from_file_location("sample_datasets", pathlib.Path("functions/sample_datasets.py"))
    sample_datasets = importlib.util.module_from_spec(spec); spec.loader.exec_module(sample_datasets)
    sample_datasets.upload_dataset(boto3.client("s3"), "artifacts", "datasets/breast_cancer.csv", "breast_cancer")

Every dataset is a CSV with a header of snake_case feature names and a ``target`` column
holding class names (``malignant``/``benign``, ``class_0``..., ``setosa``...), the shape the
``preprocess`` function reads. ``synthetic`` uses ``make_classification`` for larger runs.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from typing import Any

import numpy as np

BUNDLED = ("breast_cancer", "wine", "iris")
NAMES = (*BUNDLED, "synthetic")
TARGET = "target"


def _snake(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def load(name: str, *, n_samples: int = 10_000, n_features: int = 20, n_informative: int = 8,
         n_classes: int = 2, seed: int = 0) -> tuple[list[str], np.ndarray, list[str]]:
    """``(feature names, feature matrix, class name per row)`` of a named dataset.

    The keyword arguments shape ``synthetic`` (``make_classification``) and are ignored for
    the bundled datasets.
    """
    if name in BUNDLED:
        from sklearn import datasets

        loader = {"breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine,
                  "iris": datasets.load_iris}[name]
        data = loader()
        features = [_snake(f) for f in data.feature_names]
        labels = [str(data.target_names[t]) for t in data.target]
        return features, np.asarray(data.data, dtype=np.float64), labels
    if name == "synthetic":
        from sklearn.datasets import make_classification

        x, y = make_classification(n_samples=n_samples, n_features=n_features, n_informative=n_informative,
                                   n_redundant=min(2, n_features - n_informative), n_classes=n_classes,
                                   class_sep=1.0, flip_y=0.02, random_state=seed)
        return [f"feature_{i:02d}" for i in range(n_features)], x, [f"class_{v}" for v in y]
    raise ValueError(f"unknown dataset {name!r}; one of {', '.join(NAMES)}")


def to_csv(features: list[str], x: np.ndarray, labels: list[str] | None) -> bytes:
    """CSV bytes with a header; the ``target`` column only when ``labels`` is given."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*features, *([TARGET] if labels is not None else [])])
    for i, row in enumerate(x.tolist()):
        writer.writerow([*(repr(v) for v in row), *([labels[i]] if labels is not None else [])])
    return out.getvalue().encode("utf-8")


def dataset_csv(name: str, **options: Any) -> bytes:
    """The whole named dataset as CSV, with its ``target`` column."""
    features, x, labels = load(name, **options)
    return to_csv(features, x, labels)


def inference_csv(name: str, *, rows: int | None = None, with_target: bool = False, seed: int = 1,
                  **options: Any) -> bytes:
    """Rows to score (a seeded sample of the dataset), without the target unless ``with_target``:
    the file one drops into ``incoming/`` to start the batch-inference pipeline."""
    features, x, labels = load(name, **options)
    order = np.random.default_rng(seed).permutation(len(x))
    if rows is not None:
        order = order[:rows]
    picked = [labels[i] for i in order] if with_target else None
    return to_csv(features, x[order], picked)


def upload(s3: Any, bucket: str, key: str, body: bytes) -> dict[str, Any]:
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/csv")
    lines = body.count(b"\n")
    return {"bucket": bucket, "key": key, "rows": max(lines - 1, 0), "bytes": len(body),
            "sha256": hashlib.sha256(body).hexdigest()}


def upload_dataset(s3: Any, bucket: str, key: str, name: str = "breast_cancer", **options: Any) -> dict[str, Any]:
    """Write the named dataset to ``s3://bucket/key``; returns its location, row count and hash."""
    return upload(s3, bucket, key, dataset_csv(name, **options))


def upload_inference_file(s3: Any, bucket: str, key: str, name: str = "breast_cancer", **options: Any) -> dict:
    """Write rows to score (see :func:`inference_csv`) to ``s3://bucket/key``."""
    return upload(s3, bucket, key, inference_csv(name, **options))
