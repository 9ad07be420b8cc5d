"""Frames between the runtime and a worker: ``!II`` (header length, body length), a small
JSON header, then the body bytes untouched (the event or the result, already JSON).

Keeping the body out of the header means a payload is never encoded twice.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

PREFIX = struct.Struct("!II")
_CHUNK = 1 << 16  # a pipe holds 64 KiB; a larger read would only allocate more

Frame = tuple[dict[str, Any], bytes]


def encode(header: dict[str, Any], body: bytes = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    return PREFIX.pack(len(head), len(body)) + head + body


def write_frame(fd: int, header: dict[str, Any], body: bytes = b"") -> None:
    """Write one whole frame (``BrokenPipeError`` if the other side is gone)."""
    view = memoryview(encode(header, body))
    while view:
        written = os.write(fd, view)
        view = view[written:]


class FrameReader:
    """Reassembles frames from a pipe; :meth:`fill` reads once, so a caller can ``poll`` first."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = bytearray()

    def next_frame(self) -> Frame | None:
        """A complete buffered frame, or ``None`` if more bytes are needed."""
        buffer = self._buffer
        if len(buffer) < PREFIX.size:
            return None
        head_len, body_len = PREFIX.unpack_from(buffer)
        end = PREFIX.size + head_len + body_len
        if len(buffer) < end:
            return None
        header = json.loads(bytes(buffer[PREFIX.size : PREFIX.size + head_len]))
        body = bytes(buffer[PREFIX.size + head_len : end])
        del buffer[:end]
        return header, body

    def fill(self) -> bool:
        """Read what is available (blocking if nothing is); ``False`` at end of file."""
        data = os.read(self.fd, _CHUNK)
        if not data:
            return False
        self._buffer += data
        return True

    def read_frame(self) -> Frame | None:
        """Block until a frame arrives; ``None`` if the pipe closes first."""
        while True:
            frame = self.next_frame()
            if frame is not None:
                return frame
            if not self.fill():
                return None
