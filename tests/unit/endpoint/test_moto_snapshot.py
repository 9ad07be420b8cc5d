"""Snapshots of moto's models: S3 bodies from BLOB_MIN on become content-addressed files written
once; small and disposed bodies stay in the pickle; a body file gone costs that body only."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.core.base_backend import BackendDict

from stepkit.endpoint import moto_snapshot

ACCOUNT = "123456789012"


@pytest.fixture
def s3() -> Iterator[object]:
    from moto.s3.models import s3_backends

    BackendDict.reset()
    backend = s3_backends[ACCOUNT]["aws"]
    backend.create_bucket("snap", "us-east-1")
    yield backend
    BackendDict.reset()


def _body(key: str) -> bytes:
    from moto.s3.models import s3_backends

    return bytes(s3_backends[ACCOUNT]["aws"].get_object("snap", key).value)


def test_large_bodies_are_files_written_once(tmp_path: Path, s3: object) -> None:
    large, small = os.urandom(moto_snapshot.BLOB_MIN + 1), b"small"
    s3.put_object("snap", "large", large)  # type: ignore[attr-defined]
    s3.put_object("snap", "small", small)  # type: ignore[attr-defined]
    s3.put_object("snap", "copy", large)  # type: ignore[attr-defined]
    blobs = tmp_path / "blobs"
    refs = moto_snapshot.write_snapshot(tmp_path / "one", 7, blobs)
    assert len(refs) == 1 and [p.name for p in blobs.iterdir()] == refs  # the same body: one file
    written = (blobs / refs[0]).stat().st_mtime_ns
    moto_snapshot.write_snapshot(tmp_path / "two", 8, blobs)
    assert (blobs / refs[0]).stat().st_mtime_ns == written  # not written again

    BackendDict.reset()
    covered, restored, warnings = moto_snapshot.read_snapshot(tmp_path / "two", blobs)
    assert (covered, warnings) == (8, []) and restored >= 1
    assert (_body("large"), _body("small"), _body("copy")) == (large, small, large)


def test_a_missing_body_file_costs_that_body_only(tmp_path: Path, s3: object) -> None:
    s3.put_object("snap", "large", os.urandom(moto_snapshot.BLOB_MIN))  # type: ignore[attr-defined]
    s3.put_object("snap", "small", b"kept")  # type: ignore[attr-defined]
    blobs = tmp_path / "blobs"
    refs = moto_snapshot.write_snapshot(tmp_path / "snapshot", 1, blobs)
    (blobs / refs[0]).unlink()
    BackendDict.reset()
    _, _, warnings = moto_snapshot.read_snapshot(tmp_path / "snapshot", blobs)
    assert len(warnings) == 1 and "snap/large" in warnings[0]
    assert _body("small") == b"kept"


def test_unreferenced_blobs_are_collected(tmp_path: Path) -> None:
    (tmp_path / "kept").write_bytes(b"1")
    (tmp_path / "old").write_bytes(b"2")
    (tmp_path / "cut-short.tmp").write_bytes(b"3")
    assert moto_snapshot.collect_blobs(tmp_path, ["kept"]) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["kept"]
