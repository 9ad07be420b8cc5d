"""The write-ahead journal of moto's state: records, torn tails, rotation, group commit; and
the request classification that decides what is journaled."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

from stepkit.endpoint import journal as journal_module
from stepkit.endpoint.journal import Journal
from stepkit.endpoint.moto_backend import _is_read, _read_body


def test_records_come_back_in_order_after_reopening(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.open(0)
    seqs = [journal.append(f"record {i}".encode()) for i in range(5)]
    journal.wait_durable(seqs[-1])
    journal.close()
    assert seqs == [1, 2, 3, 4, 5]
    again = Journal(tmp_path)
    assert list(again.records(after=2)) == [(3, b"record 2"), (4, b"record 3"), (5, b"record 4")]
    again.open(0)
    assert again.append(b"next") == 6  # numbering goes on after what was recovered


def test_a_torn_tail_is_cut_off_and_appends_after_it_are_readable(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.open(0)
    journal.append(b"kept")
    journal.append(b"torn")
    journal.close()
    segment = journal.segments()[-1]
    segment.write_bytes(segment.read_bytes()[:-2])  # a write cut short by kill -9
    again = Journal(tmp_path)
    assert list(again.records()) == [(1, b"kept")]
    again.open(0)
    assert again.append(b"after") == 2
    again.close()
    assert list(Journal(tmp_path).records()) == [(1, b"kept"), (2, b"after")]


def test_a_corrupt_record_ends_the_replay(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.open(0)
    for payload in (b"one", b"two", b"three"):
        journal.append(payload)
    journal.close()
    segment = journal.segments()[-1]
    data = bytearray(segment.read_bytes())
    data[data.index(b"two")] ^= 0xFF
    segment.write_bytes(bytes(data))
    assert list(Journal(tmp_path).records()) == [(1, b"one")]


def test_rotation_lets_a_snapshot_drop_what_it_covers(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.open(0)
    journal.append(b"a")
    journal.append(b"b")
    covered = journal.rotate()
    journal.wait_durable(journal.append(b"c"))  # fsyncs the retired segment too
    assert covered == 2 and journal.durable_seq == 3 and len(journal.segments()) == 2
    assert journal.drop_through(covered) == 1
    journal.close()
    assert list(Journal(tmp_path).records(after=covered)) == [(3, b"c")]


def test_concurrent_writers_share_an_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first waiter's fsync is held until every other writer has appended and is waiting:
    one more fsync must then cover all of them (group commit)."""
    journal = Journal(tmp_path)
    journal.open(0)
    real = os.fdatasync
    calls: list[int] = []
    first_started, release = threading.Event(), threading.Event()

    def fdatasync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 1:
            first_started.set()
            release.wait(30)
        real(fd)

    monkeypatch.setattr(journal_module.os, "fdatasync", fdatasync)
    leader = threading.Thread(target=lambda: journal.wait_durable(journal.append(b"leader")))
    leader.start()
    assert first_started.wait(30)
    followers = [threading.Thread(target=lambda i=i: journal.wait_durable(journal.append(f"f{i}".encode())))
                 for i in range(8)]
    for thread in followers:
        thread.start()
    while journal.last_seq < 9:  # every follower has appended
        threading.Event().wait(0.01)
    release.set()
    for thread in [leader, *followers]:
        thread.join(30)
    assert journal.durable_seq == 9
    assert len(calls) == 2
    journal.close()


def _environ(method: str, body: bytes = b"", **extra: str) -> dict[str, object]:
    return {"REQUEST_METHOD": method, "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), **extra}


@pytest.mark.parametrize(("environ", "read"), [
    (_environ("GET", PATH_INFO="/bucket/key"), True),
    (_environ("HEAD"), True),
    (_environ("PUT", b"body", PATH_INFO="/bucket/key"), False),
    (_environ("POST", b"{}", HTTP_X_AMZ_TARGET="AmazonSQS.GetQueueUrl"), True),
    (_environ("POST", b"{}", HTTP_X_AMZ_TARGET="DynamoDB_20120810.Query"), True),
    (_environ("POST", b"{}", HTTP_X_AMZ_TARGET="DynamoDB_20120810.PutItem"), False),
    (_environ("POST", b"{}", HTTP_X_AMZ_TARGET="AmazonSQS.ReceiveMessage"), False),
    (_environ("POST", b"{}", HTTP_X_AMZ_TARGET="AWSEvents.PutEvents"), False),
    (_environ("POST", b"Action=ListTopics&Version=2010-03-31",
              CONTENT_TYPE="application/x-www-form-urlencoded; charset=utf-8"), True),
    (_environ("POST", b"Action=Publish&Message=x", CONTENT_TYPE="application/x-www-form-urlencoded"), False),
    (_environ("POST", b"<Delete/>", PATH_INFO="/bucket", QUERY_STRING="delete"), False),
])
def test_what_is_journaled(environ: dict[str, object], read: bool) -> None:
    body = _read_body(environ)
    assert _is_read(environ, body) is read


def test_a_change_the_journal_cannot_keep_is_not_acknowledged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Disk full: the change is answered 503 ServiceUnavailable (not 200) and the health
    check's persistence says "failed"; reads are still answered."""
    import errno

    from moto.core.base_backend import BackendDict
    from werkzeug.test import EnvironBuilder

    from stepkit.endpoint.moto_backend import MotoBackend

    auth = "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"

    def request(method: str, path: str) -> tuple[str, bytes]:
        environ = EnvironBuilder(path=path, method=method, headers={"Authorization": auth}).get_environ()
        status: list[str] = []
        body = b"".join(backend(environ, lambda s, h, e=None: status.append(s)))
        return status[0], body

    BackendDict.reset()
    backend = MotoBackend(tmp_path / "moto.pickle")
    backend.restore()
    try:
        assert request("PUT", "/kept-bucket")[0].startswith("200")
        assert backend.persistence == "saved"

        def full(fd: int, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(journal_module.os, "write", full)
        status, body = request("PUT", "/lost-bucket")
        assert status.startswith("503") and b"<Code>ServiceUnavailable</Code>" in body
        assert backend.persistence == "failed"
        assert request("GET", "/")[0].startswith("200")
    finally:
        monkeypatch.undo()
        backend.close()
        BackendDict.reset()
