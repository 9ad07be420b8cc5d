"""The Lambda service's code store: AWS's size limits, zip bombs, entries leaving the folder,
and code removed once nothing uses it."""

from __future__ import annotations

import io
import os
import shutil
import stat
import threading
import zipfile
from pathlib import Path

import pytest

from stepkit.endpoint import lambda_code
from stepkit.endpoint.lambda_code import ZIPPED_LIMIT, CodeStore, check_direct_upload, unzip
from stepkit.endpoint.protocol import AwsError

UNZIP_ERROR = "Could not unzip uploaded file. Please check your file, then try to upload again."


def _zip(files: dict[str, bytes | str], *, modes: dict[str, int] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (modes or {}).get(name, 0o644) << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def _bomb(size: int, files: int = 1) -> bytes:
    """``files`` entries of ``size`` zero bytes each, written in chunks (a few KB zipped)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(files):
            with archive.open(f"zeros{i}.bin", "w") as out:
                chunk = bytes(1 << 20)
                for _ in range(size >> 20):
                    out.write(chunk)
    return buffer.getvalue()


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def test_a_zip_sent_in_the_request_is_at_most_50_mb() -> None:
    check_direct_upload(bytes(ZIPPED_LIMIT), "CreateFunction")
    with pytest.raises(AwsError) as caught:
        check_direct_upload(bytes(ZIPPED_LIMIT + 1), "UpdateFunctionCode")
    err = caught.value
    assert (err.code, err.status) == ("RequestEntityTooLargeException", 413)
    assert err.message == "Request must be smaller than 69905067 bytes for the UpdateFunctionCode operation"


def test_a_zip_bomb_stops_at_the_limit_without_writing_past_it(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    limit = 3 << 20
    bomb = _bomb(8 << 20, files=2)
    assert len(bomb) < 64 * 1024  # 16 MB of zeros in a few KB
    seen: list[int] = []
    real_rmtree = shutil.rmtree

    def measuring_rmtree(path: Path, *args: object, **kwargs: object) -> None:
        seen.append(_folder_bytes(Path(path)))  # what the refused upload had written
        real_rmtree(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lambda_code.shutil, "rmtree", measuring_rmtree)
    store = CodeStore(tmp_path / "lambda", unzipped_limit=limit)
    with pytest.raises(AwsError) as caught, store.hold(bomb):
        pass
    assert caught.value.code == "InvalidParameterValueException"
    assert caught.value.message == f"Unzipped size must be smaller than {limit} bytes"
    assert seen and max(seen) < limit
    assert not list((tmp_path / "lambda" / "code").iterdir())  # the partial folder is gone
    assert not (tmp_path / "lambda" / "zips").exists()  # and the zip was never kept


def test_the_real_limit_is_awss_and_code_just_below_a_limit_is_accepted(tmp_path: Path) -> None:
    assert lambda_code.UNZIPPED_LIMIT == 262_144_000
    assert unzip(_zip({"a.bin": bytes(999)}), tmp_path, limit=1000) == 999
    with pytest.raises(AwsError, match="smaller than 1000 bytes"):
        unzip(_zip({"a.bin": bytes(600), "b.bin": bytes(400)}), tmp_path / "second", limit=1000)


def test_sizes_declared_by_the_zip_headers_are_not_trusted(tmp_path: Path) -> None:
    data = bytearray(_zip({"big.bin": bytes(200_000)}))
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # uncompressed size fields
        at = data.find(signature)
        data[at + offset: at + offset + 4] = (10).to_bytes(4, "little")
    with pytest.raises(AwsError) as caught:
        unzip(bytes(data), tmp_path, limit=1000)
    assert caught.value.message == UNZIP_ERROR  # the data does not match what the headers say
    assert _folder_bytes(tmp_path) <= 10


@pytest.mark.parametrize("name", ["../evil.py", "a/../../evil.py", "/tmp/evil.py", "..\\evil.py", "a/../.."])
def test_entries_that_leave_the_folder_are_refused(tmp_path: Path, name: str) -> None:
    target = tmp_path / "store" / "code"
    target.mkdir(parents=True)
    with pytest.raises(AwsError) as caught:
        unzip(_zip({"app.py": "ok", name: "print('pwned')"}), target)
    assert (caught.value.code, caught.value.message) == ("InvalidParameterValueException", UNZIP_ERROR)
    assert not list(tmp_path.rglob("evil.py"))
    assert not Path("/tmp/evil.py").exists() or Path("/tmp/evil.py").read_text() != "print('pwned')"


def test_a_corrupt_zip_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    store = CodeStore(tmp_path)
    with pytest.raises(AwsError, match="Could not unzip"), store.hold(b"PK\x03\x04 not really a zip"):
        pass
    assert not list((tmp_path / "code").iterdir())


def test_files_keep_their_execute_bits_and_subfolders(tmp_path: Path) -> None:
    unzip(_zip({"bin/tool": "#!/bin/sh\n", "pkg/mod.py": "x = 1\n"}, modes={"bin/tool": 0o755}), tmp_path)
    assert os.stat(tmp_path / "bin" / "tool").st_mode & stat.S_IXUSR
    assert not os.stat(tmp_path / "pkg" / "mod.py").st_mode & stat.S_IXUSR
    assert (tmp_path / "pkg" / "mod.py").read_text() == "x = 1\n"


def test_same_code_is_stored_once_and_unused_code_is_collected(tmp_path: Path) -> None:
    store = CodeStore(tmp_path)
    one, two = _zip({"app.py": "1"}), _zip({"app.py": "2"})
    with store.hold(one) as first:
        pass
    with store.hold(one) as again, store.hold(two) as second:
        assert again.folder == first.folder and (first.folder / "app.py").read_text() == "1"
    assert first.size == len(one) and store.zip_path(first.folder.name).read_bytes() == one
    removed = store.collect(lambda: {first.folder.name})
    assert removed == [second.folder.name]
    assert first.folder.is_dir() and not second.folder.exists()
    assert not store.zip_path(second.folder.name).exists()
    assert store.collect(set) == [first.folder.name]
    assert not list((tmp_path / "code").iterdir()) and not list((tmp_path / "zips").iterdir())


def test_code_held_by_a_request_is_never_collected_and_leftovers_are(tmp_path: Path) -> None:
    store = CodeStore(tmp_path)
    leftover = tmp_path / "code" / ".abc.123"  # an upload interrupted by a kill
    leftover.mkdir(parents=True)
    (leftover / "half.py").write_text("")
    with store.hold(_zip({"app.py": "held"})) as held:
        assert store.collect(set) == []  # held by the request that stored it
        assert held.folder.is_dir() and not leftover.exists()
    assert store.collect(set) == [held.folder.name]


def test_concurrent_uploads_of_the_same_code_and_collections_agree(tmp_path: Path) -> None:
    store = CodeStore(tmp_path)
    data = _zip({"app.py": "shared"})
    errors: list[BaseException] = []
    present: list[bool] = []

    def upload() -> None:
        try:
            for _ in range(20):
                with store.hold(data) as stored:
                    present.append((stored.folder / "app.py").read_text() == "shared")
                store.collect(set)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(present) == 80 and all(present)
