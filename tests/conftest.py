"""Fixtures shared by the suite's pipeline tests (the endpoint's and LocalStack's)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import urllib.error
import urllib.request
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


class ServingApi:
    """Calls to the repository stack's serving API (``functions/serving``) at ``base``."""

    @staticmethod
    def call(url: str, body: Any = None) -> tuple[int, Any]:
        """GET, or POST ``body`` (JSON, or bytes as they are): (status, the JSON answer)."""
        data = None if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def check_untrained(self, base: str) -> None:
        """Health, and /predict's answers before any model is registered."""
        assert self.call(f"{base}/health") == (200, {"status": "ok"})
        status, answer = self.call(f"{base}/predict", b"{not json")
        assert status == 400 and "error" in answer
        status, answer = self.call(f"{base}/predict", {"records": [{"x": 1.0}]})
        assert status == 503 and answer["error"].startswith("no model registered"), answer

    def check_champion(self, base: str, datasets: ModuleType, dataset: str, version: int) -> None:
        """/predict answers with the champion ``version`` for the dataset's first row."""
        features, rows, labels = datasets.load(dataset)
        record = dict(zip(features, map(float, rows[0]), strict=True))
        status, answer = self.call(f"{base}/predict", {"records": [record]})
        assert status == 200, answer
        assert answer["model_version"] == str(version) and answer["predictions"][0]["prediction"] in set(labels)


@pytest.fixture(scope="session")
def serving_api() -> ServingApi:
    return ServingApi()


@pytest.fixture
def deployed_stack(tmp_path: Path, project: Path, local_aws_env: None) -> Any:
    """The repository's stack deployed to a fresh local endpoint: ``{"endpoint", "names", "api",
    "bucket", "stack"}`` (``api``: the serving REST API's base URL; ``stack``: the stack file,
    whose project copy keeps the deploy record, as ``stepkit deploy`` would); the endpoint
    stops after the test.
    The stack gets a name of its own: moto's state outlives an endpoint stopped in the same
    process, so another test's bucket, registry and router table could still be there."""
    import uuid

    from stepkit.deploy import Deployment
    from stepkit.endpoint import LocalEndpoint

    stack_file = project / "infra" / "stack.yaml"
    stack_file.write_text(stack_file.read_text().replace("\nname: stepkit-ml\n",
                                                         f"\nname: ml{uuid.uuid4().hex[:8]}\n", 1))
    endpoint = LocalEndpoint(port=0, state_dir=tmp_path / "endpoint").start()
    try:
        environ = {"STEPKIT_ENDPOINT_URL": endpoint.url, "AWS_ACCESS_KEY_ID": "test",
                   "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": endpoint.region}
        deployment = Deployment.open(stack_file, target="local", environ=environ)
        _, outcome = deployment.deploy(environ=environ)
        assert outcome.failed is None, outcome.error
        api_id = next(a["id"] for a in endpoint.client("apigateway").get_rest_apis()["items"]
                      if a["name"] == deployment.names.function("serving"))
        yield {"endpoint": endpoint, "names": deployment.names, "bucket": deployment.names.bucket("artifacts"),
               "api": f"{endpoint.url}/restapis/{api_id}/api/_user_request_", "stack": stack_file}
    finally:
        endpoint.stop()


@pytest.fixture
def local_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Test credentials and region; no profile, endpoint, target or stage from the caller's shell."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION", "STEPKIT_TARGET", "STEPKIT_STAGE",
                 "STEPKIT_CODE_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
