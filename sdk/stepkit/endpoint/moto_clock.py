"""Deterministic moto: a request run again with the same seed and clock makes the same state.

The journal replays requests through moto after a crash; for the replayed state to be the
one clients saw, everything moto draws at random or reads from the clock must come out the
same. moto takes almost all of it from two places, and both are fixed per request here:

- ``moto.moto_api._internal.mock_random`` (a ``random.Random``): SQS message ids and receipt
  handles, S3 version ids, request ids, generated names. It is seeded with a number drawn
  per request and written to the journal.
- ``moto.core.utils.utcnow`` (and ``unix_time``/``unix_time_millis``, which call it): S3
  LastModified, SQS SentTimestamp and visibility deadlines, log and rule timestamps. It is
  frozen at the request's wall-clock time, written to the journal. Modules that imported it
  by name (``from moto.core.utils import utcnow``) are rebound when they appear.

The few places that bypass both, in the services the endpoint serves, are pointed at them
(``_STRAYS``): S3's multipart upload ids (``os.urandom``) and bucket CreationDate
(``datetime.now``), the restore state of S3 keys (``datetime.now``), IAM's ``os.urandom``,
Secrets Manager's ``time.time()``, the serial numbers of SNS signing certificates. SNS signs
with a fresh 2048-bit RSA key per subscription, which no seed reproduces: it signs with one key
per state dir instead (``use_signing_key``; AWS, too, signs with one certificate per region).
Class-level counters (CloudWatch Logs event ids) are saved with snapshots
(``moto_snapshot.COUNTERS``). A later moto may add more:
``tests/functional/endpoint/test_endpoint_moto_journal.py`` replays changes to S3, SQS, SNS,
EventBridge, DynamoDB, Logs, IAM and Secrets Manager and compares every model field, which is
where a new stray shows up.

Outside ``deterministic`` everything behaves as moto's own (real clock, moto's random).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import sys
import threading
import time as _time
import types
from collections.abc import Iterator
from typing import Any

from stepkit.endpoint.journal import fsync_dir

_frozen: list[float | None] = [None]
_install_lock = threading.Lock()
_state: dict[str, Any] = {"modules": 0}

#: (module, attribute) of moto's stray sources of time and randomness, and their stand-ins.
_STRAYS = (("moto.s3.models", "os"), ("moto.s3.models", "datetime"), ("moto.iam.models", "os"),
           ("moto.secretsmanager.models", "time"), ("moto.moto_api._internal.managed_state_model", "datetime"),
           ("moto.sns.models", "cryptography"))


def now() -> float | None:
    """The frozen clock (seconds since the epoch), or None outside ``deterministic``."""
    return _frozen[0]


def _utcnow() -> _dt.datetime:
    frozen = _frozen[0]
    if frozen is None:
        return _dt.datetime.now(_dt.UTC).replace(tzinfo=None)
    return _dt.datetime.fromtimestamp(frozen, _dt.UTC).replace(tzinfo=None)


class _DatetimeMeta(type):
    """``datetime.datetime`` in every respect (construction, isinstance, class methods) but
    ``now``/``utcnow``, which follow the frozen clock."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, _dt.datetime)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, _dt.datetime)

    def __call__(cls, *args: Any, **kwargs: Any) -> _dt.datetime:
        return _dt.datetime(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        return getattr(_dt.datetime, name)


class _Datetime(metaclass=_DatetimeMeta):
    @staticmethod
    def now(tz: _dt.tzinfo | None = None) -> _dt.datetime:
        frozen = _frozen[0]
        return _dt.datetime.now(tz) if frozen is None else _dt.datetime.fromtimestamp(frozen, tz)

    @staticmethod
    def utcnow() -> _dt.datetime:
        return _utcnow()


class _Module(types.ModuleType):
    """A stand-in for a standard module: its own ``overrides``, the module's everything else."""

    def __init__(self, real: types.ModuleType, overrides: dict[str, Any]) -> None:
        super().__init__(real.__name__)
        self.__dict__.update(overrides)
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _urandom(n: int) -> bytes:
    from moto.moto_api._internal import mock_random

    return mock_random.randbytes(n)


def _time_now() -> float:
    frozen = _frozen[0]
    return _time.time() if frozen is None else frozen


def _serial_number() -> int:
    from moto.moto_api._internal import mock_random

    return mock_random.getrandbits(159)  # cryptography's random_serial_number: 20 bytes, >> 1


def _stand_in(real: Any) -> Any:
    import os

    if real is _dt.datetime:
        return _Datetime
    if getattr(real, "__name__", "") == "cryptography":
        import cryptography.x509

        return _Module(real, {"x509": _Module(cryptography.x509, {"random_serial_number": _serial_number})})
    if real is os:
        return _Module(os, {"urandom": _urandom})
    if real is _dt:
        return _Module(_dt, {"datetime": _Datetime})
    if real is _time:
        return _Module(_time, {"time": _time_now})
    return None


def install() -> None:
    """Point moto's clock and stray randomness here (again for modules loaded since)."""
    if len(sys.modules) == _state["modules"]:
        return
    with _install_lock:
        import importlib

        import moto.core.utils as core_utils

        for name in {module for module, _ in _STRAYS}:  # now, not in the middle of a request
            importlib.import_module(name)

        original = _state.setdefault("utcnow", core_utils.utcnow)
        for name, module in list(sys.modules.items()):
            if not name.startswith("moto.") or module is None:
                continue
            if getattr(module, "utcnow", None) is original:
                module.utcnow = _utcnow  # type: ignore[attr-defined]
        for name, attribute in _STRAYS:
            stray = sys.modules.get(name)
            real = getattr(stray, attribute, None) if stray is not None else None
            if real is not None and not isinstance(real, _Module) and real is not _Datetime:
                replacement = _stand_in(real)
                if replacement is not None:
                    setattr(stray, attribute, replacement)
        from moto.sns.models import Subscription

        Subscription.private_key = _signing_key  # type: ignore[assignment,method-assign]
        _state["modules"] = len(sys.modules)


def _signing_key(_subscription: Any = None) -> Any:
    if "sns_key" not in _state:  # called inside moto requests: under the backend's lock
        use_signing_key(None)
    return _state["sns_key"]


def use_signing_key(path: Any) -> None:
    """SNS's signing key: kept in ``path`` (made there, durably, the first time); None: one
    key for this process."""
    import os

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    if path is not None and path.exists():
        _state["sns_key"] = serialization.load_pem_private_key(path.read_bytes(), password=None)
        return
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if path is not None:
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    _state["sns_key"] = key


@contextlib.contextmanager
def deterministic(seed: int, at: float) -> Iterator[None]:
    """Run moto with its random source seeded by ``seed`` and its clock frozen at ``at``.
    Callers hold the backend's lock (one moto request at a time)."""
    from moto.moto_api._internal import mock_random

    install()
    mock_random.seed(seed)
    _frozen[0] = at
    try:
        yield
    finally:
        _frozen[0] = None
        install()  # the request may have loaded a service's modules: rebind them now
