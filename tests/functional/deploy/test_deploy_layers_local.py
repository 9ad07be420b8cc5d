"""``stepkit deploy`` of the repository's stack to a real local endpoint publishes its ``model``
layer as a layer version the functions list: once, not again when nothing changed, a new
version (and the functions moved to it) when a layer file changes, and none left after
destroy. The functions' zips carry only their own code."""

from __future__ import annotations

import io
import sys
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest

from stepkit.deploy import Deployment

pytest.importorskip("chalice")  # the stack's serving API is a Chalice app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "endpoint"))
from endpoint_helpers import zip_code

USING_MODEL = {"preprocess", "train", "select_model", "register_model", "predict", "drift_check", "serving",
               "rollout"}


def _open(deployed: dict[str, Any]) -> tuple[Deployment, dict[str, str]]:
    endpoint = deployed["endpoint"]
    environ = {"STEPKIT_ENDPOINT_URL": endpoint.url, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
               "AWS_REGION": endpoint.region}
    return Deployment.open(deployed["stack"], target="local", environ=environ), environ


def _versions(lam: Any, layer: str) -> list[int]:
    return [v["Version"] for v in lam.list_layer_versions(LayerName=layer)["LayerVersions"]]


def _layers_of(lam: Any, names: Any) -> dict[str, list[str]]:
    functions = [*USING_MODEL, "retrain_on_drift"]
    return {fn: [layer["Arn"] for layer in lam.get_function_configuration(FunctionName=names.function(fn))
                 .get("Layers", [])] for fn in functions}


def test_the_model_layer_is_published_once_and_again_only_when_it_changes(
        deployed_stack: dict[str, Any], project: Path) -> None:
    endpoint, names = deployed_stack["endpoint"], deployed_stack["names"]
    lam = endpoint.client("lambda")
    layer = names.function("model")
    assert _versions(lam, layer) == [1]
    first = lam.get_layer_version(LayerName=layer, VersionNumber=1)
    assert first["CompatibleRuntimes"] == ["python3.12"]
    expected = {fn: [first["LayerVersionArn"]] for fn in USING_MODEL} | {"retrain_on_drift": []}
    assert _layers_of(lam, names) == expected
    location = lam.get_function(FunctionName=names.function("train"))["Code"]["Location"]
    with urllib.request.urlopen(location) as response:  # the endpoint's own URL of the zip
        entries = zipfile.ZipFile(io.BytesIO(response.read())).namelist()
    assert "handler.py" in entries and not any("mlcontract" in entry for entry in entries)

    deployment, environ = _open(deployed_stack)
    plan = deployment.plan(environ)
    assert [(a.op, a.name) for a in plan.actions if a.kind == "layer"] == [("unchanged", layer)]
    assert not plan.changes
    assert _versions(lam, layer) == [1]

    contract = project / "functions" / "layers" / "model" / "python" / "mlcontract" / "errors.py"
    contract.write_text(contract.read_text() + "\n# a change of the shared code\n")
    deployment, environ = _open(deployed_stack)
    plan = deployment.plan(environ)
    changed = {(a.op, a.kind, a.name) for a in plan.changes}
    assert changed == {("update", "layer", layer), *(("update", "function", names.function(fn)) for fn in USING_MODEL)}
    assert all([c.field for c in a.changes] == ["layers"] for a in plan.changes if a.kind == "function")
    _, outcome = deployment.deploy(plan, environ=environ)
    assert outcome.failed is None, outcome.error
    assert _versions(lam, layer) == [2, 1]
    second = lam.get_layer_version(LayerName=layer, VersionNumber=2)["LayerVersionArn"]
    assert _layers_of(lam, names) == {fn: [second] for fn in USING_MODEL} | {"retrain_on_drift": []}

    # Another version under the stack's layer name (other content) is not what the functions
    # get; the recorded version deleted behind the deploy's back is published again.
    second_sha = lam.get_layer_version(LayerName=layer, VersionNumber=2)["Content"]["CodeSha256"]
    lam.publish_layer_version(LayerName=layer, Content={"ZipFile": zip_code({"python/other.py": "X = 1\n"})})  # 3
    lam.delete_layer_version(LayerName=layer, VersionNumber=2)
    deployment, environ = _open(deployed_stack)
    plan = deployment.plan(environ)
    assert [(a.op, a.reason) for a in plan.changes if a.kind == "layer"] == [
        ("create", "recorded, but missing on the target")]
    _, outcome = deployment.deploy(plan, environ=environ)
    assert outcome.failed is None, outcome.error
    assert _versions(lam, layer) == [4, 3, 1]
    fourth = lam.get_layer_version(LayerName=layer, VersionNumber=4)
    assert fourth["Content"]["CodeSha256"] == second_sha  # the stack's content again, not version 3's
    # The functions keep running the deleted version's code, as on Lambda; the next change of
    # one lists the recorded version 4, never the newest version 3.
    assert _layers_of(lam, names) == {fn: [second] for fn in USING_MODEL} | {"retrain_on_drift": []}
    assert deployment.api.provider("layer").latest_arn(layer) == fourth["LayerVersionArn"]  # type: ignore[attr-defined]

    deployment.destroy(delete_data=True)
    assert _versions(lam, layer) == [3]  # not the stack's: left as it was
