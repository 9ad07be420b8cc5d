"""Snapshots of moto's state: every backend's models pickled, S3 object bodies as files.

A snapshot file (``moto.pickle``) is ``{"format": 2, "covered": seq, "backends": {key: bytes},
"blobs": [name, ...]}``: ``covered`` is the last journal record whose effect it holds, so a
restore replays the records above it. Locks and conditions in the models are recreated empty.

S3 bodies of ``BLOB_MIN`` bytes or more are not in the pickle: each is a file
``moto-blobs/<md5>-<size>`` (content-addressed by the ETag moto keeps and the size), written
once; later snapshots only name it, so a snapshot of 300 MB of objects writes only what is
new. Blobs no snapshot names are deleted after the next snapshot (``collect_blobs``). A
restored key reads its blob file in place (opened read-only: moto writes a key's body only
when it makes the key), so a restart copies no bodies.

Snapshots run in a forked child (``fork_snapshot``): the parent forks while it holds the
backend's lock (a consistent cut, the lock held only for the fork) and goes on serving;
the child sees a frozen copy-on-write image of the models and pickles it at leisure. The
child reads object bodies with ``os.pread`` (moto keeps large bodies in temporary files whose
file offsets parent and child share), closes its copies of the listening sockets (so a port
is never held by a child), dies with its parent, never logs or takes a lock another thread
may hold, and leaves with ``os._exit``.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import importlib
import io
import os
import pickle
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any, cast

from moto.core.base_backend import BackendDict

from stepkit.endpoint.journal import fsync_dir

#: Services stepkit serves itself: their moto backends are never persisted or restored.
OWN = {"stepfunctions", "lambda", "awslambda"}
#: S3 bodies from this size on are stored as files beside the snapshot.
BLOB_MIN = 16 * 1024
FORMAT = 2
#: Class-level counters of moto's models (module, class, attribute): not in any backend, but
#: part of the state (CloudWatch Logs event ids): saved with the snapshot.
COUNTERS = (("moto.logs.models", "LogEvent", "_event_id"), ("moto.logs.models", "LogStream", "_log_ids"))
_LOCK_TYPE = type(threading.Lock())
_RLOCK_TYPE = type(threading.RLock())
_CHUNK = 8 * 1024 * 1024
_loading: dict[str, Any] = {}


def backend_key(bd: BackendDict) -> str:
    cls = bd.backend
    return f"{cls.__module__}:{cls.__qualname__}"


def find_backend_dict(key: str) -> BackendDict | None:
    module_name = key.partition(":")[0]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    for value in vars(module).values():
        if isinstance(value, BackendDict) and backend_key(value) == key:
            return value
    return None


# -- S3 bodies ---------------------------------------------------------------------------------
def _key_chunks(key: Any) -> Any:
    """A FakeKey's body without touching its buffer's shared file offset (see module doc)."""
    buffer = getattr(key, "_value_buffer", None)
    if buffer is None or buffer.closed:
        return
    inner = buffer._file
    if isinstance(inner, io.BytesIO):
        yield inner.getvalue()
        return
    fd = inner.fileno()
    offset = 0
    while True:
        chunk = os.pread(fd, _CHUNK, offset)
        if not chunk:
            return
        offset += len(chunk)
        yield chunk


def _blob_name(key: Any) -> str:
    etag = key._etag
    if etag is None:
        digest = hashlib.md5(usedforsecurity=False)
        for chunk in _key_chunks(key):
            digest.update(chunk)
        etag = digest.hexdigest()
    return f"{etag.strip(chr(34))}-{key.contentsize}"


def _write_blob(key: Any, path: Path) -> None:
    """Write a body to its blob file. A body moto keeps in a temporary file is not frozen by
    the fork (files are shared): one rewritten meanwhile no longer matches its MD5 ETag, and
    the snapshot fails (and is taken again later) rather than store a torn body."""
    tmp = path.with_name(path.name + ".tmp")
    digest = hashlib.md5(usedforsecurity=False)
    with open(tmp, "wb") as handle:
        for chunk in _key_chunks(key):
            digest.update(chunk)
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    etag = path.name.rpartition("-")[0]
    if "-" not in etag and etag != digest.hexdigest():
        tmp.unlink()
        raise RuntimeError(f"the body of {key.bucket_name}/{key.name} changed while it was saved")
    os.replace(tmp, path)


def keep_bodies_in_files() -> None:
    """S3 bodies from ``BLOB_MIN`` on are kept by moto in temporary files, not in memory
    (moto's ``MOTO_S3_DEFAULT_KEY_BUFFER_SIZE``; its default is 5 MB): a fork copies the page
    tables of the process's memory, so 300 MB of bodies in memory would make every snapshot's
    pause tens of milliseconds longer. Each such body holds a file descriptor: the soft limit
    is raised to the hard one."""
    import moto.s3.models

    if "MOTO_S3_DEFAULT_KEY_BUFFER_SIZE" not in os.environ:  # (not set in os.environ: workers inherit it)
        moto.s3.models.get_s3_default_key_buffer_size = lambda: BLOB_MIN
    with contextlib.suppress(Exception):
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def memory_limit() -> int:
    import moto.s3.models

    return int(moto.s3.models.get_s3_default_key_buffer_size())


def _new_key(cls: Any) -> Any:
    return cls.__new__(cls)


def _set_key_state(key: Any, state: tuple[dict[str, Any], bytes | None, str | None]) -> None:
    fields, inline, blob = state
    key.__dict__.update(fields)
    key.lock = threading.Lock()
    key._max_buffer_size = memory_limit()
    key._value_buffer = tempfile.SpooledTemporaryFile(max_size=key._max_buffer_size)  # noqa: SIM115 (the key owns it)
    if blob is None and inline is None:  # disposed by moto (a completed part, a deleted key)
        key._value_buffer.close()
        return
    if blob is None:
        key._value_buffer.write(inline)
        return
    try:  # moto writes a key's body only when it makes the key: it can read the blob itself
        key._value_buffer._file = open(_loading["blobs"] / blob, "rb")  # noqa: SIM115 (the key owns it)
        key._value_buffer._rolled = True
    except OSError as exc:  # one body gone: the rest of the state still comes back
        _loading.setdefault("missing", []).append(f"{key.bucket_name}/{key.name}: {exc}")


class Pickler(pickle.Pickler):
    """moto's models as they are, but locks recreated empty and big S3 bodies as blob files."""

    def __init__(self, file: Any, blobs: Path | None, refs: set[str]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.blobs = blobs
        self.refs = refs
        self.key_type: type | None = None
        with contextlib.suppress(ImportError):
            from moto.s3.models import FakeKey

            self.key_type = FakeKey

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, threading.Condition):
            return threading.Condition, ()
        if isinstance(obj, threading.Event):
            return threading.Event, ()
        kind = type(obj)
        if kind is _LOCK_TYPE:
            return threading.Lock, ()
        if kind is _RLOCK_TYPE:
            return threading.RLock, ()
        if self.key_type is not None and isinstance(obj, self.key_type):
            return self._reduce_key(obj)
        return NotImplemented

    def _reduce_key(self, key: Any) -> Any:
        fields = {k: v for k, v in key.__dict__.items() if k not in ("_value_buffer", "lock")}
        size = int(getattr(key, "contentsize", 0) or 0)
        inline: bytes | None = None
        blob: str | None = None
        buffer = getattr(key, "_value_buffer", None)
        if buffer is None or buffer.closed:
            pass
        elif self.blobs is None or size < BLOB_MIN:
            inline = b"".join(_key_chunks(key))
        else:
            blob = _blob_name(key)
            if blob not in self.refs and not (self.blobs / blob).exists():
                _write_blob(key, self.blobs / blob)
            self.refs.add(blob)
        return _new_key, (type(key),), (fields, inline, blob), None, None, _set_key_state


# -- writing and reading -----------------------------------------------------------------------
def write_snapshot(path: Path, covered: int, blobs: Path) -> list[str]:
    """Pickle every persisted backend to ``path`` (fsync'd, not yet renamed into place).
    A backend that cannot be pickled fails the whole snapshot: the journal it would have
    replaced still holds that backend's changes, so nothing is dropped."""
    blobs.mkdir(parents=True, exist_ok=True)
    refs: set[str] = set()
    backends: dict[str, bytes] = {}
    for bd in list(cast(Any, BackendDict)._instances):  # a class-level registry on a generic class
        if bd.service_name in OWN:
            continue
        key = backend_key(bd)
        accounts = {account: dict(asb) for account, asb in bd.items()}
        buffer = io.BytesIO()
        try:
            Pickler(buffer, blobs, refs).dump(accounts)
        except Exception as exc:
            raise RuntimeError(f"moto backend {key} cannot be pickled: {exc!r}") from exc
        backends[key] = buffer.getvalue()
    data = pickle.dumps({"format": FORMAT, "covered": covered, "backends": backends, "blobs": sorted(refs),
                         "counters": _counters()}, protocol=pickle.HIGHEST_PROTOCOL)
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    fsync_dir(blobs)
    return sorted(refs)


def _counters() -> dict[str, int]:
    import sys

    found: dict[str, int] = {}
    for module, cls, attribute in COUNTERS:
        owner = getattr(sys.modules.get(module), cls, None)
        if owner is not None:
            found[f"{module}:{cls}.{attribute}"] = int(getattr(owner, attribute))
    return found


def _set_counters(saved: dict[str, int]) -> None:
    for module, cls, attribute in COUNTERS:
        value = saved.get(f"{module}:{cls}.{attribute}")
        if value is not None:
            setattr(getattr(importlib.import_module(module), cls), attribute, value)


def read_snapshot(path: Path, blobs: Path) -> tuple[int, int, list[str]]:
    """Put a snapshot back into moto's backends: (covered seq, backends restored, warnings).
    Reads the format-1 files of earlier stepkit versions too (covered seq 0)."""
    saved = pickle.loads(path.read_bytes())
    if saved.get("format") == FORMAT:
        covered, backends = int(saved["covered"]), saved["backends"]
        _set_counters(saved.get("counters", {}))
    else:
        covered, backends = 0, saved
    restored = 0
    warnings: list[str] = []
    _loading["blobs"] = blobs
    try:
        for key, blob in backends.items():
            bd = find_backend_dict(key)
            if bd is None:
                continue
            try:
                accounts: dict[str, dict[str, Any]] = pickle.loads(blob)
            except Exception as exc:
                warnings.append(f"moto backend {key} could not be restored: {exc}")
                continue
            for account, regions in accounts.items():
                account_backends = bd[account]
                for region, backend in regions.items():
                    account_backends[region] = backend
                    restored += 1
    finally:
        _loading.pop("blobs", None)
        warnings += [f"an S3 body could not be read back ({problem})" for problem in _loading.pop("missing", [])]
    return covered, restored, warnings


def collect_blobs(blobs: Path, keep: list[str]) -> int:
    """Delete the blob files the current snapshot does not name; returns how many."""
    wanted = set(keep)
    removed = 0
    for path in blobs.iterdir():
        if path.name not in wanted:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


# -- the forked child ----------------------------------------------------------------------------
def _close_sockets() -> None:
    for name in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else []:
        fd = int(name)
        with contextlib.suppress(OSError):
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.close(fd)


def _die_with_parent(parent: int) -> None:
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    if os.getppid() != parent:  # the parent died before prctl: nothing to snapshot for
        os._exit(1)


def fork_snapshot(path: Path, covered: int, blobs: Path) -> int:
    """Fork a child that writes the snapshot to ``path`` and exits 0 (1 on failure, with the
    reason in ``path`` + ``.err``). Call with the backend's lock held; returns the child's pid."""
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        _die_with_parent(parent)
        _close_sockets()
        os.nice(10)  # the endpoint's requests come first
        write_snapshot(path, covered, blobs)
        code = 0
    except BaseException as exc:
        with contextlib.suppress(BaseException):
            Path(str(path) + ".err").write_text(repr(exc))
    finally:
        os._exit(code)
    return 0  # never reached
