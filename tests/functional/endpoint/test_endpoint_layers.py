"""Lambda layers through boto3 on a real endpoint: published (zip or S3), listed, used by a
function whose handler imports from them, replaced, deleted (the function keeps its copy),
numbered as AWS numbers them, and still there after a restart or a ``kill -9``."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import ROLE, EndpointProcess, make_client, unique, wait_active, zip_code

from stepkit.endpoint import LocalEndpoint

HANDLER = """
import shared.words
from tool import VERSION

def handler(event, context):
    return {"word": shared.words.WORD, "tool": VERSION, "from": shared.words.__file__}
"""


def _layer_zip(word: str) -> bytes:
    return zip_code({"python/shared/__init__.py": "", "python/shared/words.py": f"WORD = {word!r}\n",
                     "python/lib/python3.11/site-packages/tool.py": "VERSION = 'site'\n"})


def _invoke(lam: Any, name: str) -> dict:
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return body


def _error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_a_function_imports_from_its_layer_versions(tmp_path: Path) -> None:
    with LocalEndpoint(state_dir=tmp_path) as endpoint:
        lam = make_client(endpoint.url, "lambda")
        layer = unique("words")
        first = lam.publish_layer_version(LayerName=layer, Content={"ZipFile": _layer_zip("one")},
                                          Description="the words", CompatibleRuntimes=["python3.11"],
                                          CompatibleArchitectures=["x86_64"], LicenseInfo="MIT")
        assert (first["Version"], first["LayerVersionArn"]) == (1, f"{first['LayerArn']}:1")
        assert first["LayerArn"] == f"arn:aws:lambda:us-east-1:123456789012:layer:{layer}"
        with urllib.request.urlopen(first["Content"]["Location"]) as fetched:
            assert fetched.read() == _layer_zip("one")
        assert first["Content"]["CodeSize"] == len(_layer_zip("one"))
        assert lam.get_layer_version(LayerName=layer, VersionNumber=1)["Description"] == "the words"
        assert lam.get_layer_version_by_arn(Arn=first["LayerVersionArn"])["LicenseInfo"] == "MIT"

        name = unique("uses")
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": zip_code({"app.py": HANDLER})}, Layers=[first["LayerVersionArn"]])
        config = wait_active(lam, name)
        assert config["Layers"] == [{"Arn": first["LayerVersionArn"], "CodeSize": first["Content"]["CodeSize"]}]
        body = _invoke(lam, name)
        assert (body["word"], body["tool"]) == ("one", "site")
        assert body["from"].endswith("/python/shared/words.py")

        second = lam.publish_layer_version(LayerName=first["LayerArn"], Content={"ZipFile": _layer_zip("two")})
        assert second["Version"] == 2
        lam.update_function_configuration(FunctionName=name, Layers=[second["LayerVersionArn"]])
        wait_active(lam, name)
        assert _invoke(lam, name)["word"] == "two"
        assert lam.get_function(FunctionName=name)["Configuration"]["Layers"][0]["Arn"] == second["LayerVersionArn"]

        lam.delete_layer_version(LayerName=layer, VersionNumber=2)
        lam.delete_layer_version(LayerName=layer, VersionNumber=2)  # idempotent, as on AWS
        assert _invoke(lam, name)["word"] == "two"  # the function keeps what it uses
        third = lam.publish_layer_version(LayerName=layer, Content={"ZipFile": _layer_zip("three")})
        assert third["Version"] == 3  # never 2 again
        versions = lam.list_layer_versions(LayerName=layer)["LayerVersions"]
        assert [v["Version"] for v in versions] == [3, 1]
        listed = [entry for entry in lam.list_layers()["Layers"] if entry["LayerName"] == layer]
        assert [entry["LatestMatchingVersion"]["Version"] for entry in listed] == [3]
        for_runtime = [e for e in lam.list_layers(CompatibleRuntime="python3.11")["Layers"] if e["LayerName"] == layer]
        assert [entry["LatestMatchingVersion"]["Version"] for entry in for_runtime] == [1]

    with LocalEndpoint(state_dir=tmp_path) as endpoint:  # records and code survive a restart
        lam = make_client(endpoint.url, "lambda")
        wait_active(lam, name)
        assert _invoke(lam, name)["word"] == "two"
        assert [v["Version"] for v in lam.list_layer_versions(LayerName=layer)["LayerVersions"]] == [3, 1]
        assert lam.publish_layer_version(LayerName=layer, Content={"ZipFile": _layer_zip("4")})["Version"] == 4
        lam.update_function_configuration(FunctionName=name, Layers=[])
        config = wait_active(lam, name)
        assert "Layers" not in config
        assert lam.invoke(FunctionName=name, Payload=b"{}").get("FunctionError") == "Unhandled"


def test_a_layer_from_s3_and_its_permissions(lam: Any, clients: Any) -> None:
    s3 = clients("s3")
    bucket = unique("layers")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="layer.zip", Body=_layer_zip("s3"))
    layer = unique("from-s3")
    published = lam.publish_layer_version(LayerName=layer, Content={"S3Bucket": bucket, "S3Key": "layer.zip"})
    assert published["Content"]["CodeSize"] == len(_layer_zip("s3"))
    # A location S3 cannot give: S3's own error code and message, as Lambda passes them on.
    for content, s3_code in (({"S3Bucket": bucket, "S3Key": "nothing.zip"}, "NoSuchKey"),
                             ({"S3Bucket": unique("no-such-bucket"), "S3Key": "layer.zip"}, "NoSuchBucket")):
        with pytest.raises(ClientError) as caught:
            lam.publish_layer_version(LayerName=layer, Content=content)
        code, message = _error(caught)
        assert code == "InvalidParameterValueException"
        assert message.startswith(f"Error occurred while GetObject. S3 Error Code: {s3_code}. S3 Error Message: ")
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=layer)["LayerVersions"]] == [1]
    added = lam.add_layer_version_permission(LayerName=layer, VersionNumber=1, StatementId="all",
                                             Action="lambda:GetLayerVersion", Principal="*")
    policy = lam.get_layer_version_policy(LayerName=layer, VersionNumber=1)
    assert policy["RevisionId"] == added["RevisionId"]
    assert json.loads(policy["Policy"])["Statement"] == [json.loads(added["Statement"])]
    with pytest.raises(ClientError) as caught:
        lam.add_layer_version_permission(LayerName=layer, VersionNumber=1, StatementId="all",
                                         Action="lambda:GetLayerVersion", Principal="*")
    assert _error(caught)[0] == "ResourceConflictException"
    lam.remove_layer_version_permission(LayerName=layer, VersionNumber=1, StatementId="all")
    with pytest.raises(ClientError) as caught:
        lam.get_layer_version_policy(LayerName=layer, VersionNumber=1)
    assert _error(caught) == ("ResourceNotFoundException", "No policy is associated with the given resource.")


def test_acknowledged_layer_writes_survive_kill_9(tmp_path: Path) -> None:
    server = EndpointProcess(tmp_path / "state")
    try:
        lam = make_client(server.start()["url"], "lambda")
        for word in ("one", "two"):
            lam.publish_layer_version(LayerName="kept", Content={"ZipFile": _layer_zip(word)})
        lam.delete_layer_version(LayerName="kept", VersionNumber=2)
        arn = lam.get_layer_version(LayerName="kept", VersionNumber=1)["LayerVersionArn"]
        lam.create_function(FunctionName="uses-kept", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": zip_code({"app.py": HANDLER})}, Layers=[arn])
        server.kill()
        lam = make_client(server.start()["url"], "lambda")
        assert [v["Version"] for v in lam.list_layer_versions(LayerName="kept")["LayerVersions"]] == [1]
        assert lam.publish_layer_version(LayerName="kept", Content={"ZipFile": _layer_zip("x")})["Version"] == 3
        wait_active(lam, "uses-kept")
        assert _invoke(lam, "uses-kept")["word"] == "one"
    finally:
        server.kill()


def test_a_later_layer_replaces_an_earlier_ones_module_as_lambda_merges_them(lam: Any) -> None:
    """Lambda extracts a function's layers into one /opt in their order: for a module two
    layers hold, the one listed later is imported."""
    arns = {word: lam.publish_layer_version(LayerName=unique(word), Content={"ZipFile": _layer_zip(word)})
            ["LayerVersionArn"] for word in ("first", "second")}
    name = unique("merged")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": zip_code({"app.py": HANDLER})}, Layers=[arns["first"], arns["second"]])
    wait_active(lam, name)
    assert _invoke(lam, name)["word"] == "second"
    lam.update_function_configuration(FunctionName=name, Layers=[arns["second"], arns["first"]])
    wait_active(lam, name)
    assert _invoke(lam, name)["word"] == "first"
