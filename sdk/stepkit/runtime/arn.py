"""Function names and ARNs, in every form Lambda's ``FunctionName`` parameter accepts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stepkit.runtime.errors import FunctionNotFound, InvalidParameterValue

_REF = re.compile(
    r"^(?:(?:arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):)?(?P<account>\d{12}):function:)?"
    r"(?P<name>[A-Za-z0-9_-]{1,64})(?::(?P<qualifier>\$LATEST|[A-Za-z0-9_-]+))?$"
)


def function_arn(name: str, region: str, account_id: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account_id}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


@dataclass(frozen=True)
class FunctionRef:
    name: str
    qualifier: str | None


def parse_function_ref(
    name_or_arn: str, qualifier: str | None, *, region: str, account_id: str
) -> FunctionRef:
    """``NAME``, ``NAME:QUALIFIER``, ``ACCOUNT:function:NAME`` or a full ARN, for this region
    and account (another region's or account's function does not exist here)."""
    match = _REF.match(name_or_arn)
    if match is None:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{name_or_arn}' at 'functionName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?"
            "([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
        )
    name, in_ref = match["name"], match["qualifier"]
    if in_ref and qualifier and in_ref != qualifier:
        raise InvalidParameterValue(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    wanted = qualifier or in_ref
    other_region = match["region"] and match["region"] != region
    if other_region or (match["account"] and match["account"] != account_id):
        raise FunctionNotFound(f"Function not found: {name_or_arn}")
    return FunctionRef(name, wanted)
