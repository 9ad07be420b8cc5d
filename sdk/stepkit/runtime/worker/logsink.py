"""Log output as Lambda's Python runtime writes it (text format).

stdout and stderr flush on every write, so a crash loses nothing already printed; the
root logger gets Lambda's handler and format (``[LEVEL]\\t<time>Z\\t<request id>\\t<msg>``),
which is why ``logging.basicConfig`` in a handler does nothing, as in AWS.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, TextIO

_NBSP = "\u00a0"
_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"

current_request_id = ""


class Unbuffered:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.stream, attr)

    def write(self, msg: str) -> int:
        written = self.stream.write(msg)
        self.stream.flush()
        return written

    def writelines(self, msgs: Any) -> None:
        self.stream.writelines(msgs)
        self.stream.flush()


class StandardLogSink:
    def log(self, msg: str) -> None:
        sys.stdout.write(msg)

    def log_error(self, lines: list[str]) -> None:
        sys.stdout.write("\n".join(lines) + "\n")


class _Handler(logging.Handler):
    def __init__(self, sink: StandardLogSink) -> None:
        super().__init__()
        self.log_sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.log_sink.log(self.format(record))


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = current_request_id
        return True


def install(sink: StandardLogSink, level: str | None) -> None:
    sys.stdout = Unbuffered(sys.stdout)
    sys.stderr = Unbuffered(sys.stderr)
    logging.Formatter.converter = time.gmtime
    handler = _Handler(sink)
    handler.setFormatter(logging.Formatter(_FORMAT, "%Y-%m-%dT%H:%M:%S"))
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    if level and level.upper() in logging.getLevelNamesMapping():
        root.setLevel(level.upper())
    root.addHandler(handler)


def log_error(error: dict[str, Any], sink: StandardLogSink) -> None:
    """``[ERROR] Type: message`` then the traceback, indented with no-break spaces as AWS does."""
    description = "[ERROR]"
    if error.get("errorType"):
        description += " " + error["errorType"]
    if error.get("errorMessage"):
        if error.get("errorType"):
            description += ":"
        description += " " + error["errorMessage"]
    lines = [description]
    trace = error.get("stackTrace")
    if trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in trace:
            if element == "":
                lines.append("")
                continue
            for line in element.splitlines():
                stripped = line.lstrip(" ")
                lines.append(_NBSP * (len(line) - len(stripped)) + stripped)
    sink.log_error(lines)
