"""Function code through the Lambda API, as boto3 sends it: AWS's size limits, a zip bomb,
entries leaving the folder, and old code removed on update and delete (kept while a
published version uses it)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import ROLE, create_function, eventually, unique, wait_active, zip_code

from stepkit.endpoint import LocalEndpoint

UNZIP_ERROR = "Could not unzip uploaded file. Please check your file, then try to upload again."


def _code_entries(endpoint: LocalEndpoint) -> tuple[list[str], list[str]]:
    root = Path(endpoint.state_dir) / "lambda"  # type: ignore[arg-type]
    return tuple(sorted(p.name for p in (root / kind).iterdir()) if (root / kind).is_dir() else []
                 for kind in ("code", "zips"))  # type: ignore[return-value]


def _create(lam: Any, name: str, code: bytes) -> Any:
    return lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                               Code={"ZipFile": code})


def _error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = caught.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def _assert_absent(lam: Any, name: str) -> None:
    with pytest.raises(ClientError) as caught:
        lam.get_function(FunctionName=name)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_zip_over_50_mb_in_the_request_is_413(lam: Any, endpoint: LocalEndpoint) -> None:
    before = _code_entries(endpoint)
    name = unique("big")
    with pytest.raises(ClientError) as caught:
        _create(lam, name, bytes(50 * 1024 * 1024 + 1))
    assert _error(caught) == ("RequestEntityTooLargeException",
                              "Request must be smaller than 69905067 bytes for the CreateFunction operation", 413)
    _assert_absent(lam, name)
    existing = create_function(lam, "def handler(e, c):\n    return 1\n")
    with pytest.raises(ClientError) as caught:
        lam.update_function_code(FunctionName=existing, ZipFile=bytes(50 * 1024 * 1024 + 1))
    assert _error(caught)[0::2] == ("RequestEntityTooLargeException", 413)
    assert "UpdateFunctionCode operation" in _error(caught)[1]
    lam.delete_function(FunctionName=existing)
    assert eventually(lambda: _code_entries(endpoint) == before)


def test_a_zip_bomb_is_refused_at_250_mb_and_leaves_nothing(lam: Any, endpoint: LocalEndpoint) -> None:
    before = _code_entries(endpoint)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("app.py", "def handler(e, c):\n    return 1\n")
        with archive.open("weights.bin", "w") as out:  # 260 MB of zeros: about 250 KB zipped
            chunk = bytes(1 << 20)
            for _ in range(260):
                out.write(chunk)
    bomb = buffer.getvalue()
    assert len(bomb) < 1 << 20
    name = unique("bomb")
    with pytest.raises(ClientError) as caught:
        _create(lam, name, bomb)
    assert _error(caught) == ("InvalidParameterValueException",
                              "Unzipped size must be smaller than 262144000 bytes", 400)
    _assert_absent(lam, name)
    assert _code_entries(endpoint) == before


@pytest.mark.parametrize("entry", ["../../../escaped.py", "/tmp/stepkit-escaped.py"])
def test_entries_leaving_the_code_folder_are_refused(lam: Any, endpoint: LocalEndpoint, entry: str) -> None:
    before = _code_entries(endpoint)
    name = unique("slip")
    with pytest.raises(ClientError) as caught:
        _create(lam, name, zip_code({"app.py": "def handler(e, c):\n    return 1\n", entry: "print('out')"}))
    assert _error(caught) == ("InvalidParameterValueException", UNZIP_ERROR, 400)
    _assert_absent(lam, name)
    assert not list(Path(endpoint.state_dir).rglob("escaped.py"))  # type: ignore[arg-type]
    assert not list(Path(endpoint.state_dir).parent.glob("escaped.py"))  # type: ignore[arg-type]
    assert _code_entries(endpoint) == before


def _code(version: int) -> bytes:
    return zip_code({"app.py": f"def handler(e, c):\n    return {version}\n"})


def _invoke(lam: Any, name: str, qualifier: str | None = None) -> Any:
    extra = {"Qualifier": qualifier} if qualifier else {}
    return json.loads(lam.invoke(FunctionName=name, Payload=b"{}", **extra)["Payload"].read())


def test_old_code_is_removed_on_update_and_delete_but_kept_for_a_published_version(
    lam: Any, endpoint: LocalEndpoint
) -> None:
    before = _code_entries(endpoint)
    name = unique("versions")
    _create(lam, name, _code(0))
    wait_active(lam, name)

    def added() -> tuple[list[str], list[str]]:
        code, zips = _code_entries(endpoint)
        return [c for c in code if c not in before[0]], [z for z in zips if z not in before[1]]

    for version in range(1, 6):
        lam.update_function_code(FunctionName=name, ZipFile=_code(version))
        wait_active(lam, name)
        assert _invoke(lam, name) == version
    assert eventually(lambda: [len(kind) for kind in added()] == [1, 1])  # only the current code

    published = lam.publish_version(FunctionName=name)["Version"]
    lam.update_function_code(FunctionName=name, ZipFile=_code(6))
    wait_active(lam, name)
    assert eventually(lambda: [len(kind) for kind in added()] == [2, 2])  # $LATEST's and version 1's
    assert (_invoke(lam, name), _invoke(lam, name, published)) == (6, 5)

    lam.delete_function(FunctionName=name, Qualifier=published)
    assert eventually(lambda: [len(kind) for kind in added()] == [1, 1])
    assert _invoke(lam, name) == 6
    lam.delete_function(FunctionName=name)
    assert eventually(lambda: _code_entries(endpoint) == before)


def test_a_failed_create_leaves_no_code(lam: Any, endpoint: LocalEndpoint) -> None:
    before = _code_entries(endpoint)
    with pytest.raises(ClientError) as caught:
        lam.create_function(FunctionName=unique("badmem"), Runtime="python3.11", Role=ROLE, Handler="app.handler",
                            MemorySize=20000, Code={"ZipFile": _code(99)})
    assert caught.value.response["Error"]["Code"] in ("InvalidParameterValueException", "ValidationException")
    assert _code_entries(endpoint) == before
    existing = create_function(lam, "def handler(e, c):\n    return 0\n")
    lam.update_function_code(FunctionName=existing, ZipFile=_code(98), DryRun=True)
    assert _invoke(lam, existing) == 0
    lam.delete_function(FunctionName=existing)
    assert eventually(lambda: _code_entries(endpoint) == before)
