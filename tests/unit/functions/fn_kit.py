"""The pipeline functions' test kit: the handlers' local harness, the bundled datasets and
:class:`Kit` (the pipeline's steps and S3 reads). A module of its own, not the conftest, so
test modules import it by a name no other directory's module shares (``from conftest
import ...`` gets whichever conftest pytest imported last)."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
BUCKET = "artifacts"


def _load(name: str, path: Path) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


harness = _load("stepkit_pipeline_local_harness", ROOT / "functions" / "local_harness.py")
sample = _load("stepkit_pipeline_sample_datasets", ROOT / "functions" / "sample_datasets.py")



class Kit:
    """The pipeline's steps and S3 reads, for tests."""

    bucket = BUCKET
    sample = sample

    def __init__(self, s3: Any, fn: Callable[[str], Any]) -> None:
        self.s3 = s3
        self.fn = fn

    def json(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())

    def csv(self, key: str) -> list[dict[str, str]]:
        body = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
        return list(csv.DictReader(io.StringIO(body)))

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def put(self, key: str, body: bytes | str) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode() if isinstance(body, str) else body)

    def preprocess(self, dataset: str = "iris", run_id: str = "run-1", **event: Any) -> dict[str, Any]:
        """Upload a bundled dataset and preprocess it; preprocess's response."""
        sample.upload_dataset(self.s3, BUCKET, f"datasets/{dataset}.csv", dataset)
        return self.fn("preprocess")({"dataset_key": f"datasets/{dataset}.csv", "run_id": run_id, **event})

    def train(self, pre: dict[str, Any], family: str = "logistic_regression", params: dict[str, Any] | None = None,
              candidate_id: str | None = None, **event: Any) -> dict[str, Any]:
        candidate: dict[str, Any] = {"family": family, "params": params or {}}
        if candidate_id:
            candidate["id"] = candidate_id
        return self.fn("train")({"run_id": pre["run_id"], "manifest_key": pre["manifest_key"],
                                 "candidate": candidate, **event})

    def select(self, pre: dict[str, Any], candidates: list[dict[str, Any]], model_name: str = "iris",
               **event: Any) -> dict[str, Any]:
        return self.fn("select_model")({"run_id": pre["run_id"], "manifest_key": pre["manifest_key"],
                                        "model_name": model_name, "candidates": candidates, **event})

    def register(self, selection: dict[str, Any], model_name: str = "iris", function: Any = None,
                 **event: Any) -> dict[str, Any]:
        call = function or self.fn("register_model")
        return call({"model_name": model_name, "metric": selection["metric"], "candidate": selection["best"],
                     "expected_champion_version": selection["champion_version"], **event})
