"""The AWS API requests a function's code sends through botocore, counted per invocation so
that ``stepkit cost`` can price the S3 and SQS requests the functions make themselves.

How: a finder on ``sys.meta_path`` waits for ``botocore.handlers`` to be imported (by the
function's boto3, whichever copy wins on its path) and appends two handlers to its
``BUILTIN_HANDLERS``, the list every botocore session registers when it is created. Sessions
made while the handler module is imported (``boto3.client("s3")`` at module level) get them
too; a function that never imports botocore pays nothing.

- ``before-parameter-build``: notes in the call's context what one request of it bills: SQS
  bills a request per 64 KB chunk of its payload ("an API action with a 256 KB payload is
  billed as 4 requests", SQS's pricing page), for a ``SendMessage``/``SendMessageBatch`` the
  messages it sends (bodies and attributes), and every action on a FIFO queue at FIFO prices.
- ``response-received``: emitted once per HTTP attempt, retries included. Every attempt that
  got an HTTP answer is counted (AWS bills a throttled or failed request as it bills any
  other); one that got none (the connection failed) is not. A ``ReceiveMessage``'s payload
  is the messages it answers with, so its chunks are counted here. A call a ``Stubber``
  answers never reaches the network and is not counted.

The counts since the last :func:`take` belong to the invocation running; calls made during
the INIT phase go to the first invocation, as Lambda bills INIT with it. Standard library
only (see the package's docstring).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import math
import sys
import threading
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

SQS_CHUNK_BYTES = 65_536
"""SQS bills each 64 KB chunk of a request's payload as one request."""
_CONTEXT_KEY = "stepkit_billing"
_SQS_SENDS = ("SendMessage", "SendMessageBatch")

_lock = threading.Lock()
_counts: dict[tuple[str, str, bool | None], list[int]] = {}
"""(service, operation, FIFO queue or None) -> [HTTP requests sent, billed request units]."""


def message_bytes(message: Mapping[str, Any], body_key: str = "MessageBody") -> int:
    """One SQS message's payload: its body and its (system) attributes' names, types and values
    (``body_key``: ``Body`` in a received message)."""
    size = _value_bytes(message.get(body_key))
    for key in ("MessageAttributes", "MessageSystemAttributes"):
        attributes = message.get(key)
        for name, value in (attributes.items() if isinstance(attributes, Mapping) else ()):
            size += _value_bytes(name)
            if isinstance(value, Mapping):
                size += _value_bytes(value.get("DataType"))
                size += _value_bytes(value.get("StringValue")) + _value_bytes(value.get("BinaryValue"))
    return size


def _value_bytes(value: Any) -> int:
    """Its size in bytes (UTF-8 for text)."""
    if value is None:
        return 0
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    text = str(value)
    return len(text) if text.isascii() else len(text.encode())


def billed_units(service: str, operation: str, params: Mapping[str, Any]) -> tuple[int, bool | None]:
    """What one request of this call bills: (request units, FIFO queue or None outside SQS)."""
    if service != "sqs":
        return 1, None
    queue = str(params.get("QueueUrl") or params.get("QueueName") or "")
    fifo = queue.endswith(".fifo")
    if operation not in _SQS_SENDS:
        return 1, fifo
    if operation == "SendMessage":
        size = message_bytes(params)
    else:
        entries = params.get("Entries")
        size = sum(message_bytes(e) for e in entries if isinstance(e, Mapping)) if isinstance(entries, Sequence) else 0
    return max(1, math.ceil(size / SQS_CHUNK_BYTES)), fifo


def _split(event_name: str) -> tuple[str, str]:
    _, service, operation = [*event_name.split(".", 2), "", ""][:3]
    return service, operation


def _on_parameters(params: Any, context: Any, event_name: str = "", **_: Any) -> None:
    if isinstance(context, dict) and isinstance(params, Mapping):
        try:
            context[_CONTEXT_KEY] = billed_units(*_split(event_name), params)
        except Exception:  # never fail the function's call for a count
            context[_CONTEXT_KEY] = (1, None)


def _on_response(response_dict: Any = None, parsed_response: Any = None, context: Any = None,
                 event_name: str = "", **_: Any) -> None:
    if response_dict is None:  # no HTTP answer: the request may never have left
        return
    units, fifo = (context or {}).get(_CONTEXT_KEY, (1, None)) if isinstance(context, dict) else (1, None)
    service, operation = _split(event_name)
    if (service, operation) == ("sqs", "ReceiveMessage") and isinstance(parsed_response, Mapping):
        units = received_units(parsed_response)
    count(service, operation, units, fifo)


def received_units(answer: Mapping[str, Any]) -> int:
    """A ``ReceiveMessage`` answer's 64 KB chunks (one for an empty receive)."""
    messages = answer.get("Messages")
    size = sum(message_bytes(m, "Body") for m in messages if isinstance(m, Mapping)) if isinstance(
        messages, Sequence) else 0
    return max(1, math.ceil(size / SQS_CHUNK_BYTES))


def count(service: str, operation: str, units: int = 1, fifo: bool | None = None) -> None:
    """One HTTP request sent."""
    with _lock:
        entry = _counts.setdefault((service, operation, fifo), [0, 0])
        entry[0] += 1
        entry[1] += units


def take() -> list[dict[str, Any]]:
    """The requests counted since the last call, as the wire carries them; the count restarts."""
    with _lock:
        items = sorted(_counts.items(), key=lambda item: (item[0][0], item[0][1], str(item[0][2])))
        _counts.clear()
    calls = []
    for (service, operation, fifo), (requests, units) in items:
        call: dict[str, Any] = {"service": service, "operation": operation, "requests": requests, "units": units}
        if fifo is not None:
            call["fifo"] = fifo
        calls.append(call)
    return calls


HANDLERS = [("before-parameter-build", _on_parameters), ("response-received", _on_response)]


def add_handlers(handlers_module: ModuleType) -> None:
    builtin = getattr(handlers_module, "BUILTIN_HANDLERS", None)
    if isinstance(builtin, list) and not any(spec in builtin for spec in HANDLERS):
        builtin.extend(HANDLERS)


class _Loader(importlib.abc.Loader):
    """``botocore.handlers``' own loader, then our handlers appended to its list."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.inner.exec_module(module)
        add_handlers(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename... for tracebacks
        return getattr(self.inner, name)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != "botocore.handlers":
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _Loader(spec.loader)
                return spec
        return None


def install() -> None:
    """Count the requests of every botocore session made from now on."""
    if "botocore.handlers" in sys.modules:
        add_handlers(sys.modules["botocore.handlers"])
    elif not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
