"""The Lambda layer operations' checks and errors, as AWS answers them, on the service itself
(a runtime that only records what it is given): a function's ``Layers`` (too many, unknown,
malformed, another region or account, two versions of one layer), version numbers, and a
function's layer folders on the runtime's ``sys.path`` in the given order."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lambda_stubs import GatedRuntime, zip_files

from stepkit.endpoint.lambda_service import LambdaService
from stepkit.endpoint.protocol import AwsError, RequestContext
from stepkit.endpoint.store import Store

ROLE = "arn:aws:iam::123456789012:role/r"
LAYER = "arn:aws:lambda:us-east-1:123456789012:layer"
CTX = RequestContext()


@pytest.fixture
def lam(tmp_path: Path) -> Iterator[LambdaService]:
    store = Store(tmp_path / "db.sqlite")
    service = LambdaService(store, tmp_path, GatedRuntime(), region="us-east-1",  # type: ignore[arg-type]
                            account="123456789012", code_url=lambda sha: f"http://x/{sha}.zip")
    yield service
    store.close()


def _publish(lam: LambdaService, name: str, **options: Any) -> dict:
    content = zip_files({f"python/{name}_mod.py": "X = 1\n"})
    return lam.layers.PublishLayerVersion({"LayerName": name, "Content": {"ZipFile": content}, **options}, CTX)


def _create(lam: LambdaService, layers: list[str], name: str = "f") -> dict:
    return lam.CreateFunction({"FunctionName": name, "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler",
                               "Code": {"ZipFile": zip_files({"app.py": "def handler(e, c): return 1\n"})},
                               "Layers": layers}, CTX)


def _fails(call: Any) -> tuple[str, str]:
    with pytest.raises(AwsError) as caught:
        call()
    return caught.value.code, caught.value.message


def test_a_functions_layers_are_checked_as_aws_checks_them(lam: LambdaService) -> None:
    for name in ("a", "b", "c", "d", "e", "f"):
        _publish(lam, name)
    six = [f"{LAYER}:{name}:1" for name in "abcdef"]
    assert _fails(lambda: _create(lam, six)) == (
        "InvalidParameterValueException", "Cannot reference more than 5 layers.")
    assert _fails(lambda: _create(lam, [f"{LAYER}:a:7"])) == (
        "InvalidParameterValueException", f"Layer version {LAYER}:a:7 does not exist.")
    _publish(lam, "a")
    assert _fails(lambda: _create(lam, [f"{LAYER}:a:1", f"{LAYER}:a:2"])) == (
        "InvalidParameterValueException", "Two different versions of the same layer are not allowed to be referenced "
        f"in the same function. {LAYER}:a:1 and {LAYER}:a:2 are versions of the same layer.")
    code, message = _fails(lambda: _create(lam, [f"{LAYER}:a"]))
    assert code == "ValidationException" and message.startswith(f"1 validation error detected: Value '[{LAYER}:a]'")
    assert _fails(lambda: _create(lam, ["arn:aws:lambda:eu-west-1:123456789012:layer:a:1"])) == (
        "InvalidParameterValueException",
        "Layers are not in the same region as the function. Layers are expected to be in region us-east-1.")
    foreign = "arn:aws:lambda:us-east-1:210987654321:layer:a:1"
    assert _fails(lambda: _create(lam, [foreign]))[0] == "AccessDeniedException"
    assert lam.functions == {}  # a refused request changes nothing


def test_the_runtime_gets_the_layers_folders_as_lambda_merges_them(lam: LambdaService, tmp_path: Path) -> None:
    site = "python/lib/python3.12/site-packages/deep.py"
    content = zip_files({"python/a.py": "", site: ""})
    lam.layers.PublishLayerVersion({"LayerName": "one", "Content": {"ZipFile": content}}, CTX)
    _publish(lam, "two")
    created = _create(lam, [f"{LAYER}:two:1", f"{LAYER}:one:1"])
    assert [layer["Arn"] for layer in created["Layers"]] == [f"{LAYER}:two:1", f"{LAYER}:one:1"]
    deadline = time.monotonic() + 60
    while "f" not in lam.runtime.function_names() and time.monotonic() < deadline:
        time.sleep(0.01)
    config = lam.runtime.get_function("f")
    code = (tmp_path / "lambda" / "code").resolve()
    parts = [path.relative_to(code).parts for path in config.layer_dirs]
    # Lambda merges layers into /opt in order (a later one's file wins), site-packages before python/
    assert ["/".join(p[1:]) for p in parts] == ["python/lib/python3.12/site-packages", "python", "python"]
    assert parts[0][0] == parts[1][0] != parts[2][0]  # "one" (listed last) first, then "two"


def test_versions_are_numbered_per_layer_and_never_reused(lam: LambdaService) -> None:
    assert [_publish(lam, "n")["Version"] for _ in range(3)] == [1, 2, 3]
    assert _publish(lam, "other")["Version"] == 1
    lam.layers.DeleteLayerVersion({"LayerName": "n", "VersionNumber": 3}, CTX)
    lam.layers.DeleteLayerVersion({"LayerName": "n", "VersionNumber": 3}, CTX)  # already gone: no error, as on AWS
    assert _publish(lam, "n")["Version"] == 4
    assert _fails(lambda: lam.layers.GetLayerVersion({"LayerName": "n", "VersionNumber": 3}, CTX)) == (
        "ResourceNotFoundException", "The resource you requested does not exist.")
    assert _fails(lambda: lam.layers.GetLayerVersion({"LayerName": "n", "VersionNumber": 0}, CTX)) == (
        "InvalidParameterValueException", "Layer Version Cannot be less than 1")
    assert _fails(lambda: lam.layers.GetLayerVersionByArn({"Arn": f"{LAYER}:n"}, CTX))[0] == "ValidationException"
    assert lam.layers.ListLayerVersions({"LayerName": "nothing"}, CTX) == {"LayerVersions": []}


def test_list_layers_pages_and_filters(lam: LambdaService) -> None:
    for name in ("l1", "l2", "l3"):
        _publish(lam, name, CompatibleRuntimes=["python3.12"])
    _publish(lam, "l2", CompatibleRuntimes=["python3.13"])
    first = lam.layers.ListLayers({"MaxItems": 2}, CTX)
    assert [entry["LayerName"] for entry in first["Layers"]] == ["l1", "l2"]
    rest = lam.layers.ListLayers({"MaxItems": 2, "Marker": first["NextMarker"]}, CTX)
    assert [entry["LayerName"] for entry in rest["Layers"]] == ["l3"] and "NextMarker" not in rest
    latest = {e["LayerName"]: e["LatestMatchingVersion"]["Version"] for e in lam.layers.ListLayers({}, CTX)["Layers"]}
    matching = {e["LayerName"]: e["LatestMatchingVersion"]["Version"]
                for e in lam.layers.ListLayers({"CompatibleRuntime": "python3.12"}, CTX)["Layers"]}
    assert (latest["l2"], matching["l2"]) == (2, 1)
    assert [e["LayerName"] for e in lam.layers.ListLayers({"CompatibleRuntime": "python3.13"}, CTX)["Layers"]] == ["l2"]


def _call(lam: LambdaService, operation: str, **params: Any) -> dict:
    return lam.app.handlers[operation](params, CTX)


def _settled(lam: LambdaService, name: str = "f") -> None:
    """Wait (generously) until the function's last update is done, as a client polls."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        config = lam.GetFunctionConfiguration({"FunctionName": name}, CTX)
        if config["State"] == "Active" and config.get("LastUpdateStatus", "Successful") == "Successful":
            return
        time.sleep(0.01)
    raise AssertionError(f"{name} did not settle: {config}")


def test_publish_version_publishes_again_when_only_the_layer_version_changed(lam: LambdaService) -> None:
    """Two layer versions with the same content: the function's configuration differs only
    in ``Layers``, which AWS publishes as a new version."""
    first, second = _publish(lam, "lib")["LayerVersionArn"], _publish(lam, "lib")["LayerVersionArn"]
    _create(lam, [first])
    _settled(lam)
    assert _call(lam, "PublishVersion", FunctionName="f")["Version"] == "1"
    assert _call(lam, "PublishVersion", FunctionName="f")["Version"] == "1"  # nothing changed: the same version
    lam.UpdateFunctionConfiguration({"FunctionName": "f", "Layers": [second]}, CTX)
    _settled(lam)
    published = _call(lam, "PublishVersion", FunctionName="f")
    assert (published["Version"], [layer["Arn"] for layer in published["Layers"]]) == ("2", [second])


def test_a_configuration_update_keeps_what_a_concurrent_request_set(lam: LambdaService,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """PutFunctionConcurrency arriving while UpdateFunctionConfiguration checks its candidate
    is neither lost nor undone: the update reads the record under the lock it writes under."""
    _create(lam, [])
    real_config = lam._config
    racing: list[threading.Thread] = []

    def config_with_a_concurrent_request(fn: dict[str, Any], name: str) -> Any:
        if not racing and fn.get("Timeout") == 9:
            racing.append(threading.Thread(target=_call, args=(lam, "PutFunctionConcurrency"),
                                           kwargs={"FunctionName": "f", "ReservedConcurrentExecutions": 3}))
            racing[0].start()
            racing[0].join(0.2)  # it waits for the lock, or (without it) lands now
        return real_config(fn, name)

    monkeypatch.setattr(lam, "_config", config_with_a_concurrent_request)
    lam.UpdateFunctionConfiguration({"FunctionName": "f", "Timeout": 9}, CTX)
    racing[0].join(60)
    assert not racing[0].is_alive()
    described = lam.GetFunctionConfiguration({"FunctionName": "f"}, CTX)
    assert described["Timeout"] == 9
    assert _call(lam, "GetFunctionConcurrency", FunctionName="f") == {"ReservedConcurrentExecutions": 3}
    stored = lam.store.get("lambda_function", "f")
    assert (stored["Timeout"], stored["_reserved_concurrency"]) == (9, 3)


def test_a_failed_store_write_changes_no_layer_record(lam: LambdaService, monkeypatch: pytest.MonkeyPatch) -> None:
    """Publishing, deleting and a permission change store first: a write that fails (a full
    disk) leaves memory as it was, so what the endpoint answers is what survives a restart."""
    arn = _publish(lam, "lib")["LayerVersionArn"]

    def disk_full(*args: Any) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(lam.store, "put", disk_full)
    monkeypatch.setattr(lam.store, "delete", disk_full)
    with pytest.raises(sqlite3.OperationalError):
        _publish(lam, "lib")
    with pytest.raises(sqlite3.OperationalError):
        lam.layers.DeleteLayerVersion({"LayerName": "lib", "VersionNumber": 1}, CTX)
    with pytest.raises(sqlite3.OperationalError):
        lam.layers.AddLayerVersionPermission({"LayerName": "lib", "VersionNumber": 1, "StatementId": "s",
                                              "Action": "lambda:GetLayerVersion", "Principal": "*"}, CTX)
    monkeypatch.undo()
    assert lam.layers.GetLayerVersionByArn({"Arn": arn}, CTX)["Version"] == 1
    assert _fails(lambda: lam.layers.GetLayerVersionPolicy({"LayerName": "lib", "VersionNumber": 1}, CTX))[0] \
        == "ResourceNotFoundException"
    assert _publish(lam, "lib")["Version"] == 2


def test_code_and_layers_together_stay_under_lambdas_unzipped_limit(lam: LambdaService) -> None:
    """Each zip under the unzipped limit, together over it: refused as Lambda refuses it
    (its message as AWS gives it, e.g. serverlesspub/ffmpeg-aws-lambda-layer#23), on create,
    on a configuration update and on new code; nothing is changed by a refusal."""
    lam.code_store.unzipped_limit = 400  # Lambda's is 262,144,000; the rule is the same
    big = lam.layers.PublishLayerVersion({"LayerName": "big", "Content": {"ZipFile": zip_files(
        {"python/big.py": "#" * 380})}}, CTX)["LayerVersionArn"]
    small = _publish(lam, "small")["LayerVersionArn"]  # python/small_mod.py: 6 bytes
    code, message = _fails(lambda: lam.CreateFunction({
        "FunctionName": "f", "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler",
        "Code": {"ZipFile": zip_files({"app.py": "def handler(e, c): return 1\n" + "#" * 80})},
        "Layers": [big]}, CTX))
    assert code == "InvalidParameterValueException"
    assert message == ("Function code combined with layers exceeds the maximum allowed size of 400 bytes. "
                       "The actual size is 488 bytes.")
    assert "f" not in lam.functions
    created = _create(lam, [small])  # app.py: 28 bytes
    _settled(lam)
    code, message = _fails(lambda: lam.UpdateFunctionConfiguration({"FunctionName": "f",
                                                                      "Layers": [small, big]}, CTX))
    assert (code, message.split(". ")[-1]) == ("InvalidParameterValueException", "The actual size is 414 bytes.")
    assert [layer["Arn"] for layer in lam.GetFunctionConfiguration({"FunctionName": "f"}, CTX)["Layers"]] == [small]
    code, message = _fails(lambda: lam.UpdateFunctionCode({"FunctionName": "f", "ZipFile": zip_files(
        {"app.py": "def handler(e, c): return 1\n" + "#" * 370})}, CTX))  # 398 bytes alone: under the limit
    assert (code, message.split(". ")[-1]) == ("InvalidParameterValueException", "The actual size is 404 bytes.")
    assert lam.GetFunctionConfiguration({"FunctionName": "f"}, CTX)["CodeSha256"] == created["CodeSha256"]
