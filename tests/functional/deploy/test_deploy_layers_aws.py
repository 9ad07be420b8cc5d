"""``stepkit deploy --target aws`` publishes a stack's layers as layer versions (through the
deployment bucket when the zip is too big for the request), the functions list them and
carry only their own code, and destroy deletes the versions. Against the moto server that
stands in for AWS in this folder's tests."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from local_project import LAYERED_PROJECT, write_files

from stepkit.cli import main
from stepkit.runtime import bundle as bundle_module

LAYER = "lay-dev-shared"


def run(*args: str, expect: int = 0):
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == expect, result.output + repr(result.exception)
    return result


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoint: str) -> Path:
    write_files(tmp_path, LAYERED_PROJECT)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # boto3's own setting: AWS, as far as stepkit knows
    return tmp_path


def test_aws_gets_a_layer_version_through_the_deployment_bucket(project: Path, aws,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundle_module, "MAX_ZIPPED_BYTES", 1)  # every zip is "too big" to send directly
    plan = json.loads(run("plan", "--target", "aws", "--json").stdout)
    assert ("create", "layer", LAYER) in {(a["op"], a["kind"], a["name"]) for a in plan["actions"]}
    run("deploy", "--target", "aws")
    lam, s3 = aws("lambda"), aws("s3")
    versions = lam.list_layer_versions(LayerName=LAYER)["LayerVersions"]
    assert [(v["Version"], v["Description"], v["CompatibleRuntimes"]) for v in versions] == [
        (1, "maths", ["python3.12"])]
    config = lam.get_function_configuration(FunctionName="lay-dev-score")
    assert [layer["Arn"] for layer in config["Layers"]] == [versions[0]["LayerVersionArn"]]
    bucket = "lay-dev-deploy-123456789012"
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert [k.rsplit("/", 1)[0] for k in keys] == ["functions/score", "layers/shared"]
    function_zip = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    assert not any(n.startswith(("shared/", "python/")) for n in zipfile.ZipFile(io.BytesIO(function_zip)).namelist())
    layer_zip = s3.get_object(Bucket=bucket, Key=keys[1])["Body"].read()
    assert sorted(zipfile.ZipFile(io.BytesIO(layer_zip)).namelist()) == [
        "python/shared/__init__.py", "python/shared/maths.py"]
    assert "nothing changed" in run("deploy", "--target", "aws").stdout

    run("destroy", "--target", "aws", "--yes")
    assert lam.list_layer_versions(LayerName=LAYER)["LayerVersions"] == []
