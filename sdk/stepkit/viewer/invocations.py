"""A Lambda function's recent invocations, read back from its CloudWatch Logs lines.

Each invocation's lines run from ``START RequestId: ID`` to its ``REPORT RequestId: ID``
line, which carries the duration, billed duration, memory size and use, init duration and
status (Lambda's own format, which the local runtime writes too: ``runtime.reports``).
Lines of concurrent invocations can interleave in one stream, so a line belongs to the
invocation whose request id it names, else to the latest one started in its stream. The local
endpoint's ``STEPKIT_AWS_CALLS`` line after a REPORT (the AWS requests the invocation's code
sent, for ``stepkit cost``: ``stepkit.runtime.calls``) is not one of its lines.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from stepkit.runtime.calls import CALLS_PREFIX

_START = re.compile(r"^START RequestId: (?P<id>[\w-]+)")
_END = re.compile(r"^END RequestId: (?P<id>[\w-]+)")
_REPORT = re.compile(r"^REPORT RequestId: (?P<id>[\w-]+)")
_FIELDS = {"Duration": "durationMs", "Billed Duration": "billedMs", "Memory Size": "memoryMB",
           "Max Memory Used": "maxMemoryMB", "Init Duration": "initMs", "Status": "status", "Error Type": "errorType"}


@dataclass
class Invocation:
    requestId: str
    started: float  # epoch seconds
    lines: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _report(line: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in line.split("\t")[1:]:
        key, _, value = part.partition(": ")
        name = _FIELDS.get(key.strip())
        if name is None:
            continue
        number = value.split(" ")[0]
        try:
            out[name] = float(number) if name.endswith(("Ms", "MB")) else value.strip()
        except ValueError:
            out[name] = value.strip()
    return out


def _order(event: dict[str, Any]) -> tuple[int, int, str]:
    """Time, then the order written: event ids are digits (AWS's of one length, moto's counted
    from 0, so "10" comes after "9" by length first)."""
    event_id = str(event.get("eventId", ""))
    return event.get("timestamp", 0), len(event_id), event_id


def invocations(events: list[dict[str, Any]], limit: int = 100) -> list[Invocation]:
    """The last ``limit`` invocations in ``events`` (FilterLogEvents' shape: ``timestamp`` in
    ms, ``message``, ``logStreamName``), newest first."""
    found: dict[str, Invocation] = {}
    latest: dict[str, str] = {}  # stream -> request id started last there
    for event in sorted(events, key=_order):
        message = str(event.get("message", "")).rstrip("\n")
        if message.startswith(CALLS_PREFIX):
            continue
        stream = str(event.get("logStreamName", ""))
        start = _START.match(message)
        if start:
            found[start["id"]] = Invocation(start["id"], event.get("timestamp", 0) / 1000)
            latest[stream] = start["id"]
        request = start or _END.match(message) or _REPORT.match(message)
        owner = request["id"] if request else next((r for r in found if r in message), latest.get(stream))
        if owner is None or owner not in found:
            continue
        invocation = found[owner]
        invocation.lines.append(message)
        if message.startswith("REPORT "):
            invocation.report = _report(message)
    return list(reversed(list(found.values())[-limit:]))
