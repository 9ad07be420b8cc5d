"""Fixtures shared by the suite's pipeline tests (the endpoint's and LocalStack's)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

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
