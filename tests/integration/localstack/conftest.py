"""LocalStack on the host, for the tests of this folder: one per test session (per xdist
worker), installed into ``.stepkit/localstack-venv`` once and reused, on a free loopback
port, with Lambda run by stepkit (``LAMBDA_RUNTIME_EXECUTOR=stepkit``).

Where LocalStack cannot be installed or started (no package index, port taken, start-up
failure) the tests that use it are skipped with the reason. ``STEPKIT_LOCALSTACK=0`` skips
them on purpose; ``STEPKIT_LOCALSTACK_PORT`` picks the port; ``STEPKIT_LOCALSTACK_VENV``
puts the venv elsewhere (e.g. a cache kept between CI runs).

Other tests against LocalStack (the whole pipeline deployed with ``stepkit deploy
--target localstack``) take the ``localstack`` fixture: an ``Instance`` with
``endpoint_url`` and ``client_options()`` for boto3.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from stepkit.localstack_plugin import host

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def localstack(request: pytest.FixtureRequest) -> Iterator[host.Instance]:
    if os.environ.get("STEPKIT_LOCALSTACK", "").strip() == "0":
        pytest.skip("LocalStack tests disabled (STEPKIT_LOCALSTACK=0)")
    setup = host.Setup(state_dir=REPO / ".stepkit")
    try:
        install_s = host.ensure_installed(setup)
    except host.LocalStackUnavailable as exc:
        pytest.skip(f"LocalStack cannot be installed here: {exc}")
    port = int(os.environ.get("STEPKIT_LOCALSTACK_PORT") or 0) or host.free_port()
    try:
        instance = host.start(setup, port)
    except host.PortInUse as exc:
        pytest.skip(f"LocalStack cannot start: {exc}")
    except host.LocalStackUnavailable as exc:
        pytest.skip(f"LocalStack did not start: {exc}")
    try:
        yield instance
    finally:
        started = time.perf_counter()
        family = host.stop(instance)
        stop_s = time.perf_counter() - started
        timings = {
            "install_s": round(install_s, 2),
            "start_s": round(instance.started_s, 2),
            "stop_s": round(stop_s, 2),
            "port": port,
        }
        run_dir = setup.run_dir(port)
        (setup.state_dir / "localstack" / "last-timings.json").write_text(json.dumps(timings))
        left = [pid for pid in family if host.alive(pid)]
        assert not left, f"processes left behind after stopping LocalStack: {left}"
        if request.session.testsfailed == 0:
            shutil.rmtree(run_dir, ignore_errors=True)  # else its log stays, for a look


@pytest.fixture(scope="session")
def aws(localstack: host.Instance) -> Callable[[str], Any]:
    """``aws("lambda")``: a boto3 client for LocalStack."""
    options = localstack.client_options()
    return lambda service: boto3.client(service, **options)
