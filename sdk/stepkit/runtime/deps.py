"""A function's own dependencies for local workers: a site folder per ``requirements.txt``.

The folder goes right after the function's code on the worker's ``sys.path``, before the
host environment, so the function's pinned versions win over stepkit's. A requirement the
host already satisfies (same name, version inside the specifier) is not installed again:
that keeps ML functions that need numpy or scikit-learn from copying them per function.
Nor is one whose package the function's folder already holds (a deployment package built
for this host vendors exactly what the host lacks, with its ``.dist-info``): the code
folder comes first on the worker's path, so that copy is the one imported.
Folders are cached by a hash of what they hold and built under a lock, so parallel test
processes share them.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from stepkit.runtime.errors import DependencyInstallError

#: Options that name something to install; other options (``--index-url``...) only steer pip.
_INSTALLING_OPTIONS = ("-r", "--requirement", "-e", "--editable", "-c", "--constraint")


def requirement_lines(text: str) -> list[str]:
    """The meaningful lines of a requirements file (comments and blank lines dropped)."""
    lines = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def _requirement(line: str) -> Requirement | None:
    if line.startswith("-"):
        return None
    try:
        req = Requirement(line)
    except InvalidRequirement:
        return None  # a path, a URL: pip will know
    return None if req.url else req


def satisfied_by_host(line: str) -> bool:
    """A plain ``name[extras] specifier ; marker`` line that the host environment meets."""
    req = _requirement(line)
    if req is None:
        return False
    if req.marker is not None and not req.marker.evaluate():
        return True  # not for this platform: nothing to install
    try:
        version = importlib.metadata.version(req.name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return req.specifier.contains(version, prereleases=True)


def satisfied_in(line: str, folders: Iterable[Path]) -> bool:
    """A plain requirement line met by a distribution installed in one of ``folders``
    (``pip install --target`` layout: ``name-version.dist-info`` at the top)."""
    req = _requirement(line)
    if req is None:
        return False
    wanted = canonicalize_name(req.name)
    for dist in importlib.metadata.distributions(path=[str(f) for f in folders]):
        name = dist.metadata["Name"]
        if name and canonicalize_name(name) == wanted and req.specifier.contains(dist.version, prereleases=True):
            return True
    return False


def to_install(text: str, provided: Iterable[Path] = (), *, host: bool = True) -> list[str]:
    """The lines pip must still act on; empty when there is nothing to install.

    ``provided``: folders whose installed packages count as present (a function's code
    folder with vendored dependencies). ``host=False``: for another interpreter than this
    one, which neither this environment nor what was vendored for it can serve."""
    folders = [f for f in provided if f.is_dir()] if host else []
    lines = [line for line in requirement_lines(text)
             if not (host and satisfied_by_host(line)) and not (folders and satisfied_in(line, folders))]
    installing = [ln for ln in lines if not ln.startswith("-") or ln.startswith(_INSTALLING_OPTIONS)]
    return lines if installing else []


class DependencyCache:
    """Installed requirements by what they hold, for ``python`` (default: this interpreter)."""

    def __init__(self, root: Path, python: str = sys.executable) -> None:
        self.root = root
        self.python = python

    def site_dir(self, requirements: Path) -> Path | None:
        """The installed folder for ``requirements`` (built on first use), or ``None`` if the
        host already provides everything it lists."""
        host = self.python == sys.executable
        lines = to_install(requirements.read_text(encoding="utf-8"), provided=[requirements.parent], host=host)
        if not lines:
            return None
        # Plain requirements mean the same from any folder: for another interpreter (whose
        # cache is the user's, shared by projects) they are installed once per machine.
        where = "" if not host and all(_requirement(line) for line in lines) else str(requirements.parent.resolve())
        key = hashlib.sha256(
            "\n".join([sys.version if host else self.python, platform.machine(), where, *lines]).encode()
        ).hexdigest()[:24]
        target = self.root / key
        if (target / ".complete").exists():
            return target
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (target / ".complete").exists():
                self._install(lines, requirements.parent, target)
        return target

    def _install(self, lines: list[str], cwd: Path, target: Path) -> None:
        staging = target.with_name(f"{target.name}.tmp{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        filtered = staging / "requirements.txt"
        filtered.write_text("\n".join(lines) + "\n", encoding="utf-8")
        command = [self.python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   "--no-input", "--target", str(staging), "-r", str(filtered)]
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            detail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise DependencyInstallError(
                f"pip could not install {cwd / 'requirements.txt'}: " + " | ".join(detail)
            )
        filtered.unlink()
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        (target / ".complete").touch()
