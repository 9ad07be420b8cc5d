"""Everything stepkit does not serve itself goes to moto, in this process, durably.

moto's own server machinery does the work (``DomainDispatcherApplication`` with
``create_backend_app``: the same WSGI app ``moto_server`` runs). moto keeps its state in
module-level ``BackendDict`` objects and has no persistence of its own. What stepkit adds:

Guarantee: a change is durable before it is acknowledged. Every request that may change
moto's state is written to a write-ahead journal (``journal.py``) and fsync'd before its
answer is sent; after a ``kill -9`` (or a power cut) the state is the last snapshot with the
journal replayed over it, so every acknowledged S3 object, SQS message, queue, bucket, rule,
table item and log line is back, with the same ids, version ids, receipt handles and
timestamps. A read waits until the writes it may have seen are durable, so no client ever
sees a change that a crash could take back.

- What is journaled: the request as moto's WSGI app got it (every string of the WSGI environ:
  method, path, query, headers, host; and the body), the seed of moto's random source and
  the request's wall-clock time (``moto_clock``: replay draws the same ids and reads the same
  clock), for every request but reads: GET/HEAD/OPTIONS and the operations named
  Get*/List*/Describe*/... (``_READ_OPERATIONS``). Requests answered with an error are
  journaled too (replaying them changes nothing, as the first time). Changes stepkit makes
  by calling moto's models (CloudWatch Logs lines of Lambda functions) go through ``call``,
  a named, journaled operation (``_CALLS``), never around the journal.
- SQS ReceiveMessage changes state (receive counts, visibility, receipt handles, moves to a
  dead-letter queue): a receive that returned messages, or changed a queue's length, is
  journaled and made durable before its messages are handed out; an empty receive is not
  (it changed nothing). Long polls are done here, between short receives, so none holds
  the lock.
- Order: moto runs one request at a time under ``lock`` (its models are not made for
  concurrent changes), and the record is appended inside the lock, so the journal's order
  is the order the changes were made. The fsync happens outside the lock with group
  commit: concurrent writers share one fsync.
- Snapshots (``moto_snapshot.py``) compact the journal: on a consistent cut (the lock held
  only for the ``fork``, a few milliseconds) a forked child pickles the models
  while the parent goes on serving; the snapshot records the last journal seq it covers;
  once it is in place the journal segments it covers are deleted. S3 bodies from 16 KB on
  are content-addressed files in ``moto-blobs/``, written once, not re-pickled; in the
  running process they are in temporary files too, so a fork stays cheap. A snapshot
  is taken once the changes since the last one took ``snapshot_replay_s`` seconds to make
  (4 s: replaying a record costs about what the request did, so this bounds the replay at
  start), or after ``snapshot_records`` records (1000; ``STEPKIT_MOTO_SNAPSHOT_RECORDS``) or
  ``snapshot_bytes`` bytes of journal, after ``snapshot_age`` seconds with unsnapshotted
  records, and on a clean stop (in-process); never within ``snapshot_interval`` (5 s) of the
  last one: each fork costs the parent copy-on-write page faults for a while after it (the
  hidden cost of fork snapshots, larger than the pause on a virtual machine).
- Replay at start (``restore``) runs before the endpoint serves, with stepkit's moto hooks
  installed (so an S3 or EventBridge event reaches SQS exactly as it did) but Lambda and
  state machine deliveries dropped: those went to the store's outbox the first time.

What a later engineer must know:
- Replay is exact only while moto is deterministic given the seed and clock: a moto upgrade
  that reads ``uuid.uuid4()``, ``os.urandom`` or ``datetime.now()`` somewhere new breaks it
  (``moto_clock._STRAYS``; ``tests/functional/endpoint/test_endpoint_moto_journal.py``
  compares every model field after a replay and catches it for the operations it covers).
- Operations named like reads are not journaled: a side effect moto gives one (Secrets
  Manager's GetSecretValue sets LastAccessedDate) is kept by the next snapshot only.
- Code that changes moto's models outside a request must add a ``_CALLS`` entry and use
  ``call``; ``direct()`` is for reads (a change made under it is only saved by the next
  snapshot, which it requests, and is lost on a crash before that).
- The journal holds pickles: the state dir is trusted, like the snapshot always was.
- Two endpoints in one process share moto's state (it is process-wide); only one of them
  should persist it.
- ``persistence`` (the health check): "saved" when everything acknowledged is on disk,
  "pending" while an fsync is under way, "failed" when the journal cannot be written (then
  changes are answered 503 ServiceUnavailable; moto has already made the change in memory,
  so it stays visible until a restart, which loses it), "off" without a state dir.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import pickle
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from stepkit.endpoint import moto_clock, moto_snapshot
from stepkit.endpoint.journal import Journal, JournalError, fsync_dir
from stepkit.endpoint.moto_clock import deterministic

log = logging.getLogger(__name__)

_READ_ONLY = {"GET", "HEAD", "OPTIONS"}
_READ_OPERATIONS = re.compile(r"(Get|List|Describe|Query$|Scan$|BatchGet|Filter|Search|Lookup|TestEventPattern)")
_RECEIVE = "AmazonSQS.ReceiveMessage"
_RETRY_S = 30.0


def _put_log_events(account: str, region: str, group: str, stream: str, events: list[dict[str, Any]]) -> None:
    from moto.logs.models import logs_backends

    backend = logs_backends[account][region]
    backend.ensure_log_group(group)
    backend.ensure_log_stream(group, stream)
    backend.put_log_events(group, stream, events)


def _delete_schedule(account: str, region: str, group: str, name: str) -> None:
    from moto.scheduler.models import scheduler_backends

    scheduler_backends[account][region].delete_schedule(group, name)


#: The changes stepkit makes by calling moto's models: journaled by name and arguments.
_CALLS: dict[str, Callable[..., None]] = {"logs.put_log_events": _put_log_events,
                                          "scheduler.delete_schedule": _delete_schedule}

_patched = False


def _answer_as_aws() -> None:
    """Where moto's answer differs from AWS's in a way stepkit's users see, make it AWS's.

    - GetBucketNotificationConfiguration: moto keeps a bucket's EventBridge setting (and the
      endpoint delivers its events) but leaves ``<EventBridgeConfiguration/>`` out of the
      answer, so a deployer could not read back what it set.
    - UpdateTable enabling a stream: moto refuses it once the table has ever had a stream;
      AWS refuses it only while one is enabled (disable, then enable: a new stream label).
    """
    global _patched
    if _patched:
        return
    _enable_stream_again()
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


def _enable_stream_again() -> None:
    from moto.dynamodb.exceptions import StreamAlreadyEnabledException
    from moto.dynamodb.models import DynamoDBBackend

    def update_table_streams(self: Any, table: Any, stream_specification: dict[str, Any]) -> None:
        enabling = stream_specification.get("StreamEnabled") or stream_specification.get("StreamViewType")
        if enabling and (table.stream_specification or {}).get("StreamEnabled"):
            raise StreamAlreadyEnabledException
        table.set_stream_specification(stream_specification)

    DynamoDBBackend.update_table_streams = update_table_streams


def _call(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    captured: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        captured[:] = [status, headers]

    body = b"".join(app(environ, start_response))
    return captured[0], captured[1], body


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if environ.get("wsgi.input_terminated"):
        return cast(bytes, stream.read())
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return cast(bytes, stream.read(length)) if length > 0 else b""


def _operation(environ: dict[str, Any], body: bytes) -> str:
    """The AWS operation of a JSON (``X-Amz-Target``) or query (``Action=``) request, or ""."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return str(target).rpartition(".")[2]
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" not in query and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        query = parse_qs(body.decode("utf-8", "replace"))
    return (query.get("Action") or [""])[0]


def _is_read(environ: dict[str, Any], body: bytes) -> bool:
    if environ.get("REQUEST_METHOD", "GET") in _READ_ONLY:
        return True
    operation = _operation(environ, body)
    return bool(operation) and operation != "ReceiveMessage" and _READ_OPERATIONS.match(operation) is not None


def _sqs_lengths() -> tuple[int, ...]:
    """Every queue's length: an empty receive that changed one (a message moved to a
    dead-letter queue or past its retention) must be journaled."""
    import sys

    if "moto.sqs.models" not in sys.modules:
        return ()
    from moto.sqs.models import sqs_backends

    return tuple(len(queue._messages) for _, regions in sqs_backends.items() for _, backend in regions.items()
                 for queue in backend.queues.values())


def _unavailable(environ: dict[str, Any], start_response: Any, exc: BaseException) -> list[bytes]:
    message = f"the change could not be made durable: {exc}"
    if environ.get("HTTP_X_AMZ_TARGET"):
        body = json.dumps({"__type": "ServiceUnavailable", "message": message}).encode()
        content_type = "application/x-amz-json-1.0"
    else:
        body = (f"<Error><Code>ServiceUnavailable</Code><Message>{message}</Message></Error>").encode()
        content_type = "application/xml"
    start_response("503 Service Unavailable", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


class _ReplaySink:
    """Deliveries during replay: dropped (they reached the store's outbox the first time)."""

    def submit(self, *args: Any, **kwargs: Any) -> None:
        return None


class MotoBackend:
    """moto's WSGI app, with its state journaled and snapshotted at ``snapshot`` (None: not
    persisted). See the module docstring."""

    def __init__(self, snapshot: Path | None = None, *, snapshot_records: int | None = None,
                 snapshot_bytes: int = 64 * 1024 * 1024, snapshot_age: float = 60.0,
                 snapshot_replay_s: float = 4.0, snapshot_interval: float = 5.0) -> None:
        _answer_as_aws()
        self.app = DomainDispatcherApplication(create_backend_app)
        self.snapshot = snapshot
        self.lock = threading.RLock()
        if snapshot is not None:
            moto_snapshot.keep_bodies_in_files()
        self.journal = Journal(snapshot.parent / "moto-journal") if snapshot is not None else None
        self.blobs = snapshot.parent / "moto-blobs" if snapshot is not None else None
        #: Bounds the replay at start (about a millisecond a record); the setting is for tests.
        self.snapshot_records = snapshot_records or int(os.environ.get("STEPKIT_MOTO_SNAPSHOT_RECORDS", "1000"))
        self.snapshot_bytes = snapshot_bytes
        self.snapshot_replay_s = snapshot_replay_s
        self.snapshot_interval = snapshot_interval
        self.snapshot_age = snapshot_age
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self._unjournaled = False
        self._last_snapshot = time.monotonic()
        self._retry_at = 0.0
        self._replay_cost = 0.0  # seconds the changes since the last snapshot took to make
        self._snapshotting = threading.Lock()
        self.replayed = 0
        #: How long each snapshot held the lock (the fork), in seconds: the request pause.
        self.pauses: list[float] = []

    # -- requests -------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("HTTP_X_AMZ_TARGET") == _RECEIVE:
            return self._receive(environ, start_response)
        if self.journal is None and environ.get("REQUEST_METHOD", "GET") in _READ_ONLY:
            with self.lock:
                return [b"".join(self.app(environ, start_response))]
        raw = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(raw)
        if self.journal is None:
            with self.lock:
                return [b"".join(self.app(environ, start_response))]
        if _is_read(environ, raw):
            with self.lock:
                body = b"".join(self.app(environ, start_response))
                seen = self.journal.last_seq
            self._wait_durable(seen)
            return [body]
        record = {k: v for k, v in environ.items() if isinstance(v, str)}
        try:
            with self.lock:
                seed, at, began = secrets.randbits(63), time.time(), time.perf_counter()
                try:
                    with deterministic(seed, at):
                        status, headers, body = _call(self.app, environ)
                finally:  # even when moto raised: what it changed first, a replay changes again
                    seq = self._append(("request", seed, at, record, raw), time.perf_counter() - began)
            self.journal.wait_durable(seq)
        except JournalError as exc:
            return _unavailable(environ, start_response, exc)
        start_response(status, headers)
        return [body]

    def _receive(self, environ: dict[str, Any], start_response: Any) -> Any:
        """SQS ReceiveMessage with long polling done here: moto's own long poll would hold the
        lock (and so every other request) for up to 20 s. Each try asks moto with
        ``WaitTimeSeconds=0``; between tries the lock is free."""
        raw = _read_body(environ)
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
            try:
                status, headers, body = self._receive_once(sub, body_bytes)
            except JournalError as exc:
                return _unavailable(environ, start_response, exc)
            if time.monotonic() >= deadline or not status.startswith("200") or b'"Messages"' in body:
                break
            if self._stop.wait(min(0.1, max(deadline - time.monotonic(), 0))):
                break
        start_response(status, headers)
        return [body]

    def _receive_once(self, environ: dict[str, Any], raw: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
        with self.lock:
            seed, at, began = secrets.randbits(63), time.time(), time.perf_counter()
            before = _sqs_lengths() if self.journal is not None else ()
            with deterministic(seed, at):
                status, headers, body = _call(self.app, environ)
            if self.journal is None:
                return status, headers, body
            seq = self.journal.last_seq
            if b'"Messages"' in body or _sqs_lengths() != before:
                record = {k: v for k, v in environ.items() if isinstance(v, str)}
                seq = self._append(("request", seed, at, record, raw), time.perf_counter() - began)
        self.journal.wait_durable(seq)
        return status, headers, body

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

    def call(self, name: str, *args: Any) -> None:
        """Change moto's models outside a request, durably: ``_CALLS[name](*args)``, journaled
        and fsync'd before this returns (raises ``JournalError`` when it cannot be)."""
        operation = _CALLS[name]
        with self.lock:
            seed, at, began = secrets.randbits(63), time.time(), time.perf_counter()
            with deterministic(seed, at):
                operation(*args)
            cost = time.perf_counter() - began
            seq = self._append(("call", seed, at, name, args), cost) if self.journal is not None else 0
        if self.journal is not None:
            self.journal.wait_durable(seq)

    @contextlib.contextmanager
    def direct(self) -> Iterator[None]:
        """Hold this while reading moto's models directly (changes belong in ``call``; one made
        here is saved only by the snapshot this requests)."""
        with self.lock:
            yield
        if self.journal is not None:
            self._unjournaled = True
            self._wake.set()

    def _append(self, entry: tuple[Any, ...], cost: float) -> int:
        """Journal a change that took ``cost`` seconds (about what replaying it will take)."""
        assert self.journal is not None
        seq = self.journal.append(pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL))
        self._replay_cost += cost
        if self._journal_full():
            self._wake.set()
        return seq

    def _journal_full(self) -> bool:
        assert self.journal is not None
        return (self.journal.records_since_rotation >= self.snapshot_records
                or self.journal.bytes_since_rotation >= self.snapshot_bytes
                or self._replay_cost >= self.snapshot_replay_s)

    def _wait_durable(self, seq: int) -> None:
        if self.journal is not None:
            with contextlib.suppress(JournalError):  # a read is answered either way
                self.journal.wait_durable(seq)

    @property
    def persistence(self) -> str:
        """See the module docstring."""
        if self.journal is None:
            return "off"
        if self.journal.failed is not None:
            return "failed"
        return "saved" if self.journal.durable_seq >= self.journal.last_seq else "pending"

    # -- restore and replay ---------------------------------------------------------------
    def restore(self, account: str = "123456789012") -> int:
        """Put the saved state back: the snapshot, then the journal replayed over it. Returns
        how many backends the snapshot brought back (``replayed``: how many records)."""
        if self.snapshot is None or self.journal is None or self.blobs is None:
            return 0
        for stale in self.snapshot.parent.glob(self.snapshot.name + ".*"):
            stale.unlink(missing_ok=True)  # a snapshot cut short by a kill
        moto_clock.use_signing_key(self.snapshot.parent / "moto-sns-key.pem")
        covered, restored = 0, 0
        if self.snapshot.exists():
            try:
                covered, restored, warnings = moto_snapshot.read_snapshot(self.snapshot, self.blobs)
            except Exception as exc:
                log.warning("moto state in %s could not be read (%s); replaying the journal alone",
                            self.snapshot, exc)
                warnings = []
            for warning in warnings:
                log.warning("%s", warning)
        began = time.perf_counter()
        self.replayed = self._replay(covered, account)
        self._replay_cost = time.perf_counter() - began
        self.journal.open(covered)
        return restored

    def _replay(self, covered: int, account: str) -> int:
        from stepkit.endpoint.events import Deliveries, install_moto_hooks, uninstall_moto_hooks

        assert self.journal is not None
        sink = cast(Deliveries, _ReplaySink())
        install_moto_hooks(sink, account)
        replayed, failed = 0, 0
        try:
            for seq, payload in self.journal.records(after=covered):
                try:
                    self._apply(pickle.loads(payload))
                except Exception as exc:  # moto raised the first time too (its answer was a 500)
                    log.debug("journal record %d raised on replay: %r", seq, exc)
                    failed += 1
                replayed += 1
        finally:
            uninstall_moto_hooks(sink)
        if failed:
            log.warning("%d of %d moto journal records raised on replay", failed, replayed)
        return replayed

    def _apply(self, entry: tuple[Any, ...]) -> None:
        kind, seed, at = entry[0], entry[1], entry[2]
        with self.lock, deterministic(seed, at):
            if kind == "call":
                _CALLS[entry[3]](*entry[4])
                return
            environ: dict[str, Any] = dict(entry[3])
            environ["wsgi.input"] = io.BytesIO(entry[4])
            environ["wsgi.errors"] = io.StringIO()
            environ["wsgi.input_terminated"] = True  # the whole body is there (chunked or not)
            _call(self.app, environ)

    # -- snapshots ------------------------------------------------------------------------
    def start_writer(self) -> None:
        if self.journal is None or self._writer is not None:
            return
        self._writer = threading.Thread(target=self._snapshot_loop, name="moto-snapshot", daemon=True)
        self._writer.start()

    def _snapshot_due(self) -> bool:
        assert self.journal is not None
        if time.monotonic() < max(self._retry_at, self._last_snapshot + self.snapshot_interval):
            return False
        if self._journal_full() or self._unjournaled:
            return True
        return self.journal.records_since_rotation > 0 and time.monotonic() - self._last_snapshot >= self.snapshot_age

    def _snapshot_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            if self._stop.is_set() or not self._snapshot_due():
                continue
            if self._unjournaled:
                self._stop.wait(0.05)  # let a burst of direct() changes end first
            try:
                self.take_snapshot()
            except Exception as exc:  # the journal keeps everything; try again a while later
                log.warning("moto state could not be snapshotted (the journal keeps it): %s", exc)
                self._retry_at = time.monotonic() + _RETRY_S

    def take_snapshot(self, in_process: bool = False) -> None:
        """Snapshot on a consistent cut, then drop the journal it covers (module docstring).
        ``in_process``: pickle here, under the lock (at close, or where there is no fork)."""
        with self._snapshotting:  # one at a time (the writer thread, a caller, close)
            self._take_snapshot(in_process)

    def _take_snapshot(self, in_process: bool) -> None:
        assert self.snapshot is not None and self.journal is not None and self.blobs is not None
        tmp = self.snapshot.with_name(self.snapshot.name + ".tmp")
        error = Path(str(tmp) + ".err")
        fork = hasattr(os, "fork") and not in_process
        self.journal.rotate()  # the segments before this point will be covered: dropped after
        with self.lock:
            began = time.perf_counter()
            covered = self.journal.last_seq
            self._unjournaled = False
            self._replay_cost = 0.0
            if fork:
                pid = moto_snapshot.fork_snapshot(tmp, covered, self.blobs)
            else:
                refs = moto_snapshot.write_snapshot(tmp, covered, self.blobs)
            pause = time.perf_counter() - began
            self.pauses.append(pause)
        self._last_snapshot = time.monotonic()
        if fork:
            _, status = os.waitpid(pid, 0)
            if status != 0:
                reason = error.read_text() if error.exists() else f"exit status {status}"
                error.unlink(missing_ok=True)
                tmp.unlink(missing_ok=True)
                raise RuntimeError(f"the snapshot child failed: {reason}")
            refs = pickle.loads(tmp.read_bytes())["blobs"]
        os.replace(tmp, self.snapshot)
        fsync_dir(self.snapshot.parent)
        self.journal.drop_through(covered)
        moto_snapshot.collect_blobs(self.blobs, refs)
        log.debug("moto snapshot through record %d: requests paused %.2f ms, written in %.2f s",
                  covered, pause * 1000, time.perf_counter() - began)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._writer is not None:
            self._writer.join(60)
            self._writer = None
        if self.journal is None:
            return
        try:
            if self.journal.records_since_rotation or self._unjournaled:
                self.take_snapshot(in_process=True)
        except Exception as exc:
            log.warning("moto state could not be snapshotted (the journal keeps it): %s", exc)
        self.journal.close()
