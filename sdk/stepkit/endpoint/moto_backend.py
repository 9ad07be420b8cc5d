"""Everything stepkit does not serve itself goes to moto, in this process.

moto's own server machinery does the work (``DomainDispatcherApplication`` with
``create_backend_app``: the same WSGI app ``moto_server`` runs). What stepkit adds:

- persistence. moto keeps its state in module-level ``BackendDict`` objects and has no
  persistence of its own (``moto_api`` can only reset them). Its models are plain Python
  objects, and moto already makes S3 keys picklable; so the state of every backend in use
  is pickled (locks and conditions are recreated empty) to ``moto.pickle`` under the state
  dir after requests that may change it (debounced, written atomically), and put back
  into the same ``BackendDict`` objects at start-up. A snapshot follows changes after a
  pause of 50 ms, or ten times the last snapshot's duration when the state is large, so
  a ``kill -9`` loses at most the changes of that last pause; buckets, queues, tables,
  rules and their contents survive.
- one lock: moto's models are not made for concurrent changes, so its requests run one at a
  time (they take a few milliseconds); snapshots are taken under the same lock, so they are
  consistent. SQS long polls are done here, between short receives, so none holds the lock.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import pickle
import threading
import time
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
_MAX_PAUSE_S = 1.0


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


_patched = False


def _answer_as_aws() -> None:
    """Where moto's answer differs from AWS's in a way stepkit's users see, make it AWS's.

    - GetBucketNotificationConfiguration: moto keeps a bucket's EventBridge setting (and the
      endpoint delivers its events) but leaves ``<EventBridgeConfiguration/>`` out of the
      answer, so a deployer could not read back what it set.
    """
    global _patched
    if _patched:
        return
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_notification

    def get_bucket_notification(self: Any) -> Any:
        status, headers, body = original(self)
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        text = body.decode() if isinstance(body, bytes) else body
        if config is None or config.event_bridge is None or "EventBridgeConfiguration" in text:
            return status, headers, body
        text = text.rstrip()
        if text.endswith("/>"):  # an otherwise empty <NotificationConfiguration .../>
            text = text[:-2] + "><EventBridgeConfiguration/></NotificationConfiguration>"
        else:
            text = text.replace("</NotificationConfiguration>",
                                "<EventBridgeConfiguration/></NotificationConfiguration>")
        return status, headers, text.encode() if isinstance(body, bytes) else text

    S3Response.get_bucket_notification = get_bucket_notification
    _patched = True


def _call(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    captured: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        captured[:] = [status, headers]

    body = b"".join(app(environ, start_response))
    return captured[0], captured[1], body


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
        _answer_as_aws()
        self.app = DomainDispatcherApplication(create_backend_app)
        self.snapshot = snapshot
        #: moto's models are not made for concurrent changes (two SQS receives can move the same
        #: message to a dead-letter queue, and one of them fails): one request at a time.
        self.lock = threading.RLock()
        self._debounce = debounce
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self._unsaved = False
        self.skipped: set[str] = set()

    # -- requests -------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("HTTP_X_AMZ_TARGET") == "AmazonSQS.ReceiveMessage":
            return self._receive(environ, start_response)
        with self.lock:
            # The whole response is built inside the lock: moto builds it eagerly anyway.
            body = b"".join(self.app(environ, start_response))
        if environ.get("REQUEST_METHOD", "GET") not in _READ_ONLY:
            self.mark_dirty()
        return [body]

    def _receive(self, environ: dict[str, Any], start_response: Any) -> Any:
        """SQS ReceiveMessage with long polling done here: moto's own long poll would hold the
        lock (and so every other request) for up to 20 s. Each try asks moto with
        ``WaitTimeSeconds=0``; between tries the lock is free."""
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        try:
            request = json.loads(raw or b"{}")
            wait = request.get("WaitTimeSeconds")
            if wait is None:
                wait = self._queue_wait_seconds(request.get("QueueUrl", ""))
            request["WaitTimeSeconds"] = 0
            body_bytes = json.dumps(request).encode()
        except (ValueError, AttributeError):  # let moto answer the malformed request
            wait, body_bytes = 0, raw
        deadline = time.monotonic() + float(wait or 0)
        while True:
            sub = dict(environ)
            sub["wsgi.input"] = io.BytesIO(body_bytes)
            sub["CONTENT_LENGTH"] = str(len(body_bytes))
            with self.lock:
                status, headers, body = _call(self.app, sub)
            self.mark_dirty()
            if time.monotonic() >= deadline or not status.startswith("200") or b'"Messages"' in body:
                start_response(status, headers)
                return [body]
            if self._stop.wait(min(0.1, max(deadline - time.monotonic(), 0))):
                start_response(status, headers)
                return [body]

    def _queue_wait_seconds(self, url: str) -> float:
        """A queue's ReceiveMessageWaitTimeSeconds (the default of its receives)."""
        try:
            from moto.sqs.models import sqs_backends

            parts = url.rstrip("/").split("/")
            account, name = parts[-2], parts[-1]
            with self.lock:
                for backend in sqs_backends[account].values():
                    if name in backend.queues:
                        return float(backend.queues[name].receive_message_wait_time_seconds or 0)
        except Exception:
            pass
        return 0.0

    @contextlib.contextmanager
    def direct(self) -> Iterator[None]:
        """Hold this while calling moto's models directly (not through a request)."""
        with self.lock:
            yield
        self.mark_dirty()

    def mark_dirty(self) -> None:
        if self.snapshot is not None:
            self._unsaved = True
            self._dirty.set()

    @property
    def persistence(self) -> str:
        """"saved" when the snapshot on disk holds every change, "pending" while one is due,
        "off" without a snapshot file."""
        if self.snapshot is None:
            return "off"
        return "pending" if self._unsaved else "saved"

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
        with self.lock:
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
            except RuntimeError:  # changed while pickled (should not happen under the lock): again
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
        pause = self._debounce
        while not self._stop.is_set():
            if not self._dirty.wait(0.5):
                continue
            # The pause grows with the cost of a snapshot (ten times its duration, at most a
            # second), so that saving a large state (big S3 objects) does not hold moto back.
            self._stop.wait(pause)
            self._dirty.clear()
            began = time.perf_counter()
            try:
                self._unsaved = False
                self.save()
            except Exception as exc:
                self._unsaved = True
                log.warning("moto state could not be saved: %s", exc)
            pause = min(max(self._debounce, 10 * (time.perf_counter() - began)), _MAX_PAUSE_S)

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
