"""Lambda zips: byte-for-byte reproducible, skipped when unchanged, within Lambda's limits."""

import os
import zipfile
from pathlib import Path

import pytest

from stepkit.runtime import FunctionConfig
from stepkit.runtime import bundle as bundle_module
from stepkit.runtime.bundle import BundleError, build_bundle, pip_platform_args


def _function(tmp_path: Path, requirements: str | None = None) -> FunctionConfig:
    code = tmp_path / "src" / "train"
    (code / "lib").mkdir(parents=True)
    (code / "app.py").write_text("def handler(event, context):\n    return event\n")
    (code / "lib" / "util.py").write_text("X = 1\n")
    (code / "__pycache__").mkdir()
    (code / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0" * 16)
    (code / "run.sh").write_text("#!/bin/sh\n")
    (code / "run.sh").chmod(0o755)
    if requirements is not None:
        (code / "requirements.txt").write_text(requirements)
    return FunctionConfig(name="train", code_dir=code)


def _fake_installer(config: FunctionConfig, requirements: Path, target: Path) -> None:
    (target / "tinylib").mkdir()
    (target / "tinylib" / "__init__.py").write_text("VERSION = '1.0'\n")
    (target / "tinylib-1.0.dist-info").mkdir()
    (target / "tinylib-1.0.dist-info" / "METADATA").write_text("Name: tinylib\n")
    (target / "bin").mkdir()
    (target / "bin" / "tiny").write_text("#!/usr/bin/python\n")


def test_zip_holds_code_and_dependencies_at_its_root(tmp_path: Path) -> None:
    config = _function(tmp_path, "tinylib==1.0\n")
    result = build_bundle(config, tmp_path / "out", installer=_fake_installer)
    with zipfile.ZipFile(result.path) as archive:
        names = archive.namelist()
        info = {i.filename: i for i in archive.infolist()}
    assert names == sorted(names)
    assert names == [
        "app.py", "lib/util.py", "requirements.txt", "run.sh",
        "tinylib-1.0.dist-info/METADATA", "tinylib/__init__.py",
    ]
    assert {i.date_time for i in info.values()} == {(1980, 1, 1, 0, 0, 0)}
    assert info["app.py"].external_attr >> 16 & 0o777 == 0o644
    assert info["run.sh"].external_attr >> 16 & 0o777 == 0o755
    assert not result.skipped and result.files == 6
    assert result.zipped_bytes == result.path.stat().st_size


def test_same_sources_give_the_same_bytes_and_the_second_build_is_skipped(tmp_path: Path) -> None:
    config = _function(tmp_path)
    first = build_bundle(config, tmp_path / "a").path.read_bytes()
    os.utime(config.code_dir / "app.py", (0, 0))  # a touched file changes nothing
    again = build_bundle(config, tmp_path / "a")
    assert again.skipped
    assert build_bundle(config, tmp_path / "b").path.read_bytes() == first
    assert not build_bundle(config, tmp_path / "a", force=True).skipped
    assert (tmp_path / "a" / "train.zip").read_bytes() == first


def test_a_changed_file_is_rebuilt(tmp_path: Path) -> None:
    config = _function(tmp_path)
    first = build_bundle(config, tmp_path / "out")
    (config.code_dir / "app.py").write_text("def handler(event, context):\n    return 2\n")
    second = build_bundle(config, tmp_path / "out")
    assert not second.skipped and second.digest != first.digest


def test_architecture_is_part_of_the_digest(tmp_path: Path) -> None:
    x86 = _function(tmp_path)
    arm = x86.model_copy(update={"architecture": "arm64"})
    assert bundle_module.bundle_digest(x86) != bundle_module.bundle_digest(arm)


def test_over_the_direct_upload_limit_the_zip_is_built_for_an_upload_through_s3(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _function(tmp_path)
    assert build_bundle(config, tmp_path / "out").direct_upload
    monkeypatch.setattr(bundle_module, "MAX_ZIPPED_BYTES", 100)
    big = build_bundle(config, tmp_path / "out", force=True)
    assert big.path.is_file() and big.zipped_bytes > 100
    assert not big.direct_upload  # the deployer sends it through S3 (up to 250 MB unzipped)


def test_over_lambdas_unzipped_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundle_module, "MAX_UNZIPPED_BYTES", 10)
    with pytest.raises(BundleError, match="unzipped is over Lambda's limit"):
        build_bundle(_function(tmp_path), tmp_path / "out")


def test_wheels_are_asked_for_lambdas_platform(tmp_path: Path) -> None:
    config = _function(tmp_path)
    assert pip_platform_args(config) == [
        "--implementation", "cp", "--python-version", "3.11", "--only-binary=:all:",
        "--platform", "manylinux2014_x86_64",
    ]
    arm = config.model_copy(update={"architecture": "arm64", "runtime": "python3.12"})
    assert pip_platform_args(arm)[-6:] == [
        "--platform", "manylinux2014_aarch64", "--platform", "manylinux_2_28_aarch64",
        "--platform", "manylinux_2_34_aarch64",
    ]
