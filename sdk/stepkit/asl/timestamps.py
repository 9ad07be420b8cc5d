"""ISO-8601 timestamps as Step Functions accepts them (RFC 3339: date, ``T``, time, zone)."""

from __future__ import annotations

import re
from datetime import datetime

_TIMESTAMP = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})")


def parse_timestamp(text: object) -> datetime | None:
    """The aware datetime for an RFC 3339 timestamp string, or None when it is not one."""
    if not isinstance(text, str):
        return None
    m = _TIMESTAMP.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz = "+00:00" if zone in ("Z", "z") else zone
    try:
        return datetime.fromisoformat(f"{year}-{month}-{day}T{hour}:{minute}:{second}.{micro:06d}{tz}")
    except ValueError:
        return None
