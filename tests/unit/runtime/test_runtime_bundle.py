"""Function zips: byte-for-byte reproducible, skipped when unchanged, within Lambda's limits;
for Lambda's platform (every requirement) or for the host (only what it lacks)."""

import json
import os
import zipfile
from pathlib import Path

import pytest

from stepkit.runtime import FunctionConfig
from stepkit.runtime import bundle as bundle_module
from stepkit.runtime.bundle import BundleError, build_bundle, pip_platform_args
from stepkit.runtime.deps import DependencyCache, to_install


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


# --- bundles for the host: stepkit's runtime on this machine ------------------------------------


def _tinylib_installer(calls: list[str]):
    """Installs a fake ``tinylib`` 1.0 (with proper metadata); records what it was asked for."""

    def install(config: FunctionConfig, requirements: Path, target: Path) -> None:
        calls.append(requirements.read_text())
        (target / "tinylib").mkdir()
        (target / "tinylib" / "__init__.py").write_text("VERSION = '1.0'\n")
        info = target / "tinylib-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinylib\nVersion: 1.0\n")

    return install


def test_a_host_bundle_vendors_only_what_the_host_lacks(tmp_path: Path) -> None:
    # pydantic is in this environment (stepkit needs it); tinylib is not.
    config = _function(tmp_path, "pydantic>=2\ntinylib==1.0\n")
    calls: list[str] = []
    result = build_bundle(config, tmp_path / "host", platform="host", installer=_tinylib_installer(calls))
    assert calls == ["tinylib==1.0\n"]
    assert result.platform == "host" and result.vendored == ("tinylib==1.0",)
    with zipfile.ZipFile(result.path) as archive:
        names = archive.namelist()
        marker = json.loads(archive.read(bundle_module.MARKER))
    assert names == [bundle_module.MARKER, "app.py", "lib/util.py", "requirements.txt", "run.sh",
                     "tinylib-1.0.dist-info/METADATA", "tinylib/__init__.py"]
    assert marker == {"platform": "host", "python": bundle_module.host_tag(), "vendored": ["tinylib==1.0"]}
    again = build_bundle(config, tmp_path / "host", platform="host", installer=_tinylib_installer(calls))
    assert again.skipped and again.vendored == ("tinylib==1.0",) and len(calls) == 1


def test_a_host_bundle_of_requirements_the_host_meets_is_the_code_alone(tmp_path: Path) -> None:
    config = _function(tmp_path, "pydantic>=2\nclick>=8\n")

    def must_not_install(*_: object) -> None:
        raise AssertionError("nothing to install")

    result = build_bundle(config, tmp_path / "host", platform="host", installer=must_not_install)
    assert result.vendored == () and result.files == 5  # 4 files of code + the marker


def test_the_runtime_does_not_install_again_what_a_host_bundle_vendors(tmp_path: Path) -> None:
    config = _function(tmp_path, "pydantic>=2\ntinylib==1.0\n")
    result = build_bundle(config, tmp_path / "host", platform="host", installer=_tinylib_installer([]))
    unpacked = tmp_path / "unpacked"  # as the endpoint unpacks a function's zip
    with zipfile.ZipFile(result.path) as archive:
        archive.extractall(unpacked)
    requirements = unpacked / "requirements.txt"
    assert to_install(requirements.read_text()) == ["tinylib==1.0"]
    assert to_install(requirements.read_text(), provided=[unpacked]) == []
    assert DependencyCache(tmp_path / "cache").site_dir(requirements) is None  # nothing for pip to do
    # A vendored version outside the specifier does not count.
    assert to_install("tinylib>=2\n", provided=[unpacked]) == ["tinylib>=2"]


def test_the_digest_depends_on_the_platform_and_on_what_the_host_lacks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _function(tmp_path, "pydantic>=2\n")
    lambda_digest = bundle_module.bundle_digest(config)
    host_digest = bundle_module.bundle_digest(config, "host")
    assert lambda_digest == bundle_module.bundle_digest(config, "lambda") != host_digest
    # The host stops meeting a requirement: the host bundle must now carry it.
    monkeypatch.setattr(bundle_module, "to_install", lambda text: ["pydantic>=2"])
    assert bundle_module.bundle_digest(config, "host") != host_digest
    assert bundle_module.bundle_digest(config) == lambda_digest
    with pytest.raises(ValueError, match="unknown code platform 'docker'"):
        bundle_module.bundle_digest(config, "docker")


@pytest.mark.parametrize("name", ["preprocess", "train", "select_model", "register_model", "predict"])
def test_the_ml_functions_host_bundles_are_their_code_alone(name: str, tmp_path: Path) -> None:
    """This environment (``pip install -e '.[ml]'``) meets every requirement of the
    pipeline's functions, so what the local endpoint gets is a few kilobytes of code."""
    pytest.importorskip("sklearn")
    code = Path(__file__).resolve().parents[3] / "functions" / name
    config = FunctionConfig(name=name, code_dir=code)
    result = build_bundle(config, tmp_path / "host", platform="host")
    assert result.vendored == (), (
        f"this environment does not meet {code / 'requirements.txt'}: {result.vendored}; install the versions "
        "it pins (the local runtime would otherwise install them for the function)")
    assert result.zipped_bytes < 100 * 1024
