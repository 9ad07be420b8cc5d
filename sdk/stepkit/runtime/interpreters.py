"""Which Python runs a function: the one of its declared runtime when this machine has it.

A function declared ``python3.12`` runs its workers on a Python 3.12 found here, in order:
this interpreter (when it is 3.12), ``python3.12`` on the PATH, pyenv's versions
(``$PYENV_ROOT/versions/3.12.*``), uv's managed Pythons (``$UV_PYTHON_INSTALL_DIR``, default
``~/.local/share/uv/python/cpython-3.12.*``), ``/usr/local/bin`` and ``/usr/bin``. Each
candidate is asked for its version (a pyenv shim of a version that is not active answers
with an error, not 3.12). Without one, the host's interpreter runs it and
:func:`fallback_warning` says so, once per runtime.

``STEPKIT_LAMBDA_PYTHON=host`` makes every function run on the host's interpreter (and with
the host's packages), as stepkit did before it chose by runtime.

Workers need only the standard library, so any installation of the version will do. On
another version than the host's, the host's packages cannot stand in for the function's
(compiled ones are built for the host's version): its ``requirements.txt`` is installed
with that interpreter's pip, and only what Lambda's runtime itself provides (boto3 and its
dependencies, pure Python) is lent from the host (:func:`platform_site`).
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
from functools import cache
from pathlib import Path

log = logging.getLogger("stepkit.runtime")

#: What Lambda's Python runtime itself provides to every function (boto3 and what it needs).
PLATFORM_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six")
HOST_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"

_warned: set[str] = set()
_warned_lock = threading.Lock()


def runtime_version(runtime: str) -> str | None:
    """``3.12`` for ``python3.12``; ``None`` for a runtime that names no Python version."""
    match = re.fullmatch(r"python(3\.\d+)", runtime)
    return match.group(1) if match else None


def host_only() -> bool:
    return os.environ.get("STEPKIT_LAMBDA_PYTHON", "").lower() == "host"


def interpreter_for(runtime: str) -> str:
    """The Python that runs functions of ``runtime``: its version's when installed here, else
    this one (:func:`fallback_warning` tells which case it is)."""
    return find_interpreter(runtime) or sys.executable


def find_interpreter(runtime: str) -> str | None:
    """A Python of the runtime's version on this machine, or ``None``."""
    version = runtime_version(runtime)
    if version is None or host_only() or version == HOST_VERSION:
        return sys.executable if version == HOST_VERSION or host_only() else None
    return _search(version)


@cache
def _search(version: str) -> str | None:
    name = f"python{version}"
    for candidate in _candidates(version):
        if candidate and _reports_version(candidate, version):
            return candidate
    log.debug("no %s on this machine", name)
    return None


def _candidates(version: str) -> list[str | None]:
    name = f"python{version}"
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    uv_root = os.environ.get("UV_PYTHON_INSTALL_DIR") or str(
        Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "uv" / "python")
    pyenv = glob.glob(os.path.join(pyenv_root, "versions", f"{version}.*", "bin", name))
    uv = glob.glob(os.path.join(uv_root, f"cpython-{version}.*", "bin", name))
    return [shutil.which(name), *_newest_first(pyenv), *_newest_first(uv), f"/usr/local/bin/{name}", f"/usr/bin/{name}"]


def _newest_first(paths: list[str]) -> list[str]:
    def patch(path: str) -> tuple[int, ...]:
        found = re.search(r"\d+\.\d+\.(\d+)", path)
        return (int(found.group(1)),) if found else (-1,)

    return sorted(paths, key=patch, reverse=True)


def _reports_version(python: str, version: str) -> bool:
    try:
        done = subprocess.run(
            [python, "-I", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=30, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == version


def fallback_warning(runtime: str) -> str | None:
    """Why a function of ``runtime`` runs on the host's Python instead of its own, or ``None``
    when it runs on its own version."""
    version = runtime_version(runtime)
    if version is None or version == HOST_VERSION or host_only() or find_interpreter(runtime) is not None:
        return None
    return (f"no Python {version} on this machine (PATH, pyenv, uv): functions of runtime {runtime} run on "
            f"this one, Python {HOST_VERSION}; install {runtime} (e.g. `uv python install {version}`) to run "
            "them on their own version")


def platform_site(root: Path) -> Path:
    """A folder under ``root`` with links to the host's boto3 and its dependencies only: what
    Lambda's runtime provides, lent to a worker of another Python version (pure Python).

    The links point into this environment's site-packages, so the folder is named after them
    (a hash of their paths): another virtual environment of the same Python version gets a
    folder of its own, and a folder whose links no longer resolve (its environment deleted) is
    made again instead of lending nothing."""
    sources: list[Path] = []
    for name in PLATFORM_MODULES:
        found = importlib.util.find_spec(name)
        if found is None or found.origin is None:
            continue
        origin = Path(found.origin)
        sources.append(origin.parent if found.submodule_search_locations else origin)
    key = hashlib.sha256("\n".join(str(s) for s in sources).encode()).hexdigest()[:12]
    folder = root / f"platform-{HOST_VERSION}-{key}"

    def complete() -> bool:
        return (folder / ".complete").exists() and all((folder / s.name).exists() for s in sources)

    if complete():
        return folder
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "platform.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not complete():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            for source in sources:
                (folder / source.name).symlink_to(source)
            (folder / ".complete").touch()
    return folder


def pinned_to_host(code_dir: Path) -> bool:
    """Code deployed as a ``host`` bundle that vendors packages (built for this interpreter,
    what the host lacked): it imports only here, whatever runtime it declares."""
    from stepkit.runtime.bundle import MARKER

    try:
        data = json.loads((code_dir / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("platform") == "host" and bool(data.get("vendored"))


def choose(runtime: str, code_dir: Path, name: str) -> tuple[str, str | None]:
    """``(python, why it is the host's instead of the runtime's, or None)`` for a function."""
    found = find_interpreter(runtime)
    if found is None:
        return sys.executable, fallback_warning(runtime)
    if found != sys.executable and pinned_to_host(code_dir):
        return sys.executable, (f"function {name}: its bundle vendors packages built for Python {HOST_VERSION}, "
                                f"so it runs on this Python rather than {runtime}")
    return found, None


def warn_once(message: str | None) -> None:
    """Log ``message`` the first time it comes up in this process."""
    if message is None:
        return
    with _warned_lock:
        if message in _warned:
            return
        _warned.add(message)
    log.warning("stepkit: %s", message)
