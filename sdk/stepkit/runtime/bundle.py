"""The deployment zip of a function, for the platform its code will run on.

- ``lambda`` (AWS, and anything that runs Lambda's own images): the function's code plus
  every dependency of its ``requirements.txt``, as wheels for Lambda's platform (Amazon
  Linux, the function's declared ``runtime`` and architecture), vendored at the zip's root.
- ``host`` (the local endpoint, LocalStack with stepkit's executor: stepkit's runtime on
  this machine's interpreter): the code and its ``requirements.txt``, plus only the
  requirements the host environment does not already satisfy, installed for this
  interpreter. The runtime provides the host's packages to every function, as a Lambda
  layer would (see :mod:`stepkit.runtime.deps`), so an ML function whose numpy and
  scikit-learn are already installed here is a few kilobytes instead of 66 MB of wheels
  for another Python.

The zip is reproducible byte for byte: entries sorted, fixed timestamps and permissions,
no bytecode. Its digest (of the sources, the requirements and the platform, and for
``host`` of which requirements the host leaves to vendor) is kept beside it, so an
unchanged function is not built again.

Lambda takes a zip of up to 50 MB in the request itself and one of up to 250 MB unzipped
through S3; :func:`build_bundle` refuses only what no upload can take (over 250 MB
unzipped) and the deployer chooses the way up (:attr:`BuildResult.direct_upload`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform as host_platform
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
from stepkit.runtime.deps import requirement_lines, to_install

#: Lambda's limits: a zip sent in the request itself, and code and dependencies unzipped
#: (a zip over the first goes up through S3).
MAX_ZIPPED_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
#: Bump when the zip's layout changes, so every cached build is redone.
BUILDER_VERSION = "1"

#: Where a bundle's code runs: Lambda's platform, or stepkit's runtime on this machine.
LAMBDA, HOST = "lambda", "host"
PLATFORMS = (LAMBDA, HOST)
#: What a ``host`` bundle says about itself, at its root (a runner can check it was built for it).
MARKER = ".stepkit-bundle.json"
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
    vendored: list[str] = []


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
    platform: str = LAMBDA
    vendored: tuple[str, ...] = ()
    """The requirement lines whose packages are in the zip (``host``: those the host lacks)."""

    @property
    def direct_upload(self) -> bool:
        """Small enough to send in the CreateFunction/UpdateFunctionCode request itself."""
        return fits_direct_upload(self.zipped_bytes)


def fits_direct_upload(zipped_bytes: int) -> bool:
    """Whether a zip this size may be sent in the request itself (CreateFunction, PublishLayerVersion…)."""
    return zipped_bytes <= MAX_ZIPPED_BYTES


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


def pip_install_for_host(config: FunctionConfig, requirements: Path, target: Path) -> None:
    """``requirements`` (already reduced to what the host lacks) as wheels for this interpreter."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
               "--no-compile", "--target", str(target), "-r", str(requirements)]
    done = subprocess.run(command, cwd=config.code_dir, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()[-6:]
        raise BundleError(f"{config.name}: pip could not install what this environment lacks of "
                          f"{config.requirements_file}:\n  " + "\n  ".join(detail))


def host_tag() -> str:
    """This interpreter and machine, as a host bundle is built for them: ``cp311-x86_64``."""
    return f"{sys.implementation.cache_tag.replace('cpython-', 'cp')}-{host_platform.machine()}"


def vendored_requirements(config: FunctionConfig, platform: str = LAMBDA) -> list[str]:
    """The lines of ``requirements.txt`` whose packages go into the zip: all of them for
    Lambda's platform, only those the host does not satisfy for the host."""
    requirements = config.requirements_file
    if requirements is None:
        return []
    text = requirements.read_text(encoding="utf-8")
    return to_install(text) if platform == HOST else requirement_lines(text)


def source_files(root: Path) -> Iterator[tuple[str, Path]]:
    """``(name in the zip, path)`` of the function's files, without caches or bytecode."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS]
        for file in files:
            if not file.endswith(_SKIPPED_SUFFIXES):
                path = Path(folder) / file
                yield path.relative_to(root).as_posix(), path


def code_files(config: FunctionConfig) -> dict[str, Path]:
    """The bundle's code: the function's own files. Its layers (``config.layer_dirs``) are
    not in it: the deployer publishes them as layer versions the function lists, as Lambda
    runs them (see :mod:`stepkit.deploy.providers.layers`)."""
    return dict(source_files(config.code_dir))


def bundle_digest(config: FunctionConfig, platform: str = LAMBDA) -> str:
    """What the zip for ``platform`` depends on: for Lambda, the sources, the runtime and the
    architecture; for the host, the sources, this interpreter and what of the requirements
    it lacks (installing a package here can change the bundle, upgrading one within its
    specifier does not)."""
    _check_platform(platform)
    digest = hashlib.sha256()
    if platform == HOST:
        parts = [BUILDER_VERSION, HOST, host_tag(), *vendored_requirements(config, HOST)]
    else:
        parts = [BUILDER_VERSION, config.runtime, config.architecture]
    for part in parts:
        digest.update(part.encode() + b"\0")
    for name, path in sorted(code_files(config).items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def build_bundle(
    config: FunctionConfig,
    out_dir: Path,
    *,
    platform: str = LAMBDA,
    force: bool = False,
    installer: Installer | None = None,
) -> BuildResult:
    """Build ``out_dir/<name>.zip`` for ``platform`` unless an identical one is already there.

    Keep the bundles of each platform in their own ``out_dir``: they share file names."""
    _check_platform(platform)
    zip_path = out_dir / f"{config.name}.zip"
    manifest_path = out_dir / f"{config.name}.zip.json"
    digest = bundle_digest(config, platform)
    previous = _read_manifest(manifest_path)
    if not force and previous is not None and previous.digest == digest and zip_path.is_file():
        return BuildResult(config.name, zip_path, digest, previous.zipped_bytes, previous.unzipped_bytes,
                           previous.files, skipped=True, platform=platform, vendored=tuple(previous.vendored))

    vendored = vendored_requirements(config, platform)
    if installer is None:
        installer = pip_install_for_host if platform == HOST else pip_install_for_lambda
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"stepkit-build-{config.name}-") as scratch:
        entries = dict(_dependency_files(config, vendored, platform, Path(scratch), installer))
        entries.update(code_files(config))
        if platform == HOST:
            marker = Path(scratch) / MARKER
            marker.write_text(json.dumps({"platform": HOST, "python": host_tag(), "vendored": vendored},
                                         indent=1, sort_keys=True) + "\n", encoding="utf-8")
            entries[MARKER] = marker
        unzipped = sum(path.stat().st_size for path in entries.values())
        if unzipped > MAX_UNZIPPED_BYTES:
            raise BundleError(
                f"{config.name}: {_mb(unzipped)} unzipped is over Lambda's limit of "
                f"{_mb(MAX_UNZIPPED_BYTES)} for code and dependencies; trim requirements.txt"
            )
        partial = zip_path.with_suffix(f".zip.{os.getpid()}.partial")  # two builders never share one
        write_zip(partial, entries)
    zipped = partial.stat().st_size
    partial.replace(zip_path)
    manifest = _Manifest(digest=digest, zipped_bytes=zipped, unzipped_bytes=unzipped, files=len(entries),
                         vendored=vendored)
    partial_manifest = manifest_path.with_suffix(f".json.{os.getpid()}.partial")
    partial_manifest.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    partial_manifest.replace(manifest_path)
    return BuildResult(config.name, zip_path, digest, zipped, unzipped, len(entries), skipped=False,
                       platform=platform, vendored=tuple(vendored))


def _check_platform(platform: str) -> None:
    if platform not in PLATFORMS:
        raise ValueError(f"unknown code platform {platform!r}; one of {', '.join(PLATFORMS)}")


def _dependency_files(
    config: FunctionConfig, vendored: list[str], platform: str, scratch: Path, installer: Installer
) -> Iterator[tuple[str, Path]]:
    requirements = config.requirements_file
    if requirements is None or not vendored:
        return
    if platform == HOST:
        # Only what the host lacks; the rest is provided at run time, as a layer would be.
        requirements = scratch / "requirements.txt"
        requirements.write_text("\n".join(vendored) + "\n", encoding="utf-8")
    target = scratch / "deps"
    target.mkdir(parents=True)
    installer(config, requirements, target)
    shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts: host paths, useless in Lambda
    yield from source_files(target)


def write_zip(path: Path, entries: dict[str, Path]) -> None:
    """A reproducible zip of ``entries`` (name in the zip -> file): fixed times and modes."""
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
