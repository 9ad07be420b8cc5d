"""A page of a List* answer: the rows from ``nextToken`` on, under the operation's key."""

from __future__ import annotations

from typing import Any


def paged(rows: list[dict], p: dict, key: str, out_key: str) -> dict[str, Any]:
    """``{out_key: page}`` plus ``nextToken`` when more rows follow (Step Functions' token
    format, ``stepfunctions._paginate``; imported here when called, as that module imports
    the ones using this)."""
    from stepkit.endpoint.stepfunctions import _paginate

    page, token = _paginate(rows, p, key)
    out: dict[str, Any] = {out_key: page}
    if token:
        out["nextToken"] = token
    return out
