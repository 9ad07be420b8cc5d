"""Step Functions' pagination: a page of a List* answer from ``nextToken`` on, and the
opaque tokens (an offset in a list, or an event id in a history)."""

from __future__ import annotations

import base64
import json
from typing import Any

from stepkit.endpoint.protocol import AwsError

#: AWS's default and largest page (maxResults 0 or absent: the default).
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def encode_token(offset: int, key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "k": key}).encode()).decode()


def decode_token(p: dict, key: str) -> int | None:
    """The position ``nextToken`` carries (None: no token); InvalidToken for a token that is
    not one of ours, or that another operation gave."""
    token = p.get("nextToken")
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(data["o"])
        if data["k"] != key or offset < 0:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise AwsError("InvalidToken", f"Invalid Token: '{token}'") from None
    return offset


def page_limit(p: dict, default_limit: int = DEFAULT_LIMIT) -> int:
    return min(p.get("maxResults") or default_limit, MAX_LIMIT)


def paginate(rows: list[dict], p: dict, key: str, default_limit: int = DEFAULT_LIMIT) -> tuple[list[dict], str | None]:
    """The page of ``rows`` ``p`` asks for, and the token of the next one (None: the last)."""
    limit = page_limit(p, default_limit)
    offset = decode_token(p, key) or 0
    page = rows[offset: offset + limit]
    more = offset + limit < len(rows)
    return page, encode_token(offset + limit, key) if more else None


def paged(rows: list[dict], p: dict, key: str, out_key: str) -> dict[str, Any]:
    """``{out_key: page}`` plus ``nextToken`` when more rows follow."""
    page, token = paginate(rows, p, key)
    out: dict[str, Any] = {out_key: page}
    if token:
        out["nextToken"] = token
    return out
