"""The error every service of the endpoint answers in its own protocol's error shape."""

from __future__ import annotations

from typing import Any


class AwsError(Exception):
    """An error answered in the service's error shape. ``status`` None: take it from the model."""

    def __init__(self, code: str, message: str, status: int | None = None, **extra: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra
