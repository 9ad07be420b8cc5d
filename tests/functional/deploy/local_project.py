"""A project written under tmp_path and a real local endpoint it deploys to, for the tests of
triggers deployed by ``stepkit deploy`` (stream, pipe, topic dead-letter)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from stepkit.endpoint import LocalEndpoint
from stepkit.engine.clock import Clock

#: A stack whose one function imports from its one layer (``shared``), as files to write.
LAYERED_PROJECT = {
    "functions/score/app.py": "from shared.maths import double\n\n\ndef handler(event, context):\n"
                              "    return double(event)\n",
    "functions/layers/shared/python/shared/__init__.py": "",
    "functions/layers/shared/python/shared/maths.py": "def double(x):\n    return 2 * x\n",
    "infra/stack.yaml": "name: lay\nlayers:\n  shared: {path: functions/layers/shared, description: maths, "
                        "compatible_runtimes: [python3.12]}\n"
                        "functions:\n  score: {runtime: python3.12, layers: [shared]}\n",
}


def write_files(root: Path, files: dict[str, str]) -> Path:
    """``files`` (relative path -> text) written under ``root``; ``root``."""
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


@contextmanager
def local_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, files: dict[str, str],
                  clock: Clock | None = None) -> Iterator[LocalEndpoint]:
    """``files`` (relative path -> text) written under ``tmp_path/name``, the current folder,
    with a local endpoint as the deploy target and nothing of the host's AWS setup."""
    root = write_files(tmp_path / name, files)
    monkeypatch.chdir(root)
    with LocalEndpoint(clock=clock) as endpoint:
        monkeypatch.setenv("STEPKIT_ENDPOINT_URL", endpoint.url)
        for variable, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                                "AWS_DEFAULT_REGION": "us-east-1"}.items():
            monkeypatch.setenv(variable, value)
        for variable in ("AWS_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "STEPKIT_TARGET", "STEPKIT_STAGE"):
            monkeypatch.delenv(variable, raising=False)
        yield endpoint


def eventually(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy (deliveries are asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)
