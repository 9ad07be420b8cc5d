"""What the Lambda API's modules share: ``$LATEST``, a record's public fields, Lambda's
``Marker``/``MaxItems`` pagination, and :class:`ApiPart`."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stepkit.endpoint.protocol import AwsError

if TYPE_CHECKING:
    from stepkit.endpoint.lambda_service import LambdaService

LATEST = "$LATEST"


def now_text() -> str:
    """Now as Lambda writes a record's LastModified: ``2024-01-01T00:00:00.000+0000``."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A record without its private fields (those whose name starts with ``_``)."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


def marker_page(rows: list[dict], p: dict, key: str) -> dict:
    """A page of a Lambda List* answer: ``MaxItems`` rows from ``Marker`` on, and
    ``NextMarker`` when more follow."""
    limit = min(p.get("MaxItems") or 50, 10000)
    start = 0
    marker = p.get("Marker")
    if marker:
        try:
            start = int(base64.urlsafe_b64decode(marker.encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise AwsError("InvalidParameterValueException", f"Invalid marker: {marker}") from None
    page = rows[start: start + limit]
    out: dict[str, Any] = {key: page}
    if start + limit < len(rows):
        out["NextMarker"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
    return out


class ApiPart:
    """One part of the Lambda API, on the service's records: its operations are its methods
    named as AWS names them (``CreateAlias``...)."""

    def __init__(self, service: LambdaService) -> None:
        self.service = service

    def handlers(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in dir(self) if name[:1].isupper()}
