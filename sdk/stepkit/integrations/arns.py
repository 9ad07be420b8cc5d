"""Lambda function names from the forms a Task gives them in (name, partial or full ARN)."""

from __future__ import annotations

from stepkit.engine.tasks import FUNCTION_ARN


def function_name_from(identifier: str) -> str:
    """A Lambda function name from a name, a partial or a full ARN (qualifier dropped)."""
    m = FUNCTION_ARN.fullmatch(identifier)
    if m:
        return m.group("name")
    parts = identifier.split(":")
    if len(parts) == 3 and parts[1] == "function":  # 123456789012:function:name
        return parts[2]
    if len(parts) == 2:  # name:qualifier
        return parts[0]
    return identifier
