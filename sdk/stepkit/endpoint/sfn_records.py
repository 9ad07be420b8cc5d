"""The Step Functions records the endpoint keeps (state machines, executions) and the ARN and
name rules its API and its execution supervisor share."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from stepkit.asl.validation import invalid_definition_message, validate_definition
from stepkit.endpoint.protocol import AwsError
from stepkit.endpoint.validation import lone_surrogate_in, parse_json

# What the API reference says a name must not contain (surrogates: a lone one, as JSON can carry).
_NAME_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\U0010ffff]")
MACHINE_ARN = re.compile(r"arn:aws[\w-]*:states:(?P<region>[\w-]+):(?P<account>\d{12}):stateMachine:(?P<name>[^:]+)"
                         r"(?::(?P<qualifier>[^:]+))?")
EXECUTION_ARN = re.compile(r"arn:aws[\w-]*:states:(?P<region>[\w-]+):(?P<account>\d{12}):(?P<kind>execution|express):"
                           r"(?P<machine>[^:]+):(?P<name>[^:]+)(?::(?P<id>[^:]+))?")
#: The event that ends an execution, and the status it gives.
TERMINAL = {"ExecutionSucceeded": "SUCCEEDED", "ExecutionFailed": "FAILED", "ExecutionAborted": "ABORTED",
            "ExecutionTimedOut": "TIMED_OUT"}


@dataclass
class Machine:
    arn: str
    name: str
    type: str
    definition: str
    role_arn: str
    creation_date: float
    revision_id: str
    update_date: float | None = None
    description: str = ""
    logging: dict = field(default_factory=lambda: {"level": "OFF", "includeExecutionData": False})
    tracing: dict = field(default_factory=lambda: {"enabled": False})

    def to_record(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def revision(self) -> dict[str, Any]:
        """What an execution keeps of its machine (DescribeStateMachineForExecution)."""
        return {k: getattr(self, k) for k in ("arn", "name", "type", "definition", "role_arn", "revision_id",
                                               "update_date", "logging", "tracing")}


@dataclass
class ExecutionRecord:
    arn: str
    name: str
    machine_arn: str
    revision: dict[str, Any]
    input: str
    start_date: float
    status: str = "RUNNING"
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    stop_date: float | None = None
    redrive_count: int = 0
    redrive_date: float | None = None
    trace_header: str | None = None
    express: bool = False
    version_arn: str | None = None  # started on a version, or on an alias that chose it
    alias_arn: str | None = None

    def to_record(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def routed(self) -> dict[str, str]:
        """The version and alias it was started through (DescribeExecution, ListExecutions)."""
        out = {"stateMachineVersionArn": self.version_arn, "stateMachineAliasArn": self.alias_arn}
        return {k: v for k, v in out.items() if v is not None}


def json_text(value: Any) -> str:
    """Compact JSON, as Step Functions writes inputs and outputs."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def check_name(name: str, what: str = "Name") -> None:
    if not 1 <= len(name) <= 80 or _NAME_FORBIDDEN.search(name):
        raise AwsError("InvalidName", f"Invalid {what}: '{name}'")


def invalid_arn(arn: str) -> AwsError:
    return AwsError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")


def check_definition(definition: str, machine_type: str) -> None:
    """InvalidDefinition (AWS's message) unless ``definition`` is a valid machine of the type."""
    try:
        document = parse_json(definition)
    except ValueError:
        document = None  # the validator words the parse error
    if lone_surrogate_in(document):  # a state name an execution's history could never store
        raise AwsError("InvalidDefinition", "Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: The "
                       "definition holds an unpaired UTF-16 surrogate'")
    diagnostics = validate_definition(definition, state_machine_type=machine_type)
    if any(d.severity == "ERROR" for d in diagnostics):
        raise AwsError("InvalidDefinition", invalid_definition_message(diagnostics))


def check_role(role_arn: str) -> None:
    if not re.fullmatch(r"arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+", role_arn):
        raise invalid_arn(role_arn)
