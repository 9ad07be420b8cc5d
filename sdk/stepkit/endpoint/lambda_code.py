"""Function code on disk: each distinct zip once, unpacked, within Lambda's limits, removed
once nothing uses it.

``<root>/zips/<sha256>.zip`` is the package as uploaded (GetFunction's ``Code.Location``
serves it) and ``<root>/code/<sha256>/`` the folder the runtime runs. Several functions
and published versions with the same code share them.

Lambda's limits, as AWS answers them:

- a zip uploaded in the request (``ZipFile``) larger than 50 MB: 413
  ``RequestEntityTooLargeException`` (AWS measures the request, whose base64 text of a
  50 MB zip is 69,905,067 bytes, and names that figure);
- code that unpacks to 250 MB (262,144,000 bytes) or more: ``InvalidParameterValueException``
  "Unzipped size must be smaller than 262144000 bytes". The bytes are counted as they are
  decompressed, never from the sizes the zip's headers declare, and nothing is written past
  the limit: a zip bomb stops at the limit and its partial folder is removed.
- an entry whose path leaves the folder (``../``, an absolute path) makes the zip unusable,
  as a corrupt one is: "Could not unzip uploaded file. ...".

Removal: the Lambda service calls :meth:`CodeStore.collect` after a change that may leave
code unused (an update, a deletion, a failed create). Code being stored by a request that has
not yet saved its record is *pending* and never collected (see :meth:`CodeStore.hold`).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import shutil
import stat
import threading
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from stepkit.endpoint.protocol import AwsError

#: The largest zip accepted in a request (``ZipFile``), and the request size AWS names.
ZIPPED_LIMIT = 50 * 1024 * 1024
REQUEST_LIMIT = 69_905_067
#: Unpacked code must be smaller than this.
UNZIPPED_LIMIT = 262_144_000
_CHUNK = 1 << 20
_UNZIP_ERROR = "Could not unzip uploaded file. Please check your file, then try to upload again."


class CodeObjectMissing(LookupError):
    """A code location in S3 that cannot be read: S3's error code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


@dataclass(frozen=True)
class StoredCode:
    sha256: str
    """base64 of the digest, as Lambda's ``CodeSha256``."""
    size: int
    """The zip's size, Lambda's ``CodeSize``."""
    folder: Path


def check_direct_upload(data: bytes, operation: str) -> None:
    """A ``ZipFile`` sent in the request is at most 50 MB (S3 locations are not bounded so)."""
    if len(data) > ZIPPED_LIMIT:
        raise AwsError("RequestEntityTooLargeException",
                       f"Request must be smaller than {REQUEST_LIMIT} bytes for the {operation} operation", 413)


class CodeStore:
    def __init__(self, root: Path, *, unzipped_limit: int = UNZIPPED_LIMIT) -> None:
        self.code = root / "code"
        self.zips = root / "zips"
        self.unzipped_limit = unzipped_limit
        self._lock = threading.Lock()
        self._pending: Counter[str] = Counter()
        self._sizes: dict[str, int] = {}

    def unzipped_size(self, folder: Path | str) -> int:
        """The bytes of the unpacked code in ``folder`` (one of this store's, named by its
        digest, so the answer never changes and is counted once)."""
        name = Path(folder).name
        with self._lock:
            known = self._sizes.get(name)
        if known is None:
            known = sum(path.stat().st_size for path in (self.code / name).rglob("*") if path.is_file())
            with self._lock:
                self._sizes[name] = known
        return known

    def zip_path(self, sha_hex: str) -> Path:
        return self.zips / f"{sha_hex}.zip"

    @contextlib.contextmanager
    def hold(self, data: bytes) -> Iterator[StoredCode]:
        """Store ``data`` (unpacked, checked) and keep it from being collected until the block
        ends: the caller saves the record that uses it inside the block."""
        digest = hashlib.sha256(data)
        sha_hex = digest.hexdigest()
        folder = self.code / sha_hex
        with self._lock:
            self._pending[sha_hex] += 1
        try:
            if not folder.is_dir():
                self._unpack(data, sha_hex)
            zip_path = self.zip_path(sha_hex)
            if not zip_path.exists():
                self.zips.mkdir(parents=True, exist_ok=True)
                partial = zip_path.with_name(f".{sha_hex}.{uuid.uuid4().hex}")
                partial.write_bytes(data)
                partial.replace(zip_path)
            yield StoredCode(base64.b64encode(digest.digest()).decode(), len(data), folder)
        finally:
            with self._lock:
                self._pending[sha_hex] -= 1
                if not self._pending[sha_hex]:
                    del self._pending[sha_hex]

    def collect(self, in_use: Callable[[], set[str]]) -> list[str]:
        """Remove the code (folder and zip) of every sha256 that ``in_use()`` does not name and
        no request holds, and what interrupted uploads left; returns the removed digests.

        ``in_use`` is called with this store's lock held, so a record saved meanwhile is either
        seen by it or still held."""
        with self._lock:
            used = in_use() | set(self._pending)
            doomed = []
            for path in self._entries():
                if path.name.startswith(".trash."):
                    continue  # another collect is removing it
                partial = path.name.startswith(".")
                owner = path.name[1:].split(".")[0] if partial else path.name.removesuffix(".zip")
                if owner not in (self._pending if partial else used):
                    doomed.append((owner, partial, path))
            trash = []
            for _, _, path in doomed:  # out of the way under the lock; removed after it
                moved = path.with_name(f".trash.{uuid.uuid4().hex}")
                with contextlib.suppress(FileNotFoundError):
                    path.rename(moved)
                    trash.append(moved)
        for path in trash:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        return sorted({owner for owner, partial, _ in doomed if not partial})

    def _entries(self) -> list[Path]:
        return [p for folder in (self.code, self.zips) if folder.is_dir() for p in folder.iterdir()]

    def _unpack(self, data: bytes, sha_hex: str) -> None:
        partial = self.code / f".{sha_hex}.{uuid.uuid4().hex}"
        partial.mkdir(parents=True)
        try:
            unzip(data, partial, self.unzipped_limit)
            try:
                partial.rename(self.code / sha_hex)
            except OSError:  # another request unpacked the same code meanwhile
                shutil.rmtree(partial, ignore_errors=True)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise


def unzip(data: bytes, target: Path, limit: int = UNZIPPED_LIMIT) -> int:
    """Unpack ``data`` into the empty folder ``target``; returns the bytes written.

    Refuses (``AwsError``, nothing written past ``limit``) code that unpacks to ``limit``
    bytes or more, and a zip that is corrupt or has an entry leaving ``target``."""
    total = 0
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                destination = _destination(target, info.filename)
                if info.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, open(destination, "wb") as out:
                    while chunk := source.read(_CHUNK):
                        total += len(chunk)
                        if total >= limit:
                            raise AwsError("InvalidParameterValueException",
                                           f"Unzipped size must be smaller than {limit} bytes")
                        out.write(chunk)
                if (info.external_attr >> 16) & 0o111:  # Lambda keeps a file's execute bits
                    os.chmod(destination, stat.S_IMODE(os.stat(destination).st_mode) | 0o111)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError, OSError, EOFError):
        raise AwsError("InvalidParameterValueException", _UNZIP_ERROR) from None
    return total


def _destination(target: Path, name: str) -> Path:
    """Where an entry goes; refuses a name that is absolute or climbs out of ``target``."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if not parts or parts[0] == "/" or ".." in parts:
        raise zipfile.BadZipFile(f"unsafe entry {name!r}")
    return target.joinpath(*parts)
