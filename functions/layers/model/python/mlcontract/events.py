"""Parsing an invocation's event into the function's pydantic model, with one error shape."""

from __future__ import annotations

import os
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.parser import parse
from pydantic import BaseModel, ValidationError

from .errors import InvalidEventError

#: Run ids, candidate ids, model names and aliases: safe in an S3 key and a log line.
SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._=-]{0,127}$"

Event = TypeVar("Event", bound=BaseModel)


def parse_event(event: Any, model: type[Event], function: str) -> Event:
    """``event`` as ``model``; :class:`InvalidEventError` naming every bad field otherwise."""
    try:
        return parse(event=event, model=model)  # type: ignore[no-any-return]
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in exc.errors())
        raise InvalidEventError(f"bad {function} event: {problems}") from None


def artifacts_bucket(given: str | None) -> str:
    """The event's bucket, else ``$ARTIFACTS_BUCKET`` (for a direct invocation)."""
    bucket = given or os.environ.get("ARTIFACTS_BUCKET")
    if not bucket:
        raise ValueError("no bucket: give `bucket` or set ARTIFACTS_BUCKET")
    return bucket
