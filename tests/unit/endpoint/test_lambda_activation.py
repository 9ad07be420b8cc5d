"""The Lambda service hands functions to the runtime in order: a configuration update whose
activation is slow cannot leave the runtime with older code than a code update that followed
it, nor report the function ready before the latest change is in the runtime."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lambda_stubs import GatedRuntime, zip_files

from stepkit.endpoint.lambda_service import LambdaService
from stepkit.endpoint.protocol import RequestContext
from stepkit.endpoint.store import Store

ROLE = "arn:aws:iam::123456789012:role/r"


def _until(check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return value


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[LambdaService, GatedRuntime]]:
    runtime = GatedRuntime()
    store = Store(tmp_path / "db.sqlite")
    service = LambdaService(store, tmp_path, runtime, region="us-east-1", account="123456789012",  # type: ignore[arg-type]
                            code_url=lambda sha: sha)
    yield service, runtime
    store.close()


def test_a_slow_activation_never_wins_over_a_later_change(service: tuple[LambdaService, GatedRuntime]) -> None:
    lam, runtime = service
    ctx = RequestContext()
    lam.CreateFunction({"FunctionName": "f", "Runtime": "python3.11", "Role": ROLE, "Handler": "app.handler",
                        "Code": {"ZipFile": zip_files({"app.py": "def handler(e, c): return 1\n"})}}, ctx)
    assert _until(lambda: lam.functions["f"]["LastUpdateStatus"] == "Successful")

    runtime.gates["app.other"] = gate = threading.Event()
    lam.UpdateFunctionConfiguration({"FunctionName": "f", "Handler": "app.other"}, ctx)
    assert runtime.waiting.wait(60)  # the configuration's activation is stuck in the runtime
    lam.UpdateFunctionCode({"FunctionName": "f", "ZipFile": zip_files({"app.py": "def other(e, c): return 2\n"})}, ctx)
    assert lam.functions["f"]["LastUpdateStatus"] == "InProgress"
    gate.set()

    assert _until(lambda: lam.functions["f"]["LastUpdateStatus"] == "Successful")
    record, installed = lam.functions["f"], runtime.configs["f"]
    assert (installed.handler, installed.code_dir) == ("app.other", Path(record["_code_dir"]))
    assert (installed.code_dir / "app.py").read_text() == "def other(e, c): return 2\n"


def test_a_deleted_function_is_not_brought_back_by_its_activation(
    service: tuple[LambdaService, GatedRuntime],
) -> None:
    lam, runtime = service
    ctx = RequestContext()
    runtime.gates["app.handler"] = gate = threading.Event()
    lam.CreateFunction({"FunctionName": "g", "Runtime": "python3.11", "Role": ROLE, "Handler": "app.handler",
                        "Code": {"ZipFile": zip_files({"app.py": "def handler(e, c): return 1\n"})}}, ctx)
    assert runtime.waiting.wait(60)
    deleting = threading.Thread(target=lam.DeleteFunction, args=({"FunctionName": "g"}, ctx))
    deleting.start()
    gate.set()
    deleting.join(60)
    assert not deleting.is_alive()
    assert "g" not in lam.functions and runtime.function_names() == []
    assert not list((Path(lam.dir) / "code").iterdir())  # and its code is gone
