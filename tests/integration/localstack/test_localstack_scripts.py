"""localstack/start.sh, status.sh and stop.sh, as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stepkit.localstack_plugin import host

pytestmark = pytest.mark.localstack

REPO = Path(__file__).resolve().parents[3]


def _script(name: str, port: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STEPKIT_PYTHON": sys.executable}
    return subprocess.run(
        ["bash", str(REPO / "localstack" / name), "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


def test_start_status_stop(localstack: host.Instance) -> None:
    # The fixture has installed the venv; the scripts start a second LocalStack beside it.
    port = host.free_port()
    started = _script("start.sh", port)
    assert started.returncode == 0, started.stderr
    assert f"is up at http://127.0.0.1:{port}" in started.stdout
    try:
        status = _script("status.sh", port)
        assert status.returncode == 0, status.stderr
        state = json.loads(status.stdout)
        assert state["health"]["services"]["lambda"] in ("available", "running")
        pid = state["pid"]
        again = _script("start.sh", port)
        assert again.returncode == 2 and "already runs" in again.stderr
    finally:
        stopped = _script("stop.sh", port)
    assert stopped.returncode == 0, stopped.stderr
    assert "Stopped LocalStack" in stopped.stdout
    assert not host.alive(pid)
    assert not host.health(f"http://127.0.0.1:{port}")
    assert _script("stop.sh", port).stdout.startswith("No LocalStack recorded")
    shutil.rmtree(REPO / ".stepkit" / "localstack" / str(port), ignore_errors=True)
