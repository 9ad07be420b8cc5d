"""Fixtures of the endpoint's unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stepkit.endpoint.stepfunctions import StepFunctionsService
from stepkit.endpoint.store import Store
from stepkit.integrations.registry import IntegrationRegistry


@pytest.fixture
def sfn_service(tmp_path: Path) -> Iterator[StepFunctionsService]:
    """The Step Functions service on a fresh SQLite store, in process (no HTTP)."""
    store = Store(tmp_path / "state.db")
    svc = StepFunctionsService(store, IntegrationRegistry)
    yield svc
    svc.close()
    store.close()
