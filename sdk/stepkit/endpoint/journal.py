"""An append-only, checksummed, fsync'd log of records, in numbered segment files.

Used by ``MotoBackend`` as its write-ahead log (see ``moto_backend`` for what is written).

Layout: ``DIR/<first seq, 20 digits>.log``, each a run of records
``<length u32><crc32 u32><seq u64><payload>`` (the crc covers seq and payload). Sequence
numbers grow by one across segments. ``rotate()`` starts a new segment (the old one is
fsync'd and closed by the next group commit, so rotating costs no fsync), so a snapshot that
covers everything up to the rotation point can delete whole older segments
(``drop_through``): the log never has to be rewritten.

Durability and group commit: ``append`` only ``write``s (no fsync) and returns the record's
seq; ``wait_durable(seq)`` returns once that record is on disk. The first waiter that finds no
fsync in progress becomes the leader, fsyncs everything written so far, and wakes every
waiter that fsync covered; waiters that arrive during an fsync wait for the next one, which
covers all of them. So N concurrent writers pay for about two fsyncs, not N.

Recovery: ``records()`` reads every segment in order and stops at the first torn or corrupt
record (a write cut short by ``kill -9`` or a power cut: it was never acknowledged, since
its fsync had not returned), and truncates the file there so later appends are readable.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

_HEADER = struct.Struct("<IIQ")
_SUFFIX = ".log"


def fsync_dir(path: Path) -> None:
    """Make a file's creation, rename or removal in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class JournalError(OSError):
    """The journal could not be written: the record is not durable."""


class Journal:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # appends and rotation
        self._cond = threading.Condition()  # group commit
        self._fd: int | None = None
        self._written = 0  # last seq handed to write()
        self._durable = 0  # last seq known to be on disk
        self._syncing = False
        self._failed: BaseException | None = None
        self.bytes_since_rotation = 0
        self.records_since_rotation = 0
        self._recovered = [0, 0]  # records and bytes read by ``records()``
        self._retired: list[int] = []  # segments rotated away from, not yet fsync'd and closed
        self._dir_dirty = False

    # -- recovery -----------------------------------------------------------------------------
    def segments(self) -> list[Path]:
        return sorted(p for p in self.directory.iterdir() if p.suffix == _SUFFIX and p.stem.isdigit())

    def records(self, after: int = 0) -> Iterator[tuple[int, bytes]]:
        """Every intact record with a seq above ``after``, in order (see the module docstring)."""
        self._recovered = [0, 0]
        for path in self.segments():
            data = path.read_bytes()
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, crc, seq = _HEADER.unpack_from(data, offset)
                end = offset + _HEADER.size + length
                if end > len(data) or zlib.crc32(data[offset + 8:end]) != crc:
                    break
                if seq > after:
                    self._recovered[0] += 1
                    self._recovered[1] += end - offset
                    yield seq, data[offset + _HEADER.size:end]
                self._written = max(self._written, seq)
                offset = end
            if offset < len(data):  # a torn tail: never acknowledged; cut it off
                with open(path, "r+b") as handle:
                    handle.truncate(offset)
                    os.fsync(handle.fileno())
                return

    def open(self, last_seq: int) -> None:
        """Start appending after ``last_seq`` (the highest seq recovered or snapshotted)."""
        with self._lock:
            self._written = self._durable = max(self._written, last_seq)
            self._start_segment()
            # what was replayed is still in the journal: it counts toward the next snapshot
            self.records_since_rotation, self.bytes_since_rotation = self._recovered

    def _start_segment(self) -> None:
        """A new segment file, named by the seq its first record will have; its directory
        entry is made durable by the next group commit (``_dir_dirty``), before any record in
        it is reported durable."""
        path = self.directory / f"{self._written + 1:020d}{_SUFFIX}"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._dir_dirty = True
        self.bytes_since_rotation = self.records_since_rotation = 0

    # -- writing ------------------------------------------------------------------------------
    @property
    def last_seq(self) -> int:
        return self._written

    @property
    def durable_seq(self) -> int:
        return self._durable

    @property
    def failed(self) -> BaseException | None:
        return self._failed

    def append(self, payload: bytes) -> int:
        """Write one record (not yet durable: see ``wait_durable``); returns its seq."""
        with self._lock:
            if self._fd is None:
                raise JournalError("the journal is not open")
            seq = self._written + 1
            body = struct.pack("<Q", seq) + payload
            record = struct.pack("<II", len(payload), zlib.crc32(body)) + body
            try:
                view = memoryview(record)
                while view:
                    view = view[os.write(self._fd, view):]
            except OSError as exc:
                self._failed = exc
                raise JournalError(f"the journal could not be written: {exc}") from exc
            self._written = seq
            self.bytes_since_rotation += len(record)
            self.records_since_rotation += 1
            return seq

    def wait_durable(self, seq: int) -> None:
        """Return once record ``seq`` is on disk (group commit: see the module docstring)."""
        with self._cond:
            while self._durable < seq:
                if self._failed is not None:
                    raise JournalError(f"the journal could not be written: {self._failed}")
                if self._syncing:
                    self._cond.wait()
                    continue
                self._syncing = True
                with self._lock:  # a consistent view: what is written, and in which files
                    target, fds, directory = self._written, [*self._retired, self._fd], self._dir_dirty
                    self._dir_dirty = False
                self._cond.release()
                try:
                    self._sync(fds, directory)
                except OSError as exc:
                    self._failed = exc
                finally:
                    self._cond.acquire()
                    self._syncing = False
                    if self._failed is None:
                        self._durable = max(self._durable, target)
                    self._cond.notify_all()

    def _sync(self, fds: list[int | None], directory: bool) -> None:
        """fsync the files (segments retired by ``rotate`` first, then closed) and the directory.
        Only the one syncing thread runs this, so a retired fd is closed by no one else."""
        for fd in fds:
            if fd is not None:
                os.fdatasync(fd)
        if directory:
            fsync_dir(self.directory)
        with self._lock:
            for fd in fds[:-1]:
                self._retired.remove(fd)  # type: ignore[arg-type]
                os.close(fd)  # type: ignore[arg-type]

    def rotate(self) -> int:
        """Start a new segment (the old one is fsync'd and closed by the next group commit);
        returns the last seq of the old one. Cheap: no fsync here."""
        with self._lock:
            if self._fd is not None:
                self._retired.append(self._fd)
            last = self._written
            self._start_segment()
            return last

    def drop_through(self, seq: int) -> int:
        """Delete the segments whose every record is at or below ``seq``; returns how many."""
        segments = self.segments()
        dropped = 0
        for path, following in itertools.pairwise(segments):
            if int(following.stem) - 1 <= seq:
                path.unlink(missing_ok=True)
                dropped += 1
        if dropped:
            fsync_dir(self.directory)
        return dropped

    def close(self) -> None:
        if self._fd is not None and self._failed is None:
            with contextlib.suppress(JournalError):
                self.wait_durable(self._written)
        with self._cond:  # the same lock order as a group commit's: the condition, then the lock
            while self._syncing:
                self._cond.wait()
            with self._lock:
                for fd in [*self._retired, self._fd]:
                    if fd is not None:
                        os.close(fd)
                self._retired.clear()
                self._fd = None
