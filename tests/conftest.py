"""Fixtures shared by the suite's pipeline tests (the endpoint's and LocalStack's)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The repository's stack, functions and definitions, copied as a project of their own
    (so a test's deploy records never mix with a developer's in the checkout)."""
    root = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".stepkit")
    for folder in ("infra", "functions", "statemachines"):
        shutil.copytree(REPO / folder, root / folder, ignore=ignore)
    return root


@pytest.fixture(scope="session")
def sample_datasets() -> ModuleType:
    """``functions/sample_datasets.py`` (functions/ is not a package: loaded by its path)."""
    name = "stepkit_pipeline_sample_datasets"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "functions" / "sample_datasets.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def serving_api() -> Callable[..., tuple[int, Any]]:
    """A call to the repository stack's serving API: ``call(url, body=None)`` (a body: POST as
    JSON, or raw bytes as they are) -> (status, the JSON answer)."""

    def call(url: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    return call
