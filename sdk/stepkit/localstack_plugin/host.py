"""LocalStack on the host, without Docker: its own virtual environment, start, health, stop.

``localstack-core`` 4.9.2 runs directly on the host (``python -m localstack.runtime.main``)
with no auth token. Its pins clash with stepkit's, so it gets its own virtual environment
(by default ``.stepkit/localstack-venv``), built once and reused while its stamp matches.
Into it goes the tiny ``stepkit-localstack`` plugin (LocalStack's ``stepkit`` Lambda runtime
executor, built here as a wheel from :mod:`stepkit.localstack_plugin.stepkit_localstack`);
started with ``LAMBDA_RUNTIME_EXECUTOR=stepkit``, LocalStack then runs Lambda handlers in
stepkit's runtime, in a helper process that uses *this* Python (the one with stepkit).

Only the standard library is used here, so the ``localstack/*.sh`` scripts, the test
fixtures and ``stepkit deploy --target localstack`` can all drive it.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import InitVar, asdict, dataclass, field
from pathlib import Path

LOCALSTACK_VERSION = "4.9.2"
#: What the venv gets: LocalStack's runtime extra, and the pins measured to make 4.9.2 work
#: on Python 3.11 (newer releases of these break its start-up).
REQUIREMENTS = (
    f"localstack-core[runtime]=={LOCALSTACK_VERSION}",
    "pyopenssl<26",
    "cryptography<47",
    "cbor2<6",
    "service_identity",
    "psutil<7",
)
DEFAULT_PORT = 4566
DEFAULT_SERVICES = "s3,sqs,sns,stepfunctions,lambda,iam,sts,logs,events,apigateway"
PLUGIN_NAME = "stepkit-localstack"
PLUGIN_PACKAGE = "stepkit_localstack"
ENTRY_POINT_GROUP = "localstack.lambda.runtime_executor"
_PLUGIN_SOURCE = Path(__file__).resolve().parent / PLUGIN_PACKAGE
INSTALL_TIMEOUT_S = 1200.0
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0
#: What the plugin logs once LocalStack has shut down, and how long it then gets to exit.
SHUTDOWN_MARK = b"stepkit-localstack: shutdown complete"
SHUTDOWN_GRACE_S = 0.5


class LocalStackUnavailable(Exception):
    """LocalStack cannot be installed or started here; the message says why."""


class PortInUse(LocalStackUnavailable):
    pass


@dataclass
class Instance:
    """A LocalStack started by :func:`start` (and what :func:`stop` needs to stop it)."""

    pid: int
    port: int
    endpoint_url: str
    log_file: str
    pid_file: str
    started_s: float = 0.0
    """Seconds from spawning the process to a healthy ``/_localstack/health``."""
    region: str = "us-east-1"
    account_id: str = "000000000000"

    def client_options(self) -> dict[str, str]:
        """Keyword arguments for ``boto3.client(service, **options)`` against this LocalStack."""
        return {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "aws_access_key_id": "test",
            "aws_secret_access_key": "test",
        }

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = Path(self.log_file).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Setup:
    """Where LocalStack's venv and run files live, and which Python runs the handlers."""

    state_dir: Path = field(default_factory=lambda: Path.cwd() / ".stepkit")
    venv_dir: InitVar[Path | None] = None  # default: $STEPKIT_LOCALSTACK_VENV, else under state_dir
    stepkit_python: str = sys.executable
    base_python: str = sys.executable

    venv: Path = field(init=False)  # LocalStack's virtual environment

    def __post_init__(self, venv_dir: Path | None) -> None:
        self.state_dir = Path(self.state_dir).resolve()
        env_venv = os.environ.get("STEPKIT_LOCALSTACK_VENV")
        self.venv = Path(venv_dir or env_venv or self.state_dir / "localstack-venv").resolve()

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def run_dir(self, port: int) -> Path:
        return self.state_dir / "localstack" / str(port)

    def pid_file(self, port: int) -> Path:
        return self.run_dir(port) / "localstack.json"


# -- the virtual environment ------------------------------------------------------------------


def ensure_installed(setup: Setup, *, log: io.TextIOBase | None = None) -> float:
    """Create LocalStack's venv (or reuse it) and install the plugin; seconds it took."""
    started = time.perf_counter()
    venv = setup.venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with _locked(venv.with_name(venv.name + ".lock")):
        stamp = venv / ".stepkit-stamp.json"
        wanted = {"requirements": list(REQUIREMENTS), "python": _python_version(setup.base_python)}
        if _read_json(stamp).get("installed") != wanted or not setup.python.exists():
            _say(log, f"Installing localstack-core {LOCALSTACK_VERSION} into {venv} (once; takes a minute or two)")
            shutil.rmtree(venv, ignore_errors=True)
            _run([setup.base_python, "-m", "venv", str(venv)], "create LocalStack's virtual environment")
            _pip_install(setup.python, list(REQUIREMENTS), f"install localstack-core {LOCALSTACK_VERSION}")
            stamp.write_text(json.dumps({"installed": wanted}), encoding="utf-8")
        plugin_stamp = venv / ".stepkit-plugin"
        digest = plugin_digest()
        if _read_text(plugin_stamp) != digest:
            wheel_dir = Path(tempfile.mkdtemp(prefix="stepkit-localstack-"))
            wheel = build_plugin_wheel(wheel_dir, digest)
            _pip_install(setup.python, ["--no-deps", "--no-index", "--force-reinstall", str(wheel)],
                         "install the stepkit LocalStack plugin")
            shutil.rmtree(wheel_dir, ignore_errors=True)
            plugin_stamp.write_text(digest, encoding="utf-8")
    return time.perf_counter() - started


def _pip_install(python: Path, arguments: list[str], what: str) -> None:
    """``pip install`` into LocalStack's virtual environment, quietly and without prompts."""
    _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input", *arguments],
         what)


def plugin_digest() -> str:
    h = hashlib.sha256()
    for path in sorted(_PLUGIN_SOURCE.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def build_plugin_wheel(out_dir: Path, digest: str) -> Path:
    """The plugin as a pure-Python wheel, built without any build backend."""
    version = f"0.1.0+{digest}"
    dist_info = f"{PLUGIN_PACKAGE}-{version}.dist-info"
    files: dict[str, bytes] = {
        f"{PLUGIN_PACKAGE}/{p.name}": p.read_bytes() for p in sorted(_PLUGIN_SOURCE.glob("*.py"))
    }
    files[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {PLUGIN_NAME}\nVersion: {version}\n"
        "Summary: LocalStack Lambda runtime executor that runs handlers in stepkit's runtime\n"
    ).encode()
    files[f"{dist_info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: stepkit\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{dist_info}/entry_points.txt"] = (
        f"[{ENTRY_POINT_GROUP}]\nstepkit = {PLUGIN_PACKAGE}:StepkitRuntimeExecutorPlugin\n\n"
        f"[localstack.hooks.on_infra_start]\nstepkit_shutdown_mark = {PLUGIN_PACKAGE}:stepkit_shutdown_mark\n"
    ).encode()
    record = []
    for name, data in files.items():
        digest_b64 = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest_b64},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel = out_dir / f"{PLUGIN_PACKAGE}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data)
    return wheel


# -- start and stop ---------------------------------------------------------------------------


def localstack_environment(setup: Setup, port: int, services: str = DEFAULT_SERVICES) -> dict[str, str]:
    """The variables LocalStack starts with: loopback only, no DNS server, no downloads,
    Lambda through stepkit, and every file under the run folder."""
    run_dir = setup.run_dir(port)
    stepkit_dir = Path(__file__).resolve().parents[1]  # the folder holding the stepkit package
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOCALSTACK_", "GATEWAY_"))}
    env.update(
        {
            "GATEWAY_LISTEN": f"127.0.0.1:{port}",
            "GATEWAY_SERVER": "hypercorn",  # the default server binds 0.0.0.0 whatever GATEWAY_LISTEN says
            "LOCALSTACK_HOST": f"127.0.0.1:{port}",
            "DNS_ADDRESS": "0",
            "SERVICES": services,
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "DISABLE_EVENTS": "1",  # no analytics calls
            "OVERRIDE_IN_DOCKER": "0",  # host directory layout, under FILESYSTEM_ROOT
            "FILESYSTEM_ROOT": str(run_dir / "filesystem"),
            "TMPDIR": str(run_dir / "tmp"),
            "LAMBDA_RUNTIME_EXECUTOR": "stepkit",
            "STEPKIT_LOCALSTACK_PYTHON": setup.stepkit_python,
            "STEPKIT_LOCALSTACK_PYTHONPATH": str(stepkit_dir.parent),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As servers do: connections of a past run still in TIME_WAIT do not make it busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(
    setup: Setup,
    port: int = DEFAULT_PORT,
    *,
    services: str = DEFAULT_SERVICES,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = START_TIMEOUT_S,
) -> Instance:
    """Start LocalStack on ``127.0.0.1:port`` and wait until it is healthy."""
    if not setup.python.exists():
        raise LocalStackUnavailable(f"LocalStack is not installed in {setup.venv}: run the install step first")
    pid_file = setup.pid_file(port)
    if (old := read_instance(pid_file)) is not None and _is_localstack(old.pid):
        raise PortInUse(f"LocalStack (pid {old.pid}) already runs on port {port}: stop it first")
    if not port_free(port):
        raise PortInUse(f"Port {port} on 127.0.0.1 is in use by another program")
    run_dir = setup.run_dir(port)
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "tmp").mkdir(parents=True)
    log_file = run_dir / "localstack.log"
    env = localstack_environment(setup, port, services)
    env.update(extra_env or {})
    spawned = time.perf_counter()
    with open(log_file, "wb") as log:
        process = subprocess.Popen(
            [str(setup.python), "-m", "localstack.runtime.main"],
            cwd=run_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not stopped by the terminal's Ctrl-C; stopped by pid
        )
    instance = Instance(
        pid=process.pid,
        port=port,
        endpoint_url=f"http://127.0.0.1:{port}",
        log_file=str(log_file),
        pid_file=str(pid_file),
    )
    pid_file.write_text(json.dumps(asdict(instance)), encoding="utf-8")
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            _forget(pid_file)
            raise LocalStackUnavailable(
                f"LocalStack exited with code {process.returncode} while starting:\n{instance.log_tail()}"
            )
        if health(instance.endpoint_url).get("services", {}).get("lambda") in ("available", "running"):
            break
        if time.monotonic() > deadline:
            stop(instance)
            raise LocalStackUnavailable(f"LocalStack was not healthy after {timeout:.0f} s:\n{instance.log_tail()}")
        time.sleep(0.1)
    instance.started_s = time.perf_counter() - spawned
    pid_file.write_text(json.dumps(asdict(instance)), encoding="utf-8")
    return instance


def health(endpoint_url: str) -> dict:
    try:
        with urllib.request.urlopen(f"{endpoint_url}/_localstack/health", timeout=2) as response:
            return json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return {}


def read_instance(pid_file: Path | str) -> Instance | None:
    data = _read_json(Path(pid_file))
    try:
        return Instance(**data) if data else None
    except TypeError:
        return None


def stop(instance: Instance, timeout: float = STOP_TIMEOUT_S) -> list[int]:
    """Stop LocalStack by its pid, then whatever it left (helper, workers); the pids stopped."""
    pid = instance.pid
    if not _is_localstack(pid):
        _forget(Path(instance.pid_file))
        return []
    family = [pid, *descendants(pid)]
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)  # LocalStack shuts its services down, the helper with it
    if not _wait_shut_down(instance, timeout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_gone([pid], 5)
    family += [p for p in descendants_of_set(family) if p not in family]
    leftover = [p for p in family if alive(p)]
    for p in leftover:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGTERM)
    if not _wait_gone(leftover, 5):
        for p in leftover:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        _wait_gone(leftover, 5)
    _forget(Path(instance.pid_file))
    # Its files (unzipped code, objects, queues) go; the log stays for a look afterwards.
    run_dir = Path(instance.log_file).parent
    for sub in ("filesystem", "tmp"):
        shutil.rmtree(run_dir / sub, ignore_errors=True)
    return family


def descendants(pid: int) -> list[int]:
    return descendants_of_set([pid])


def descendants_of_set(roots: list[int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.append(child)
                todo.append(child)
    return found


# -- internals --------------------------------------------------------------------------------


def _is_localstack(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"localstack.runtime.main" in cmdline


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    if state == "Z":  # a zombie of ours: reap it
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


def _wait_shut_down(instance: Instance, timeout: float) -> bool:
    """Wait for LocalStack to exit; ``False`` to have it killed.

    The plugin logs :data:`SHUTDOWN_MARK` when LocalStack has stopped its services and its
    server and run its exit handlers; what follows is the interpreter's own teardown (a
    garbage collection of a very large heap: seconds, ten on a busy machine), which nothing
    needs, so :data:`SHUTDOWN_GRACE_S` after the mark it is killed.
    """
    deadline = time.monotonic() + timeout
    marked_at = None
    while alive(instance.pid):
        now = time.monotonic()
        if marked_at is None and SHUTDOWN_MARK in _tail_bytes(instance.log_file):
            marked_at = now
        if now > deadline or (marked_at is not None and now - marked_at > SHUTDOWN_GRACE_S):
            return False
        time.sleep(0.05)
    return True


def _tail_bytes(path: str, size: int = 4096) -> bytes:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(handle.tell() - size, 0))
            return handle.read()
    except OSError:
        return b""


def _wait_gone(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _forget(pid_file: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        pid_file.unlink()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _run(command: list[str], what: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LocalStackUnavailable(f"Could not {what}: {exc}") from exc
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or done.stdout).splitlines() if not ln.startswith("WARNING: Location")]
        raise LocalStackUnavailable(f"Could not {what}:\n" + "\n".join(lines[-15:]))


def _python_version(python: str) -> str:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise LocalStackUnavailable(f"Cannot run {python}: {exc}") from exc
    return out.stdout.strip()


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def _say(log: io.TextIOBase | None, message: str) -> None:
    print(message, file=log or sys.stderr, flush=True)
