"""Parsing Task resources: Lambda function ARNs and Step Functions service integrations."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FUNCTION_ARN = re.compile(
    r"arn:(?P<partition>[\w-]+):lambda:(?P<region>[\w-]*):(?P<account>\d*):function:(?P<name>[^:]+)(?::(?P<qualifier>.+))?"
)
_SERVICE_ARN = re.compile(r"arn:(?P<partition>[\w-]+):states:(?P<region>[\w-]*):(?P<account>\d*):(?P<rest>.+)")
PATTERNS = (".sync:2", ".sync", ".waitForTaskToken")


@dataclass(frozen=True, slots=True)
class Resource:
    """A Task's resource, split as Step Functions records it in TaskScheduled events."""

    arn: str
    resource_type: str  # "lambda", "aws-sdk:s3", "sns", ... ; "" for a plain Lambda function ARN
    action: str  # "invoke", "getObject", ... ; the function name for a plain Lambda ARN
    pattern: str  # "", ".sync", ".sync:2", ".waitForTaskToken"
    is_lambda_function: bool  # the legacy form: Resource is the function's ARN itself
    region: str


def function_name_from(identifier: str) -> str:
    """A Lambda function name from a name, a partial or a full ARN (qualifier dropped)."""
    m = _FUNCTION_ARN.fullmatch(identifier)
    if m:
        return m.group("name")
    parts = identifier.split(":")
    if len(parts) == 3 and parts[1] == "function":  # 123456789012:function:name
        return parts[2]
    if len(parts) == 2:  # name:qualifier
        return parts[0]
    return identifier


def parse_resource(arn: str, default_region: str = "us-east-1") -> Resource:
    m = _FUNCTION_ARN.fullmatch(arn)
    if m:
        return Resource(arn, "", m.group("name"), "", True, m.group("region") or default_region)
    m = _SERVICE_ARN.fullmatch(arn)
    if m:
        rest = m.group("rest")
        pattern = next((p for p in PATTERNS if rest.endswith(p)), "")
        body = rest[: len(rest) - len(pattern)] if pattern else rest
        service, _, action = body.rpartition(":")
        return Resource(arn, service, action, pattern, False, m.group("region") or default_region)
    return Resource(arn, "", arn, "", False, default_region)
