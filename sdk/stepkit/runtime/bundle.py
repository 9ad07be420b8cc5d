"""The deployment zip AWS Lambda accepts: the function's code plus its dependencies, as
wheels for Lambda's platform (Amazon Linux, x86_64 or arm64), vendored at the zip's root.

The zip is reproducible byte for byte: entries sorted, fixed timestamps and permissions,
no bytecode. Its digest (of the sources, the requirements and the target platform) is
kept beside it, so an unchanged function is not built again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError

from stepkit.runtime.config import FunctionConfig
from stepkit.runtime.deps import requirement_lines

#: Lambda's limits for a deployment package uploaded directly.
MAX_ZIPPED_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
#: Bump when the zip's layout changes, so every cached build is redone.
BUILDER_VERSION = "1"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".venv", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
_SKIPPED_SUFFIXES = (".pyc", ".pyo")

#: Wheel platforms per runtime: python3.11 runs on Amazon Linux 2 (glibc 2.26), so
#: manylinux2014 (glibc 2.17); later runtimes run on Amazon Linux 2023 (glibc 2.34).
_GLIBC_TAGS = {
    "python3.11": ("manylinux2014",),
    "python3.12": ("manylinux2014", "manylinux_2_28", "manylinux_2_34"),
    "python3.13": ("manylinux2014", "manylinux_2_28", "manylinux_2_34"),
}
_MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}

Installer = Callable[[FunctionConfig, Path, Path], None]
"""``(config, requirements file, target folder)``: puts the dependencies into the folder."""


class BundleError(Exception):
    """The bundle cannot be built (dependencies not installable, over Lambda's limits)."""


class _Manifest(BaseModel):
    digest: str
    zipped_bytes: int
    unzipped_bytes: int
    files: int


@dataclass(frozen=True)
class BuildResult:
    name: str
    path: Path
    digest: str
    zipped_bytes: int
    unzipped_bytes: int
    files: int
    skipped: bool
    """Nothing changed since the last build, so the existing zip was kept."""


def pip_platform_args(config: FunctionConfig) -> list[str]:
    machine = _MACHINE[config.architecture]
    args = ["--implementation", "cp", "--python-version", config.runtime.removeprefix("python"),
            "--only-binary=:all:"]
    for tag in _GLIBC_TAGS.get(config.runtime, _GLIBC_TAGS["python3.11"]):
        args += ["--platform", f"{tag}_{machine}"]
    return args


def pip_install_for_lambda(config: FunctionConfig, requirements: Path, target: Path) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
               "--no-compile", "--target", str(target), *pip_platform_args(config), "-r", str(requirements)]
    done = subprocess.run(command, cwd=requirements.parent, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-6:]
        raise BundleError(
            f"{config.name}: pip could not get Lambda wheels ({' '.join(pip_platform_args(config))}) "
            f"for {requirements}:\n  " + "\n  ".join(detail)
        )


def source_files(root: Path) -> Iterator[tuple[str, Path]]:
    """``(name in the zip, path)`` of the function's files, without caches or bytecode."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS]
        for file in files:
            if not file.endswith(_SKIPPED_SUFFIXES):
                path = Path(folder) / file
                yield path.relative_to(root).as_posix(), path


def bundle_digest(config: FunctionConfig) -> str:
    digest = hashlib.sha256()
    for part in (BUILDER_VERSION, config.runtime, config.architecture):
        digest.update(part.encode() + b"\0")
    for name, path in sorted(source_files(config.code_dir)):
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def build_bundle(
    config: FunctionConfig,
    out_dir: Path,
    *,
    force: bool = False,
    installer: Installer = pip_install_for_lambda,
) -> BuildResult:
    """Build ``out_dir/<name>.zip`` unless an identical one is already there."""
    zip_path = out_dir / f"{config.name}.zip"
    manifest_path = out_dir / f"{config.name}.zip.json"
    digest = bundle_digest(config)
    previous = _read_manifest(manifest_path)
    if not force and previous is not None and previous.digest == digest and zip_path.is_file():
        return BuildResult(config.name, zip_path, digest, previous.zipped_bytes, previous.unzipped_bytes,
                           previous.files, skipped=True)

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"stepkit-build-{config.name}-") as scratch:
        entries = dict(_dependency_files(config, Path(scratch) / "deps", installer))
        entries.update(source_files(config.code_dir))  # the function's own files win
        unzipped = sum(path.stat().st_size for path in entries.values())
        if unzipped > MAX_UNZIPPED_BYTES:
            raise BundleError(
                f"{config.name}: {_mb(unzipped)} unzipped is over Lambda's limit of "
                f"{_mb(MAX_UNZIPPED_BYTES)} for code and dependencies; trim requirements.txt"
            )
        partial = zip_path.with_suffix(".zip.partial")
        _write_zip(partial, entries)
    zipped = partial.stat().st_size
    if zipped > MAX_ZIPPED_BYTES:
        partial.unlink()
        raise BundleError(
            f"{config.name}: the zip is {_mb(zipped)}, over Lambda's limit of {_mb(MAX_ZIPPED_BYTES)} "
            "for a direct upload"
        )
    partial.replace(zip_path)
    manifest = _Manifest(digest=digest, zipped_bytes=zipped, unzipped_bytes=unzipped, files=len(entries))
    manifest_path.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return BuildResult(config.name, zip_path, digest, zipped, unzipped, len(entries), skipped=False)


def _dependency_files(
    config: FunctionConfig, target: Path, installer: Installer
) -> Iterator[tuple[str, Path]]:
    requirements = config.requirements_file
    if requirements is None or not requirement_lines(requirements.read_text(encoding="utf-8")):
        return
    target.mkdir(parents=True)
    installer(config, requirements, target)
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts: host paths, useless in Lambda
    yield from source_files(target)


def _write_zip(path: Path, entries: dict[str, Path]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(entries):
            source = entries[name]
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.create_system = 3  # Unix, so the permission bits below are honoured
            executable = os.access(source, os.X_OK)
            info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with source.open("rb") as src, archive.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def _read_manifest(path: Path) -> _Manifest | None:
    try:
        return _Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError):
        return None  # no trustworthy record: build again


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"
