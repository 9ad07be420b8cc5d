"""Everything stepkit does not serve itself goes to moto, in this process.

moto's own server machinery does the work (``DomainDispatcherApplication`` with
``create_backend_app``: the same WSGI app ``moto_server`` runs). What stepkit adds:

- persistence. moto keeps its state in module-level ``BackendDict`` objects and has no
  persistence of its own (``moto_api`` can only reset them). Its models are plain Python
  objects, and moto already makes S3 keys picklable; so the state of every backend in use
  is pickled (locks and conditions are recreated empty) to ``moto.pickle`` under the state
  dir after requests that may change it (debounced, written atomically), and put back
  into the same ``BackendDict`` objects at start-up. A ``kill -9`` loses at most the last
  fraction of a second of changes to moto's resources; buckets, queues, tables, rules
  and their contents survive.
- a gate: snapshots are taken while no moto request is running, so the pickled state is
  consistent.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import pickle
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from moto.core.base_backend import BackendDict
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

log = logging.getLogger(__name__)

#: Services stepkit serves itself: their moto backends are never persisted or restored.
_OWN = {"stepfunctions", "lambda", "awslambda"}
_LOCK_TYPE = type(threading.Lock())
_RLOCK_TYPE = type(threading.RLock())
_READ_ONLY = {"GET", "HEAD", "OPTIONS"}


class _Pickler(pickle.Pickler):
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
        return NotImplemented


class _Gate:
    """Many requests at once, or one snapshot alone."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._exclusive = False

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            while self._exclusive:
                self._cond.wait()
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            while self._exclusive:
                self._cond.wait()
            self._exclusive = True
            while self._active:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


def _backend_key(bd: BackendDict) -> str:
    cls = bd.backend
    return f"{cls.__module__}:{cls.__qualname__}"


def _find_backend_dict(key: str) -> BackendDict | None:
    module_name = key.partition(":")[0]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    for value in vars(module).values():
        if isinstance(value, BackendDict) and _backend_key(value) == key:
            return value
    return None


class MotoBackend:
    """moto's WSGI app, with its state kept in ``snapshot`` (None: not persisted)."""

    def __init__(self, snapshot: Path | None = None, debounce: float = 0.05) -> None:
        self.app = DomainDispatcherApplication(create_backend_app)
        self.snapshot = snapshot
        self.gate = _Gate()
        self._debounce = debounce
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self.skipped: set[str] = set()

    # -- requests -------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("HTTP_X_AMZ_TARGET") == "AmazonSQS.ReceiveMessage":
            # A long poll may wait 20 s: it must not hold snapshots (and so every request) back.
            body = b"".join(self.app(environ, start_response))
        else:
            with self.gate.shared():
                # Read the whole response inside the gate: moto builds it eagerly anyway.
                body = b"".join(self.app(environ, start_response))
        if environ.get("REQUEST_METHOD", "GET") not in _READ_ONLY:
            self.mark_dirty()
        return [body]

    @contextlib.contextmanager
    def direct(self) -> Iterator[None]:
        """Hold this while calling moto's models directly (not through a request)."""
        with self.gate.shared():
            yield
        self.mark_dirty()

    def mark_dirty(self) -> None:
        if self.snapshot is not None:
            self._dirty.set()

    # -- persistence ----------------------------------------------------------------------
    def restore(self) -> int:
        """Put a saved state back into moto's backends; returns how many backends came back."""
        if self.snapshot is None or not self.snapshot.exists():
            return 0
        try:
            saved: dict[str, bytes] = pickle.loads(self.snapshot.read_bytes())
        except Exception as exc:
            log.warning("moto state in %s could not be read (%s); starting empty", self.snapshot, exc)
            return 0
        restored = 0
        for key, blob in saved.items():
            bd = _find_backend_dict(key)
            if bd is None:
                continue
            try:
                accounts: dict[str, dict[str, Any]] = pickle.loads(blob)
            except Exception as exc:
                log.warning("moto backend %s could not be restored: %s", key, exc)
                continue
            for account, regions in accounts.items():
                account_backends = bd[account]
                for region, backend in regions.items():
                    account_backends[region] = backend
                    restored += 1
        return restored

    def save(self) -> None:
        if self.snapshot is None:
            return
        with self.gate.exclusive():
            blobs: dict[str, bytes] = {}
            for bd in list(BackendDict._instances):
                if bd.service_name in _OWN:
                    continue
                key = _backend_key(bd)
                accounts = {account: dict(asb) for account, asb in bd.items()}
                blob = self._pickle(key, accounts)
                if blob is not None:
                    blobs[key] = blob
        data = pickle.dumps(blobs, protocol=pickle.HIGHEST_PROTOCOL)
        tmp = self.snapshot.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, self.snapshot)

    def _pickle(self, key: str, accounts: dict[str, Any]) -> bytes | None:
        for attempt in range(5):
            buffer = io.BytesIO()
            try:
                _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(accounts)
                return buffer.getvalue()
            except RuntimeError:  # changed by a request outside the gate (an SQS receive): again
                if attempt == 4:
                    raise
            except Exception as exc:  # a model moto cannot pickle: keep serving, say so once
                if key not in self.skipped:
                    log.warning("moto backend %s is not persisted: %s", key, exc)
                    self.skipped.add(key)
                return None
        return None

    def start_writer(self) -> None:
        if self.snapshot is None or self._writer is not None:
            return
        self._writer = threading.Thread(target=self._write_loop, name="moto-snapshot", daemon=True)
        self._writer.start()

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            if not self._dirty.wait(0.5):
                continue
            self._stop.wait(self._debounce)
            self._dirty.clear()
            try:
                self.save()
            except Exception as exc:
                log.warning("moto state could not be saved: %s", exc)

    def close(self) -> None:
        self._stop.set()
        if self._writer is not None:
            self._writer.join(5)
            self._writer = None
        if self.snapshot is not None:
            try:
                self.save()
            except Exception as exc:
                log.warning("moto state could not be saved: %s", exc)
