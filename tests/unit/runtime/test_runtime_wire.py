"""Frames between the runtime and its workers, over a real pipe."""

import os
import threading

from stepkit.runtime.worker import wire


def test_frames_survive_a_pipe_in_order_and_in_pieces() -> None:
    read_fd, write_fd = os.pipe()
    big = b"x" * (3 << 20)  # larger than a pipe's buffer: written while being read

    def send() -> None:
        wire.write_frame(write_fd, {"id": "1"}, b'{"a": 1}')
        wire.write_frame(write_fd, {"id": "2"}, big)
        wire.write_frame(write_fd, {"t": "ready"})
        os.close(write_fd)

    sender = threading.Thread(target=send)
    sender.start()
    reader = wire.FrameReader(read_fd)
    assert reader.read_frame() == ({"id": "1"}, b'{"a": 1}')
    assert reader.read_frame() == ({"id": "2"}, big)
    assert reader.read_frame() == ({"t": "ready"}, b"")
    assert reader.read_frame() is None  # the writer closed its end
    sender.join()
    os.close(read_fd)


def test_next_frame_waits_for_a_whole_frame() -> None:
    read_fd, write_fd = os.pipe()
    frame = wire.encode({"t": "ok"}, b"body")
    reader = wire.FrameReader(read_fd)
    os.write(write_fd, frame[:5])
    assert reader.fill() and reader.next_frame() is None
    os.write(write_fd, frame[5:])
    assert reader.fill() and reader.next_frame() == ({"t": "ok"}, b"body")
    os.close(write_fd)
    assert reader.fill() is False
    os.close(read_fd)
