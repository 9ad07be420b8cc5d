"""Fixtures for the ML pipeline's function tests: moto S3, and the handlers called in-process
through ``functions/local_harness.py`` (a fresh module per test: a cold start each time)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("aws_lambda_powertools")
moto = pytest.importorskip("moto")

from fn_kit import BUCKET, Kit, harness  # noqa: E402 (after the skips: it loads the handlers' harness)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto S3 with the artifacts bucket; no endpoint override leaks in from outside."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "StepkitTest")
    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def fn(s3: Any) -> Callable[[str], Any]:
    """``fn("train")``: a fresh in-process instance of a pipeline function."""

    def make(name: str) -> Any:
        return harness.LocalFunction(name, environment={"ARTIFACTS_BUCKET": BUCKET})

    return make


@pytest.fixture
def kit(s3: Any, fn: Callable[[str], Any]) -> Kit:
    return Kit(s3, fn)


@pytest.fixture
def champion(kit: Kit) -> dict[str, Any]:
    """An iris model registered as champion (version 1) of model ``iris``."""
    pre = kit.preprocess()
    cand = kit.train(pre, "logistic_regression", {"C": 1.0}, "logreg")
    selection = kit.select(pre, [cand])
    registration = kit.register(selection)
    return {"pre": pre, "candidate": cand, "selection": selection, "registration": registration}
