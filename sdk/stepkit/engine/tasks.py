"""The engine's task interface: what a Task state asks of the world outside the engine.

A Task's ``Resource`` is parsed into a :class:`TaskResource`; an execution asks its
:class:`TaskResolver` for the :class:`Integration` that runs it and calls it with a
:class:`TaskInvocation`. An integration returns the task's result (a JSON value) or raises
``StatesError`` with the error AWS would record. An activity's integration is an
:class:`ActivityScheduler` instead: the engine schedules the task and waits for a worker.

The engine defines these; ``stepkit.integrations`` (the registry, the mocks, the AWS
service integrations) and the endpoint implement them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

#: A Lambda function's ARN, qualifier optional.
FUNCTION_ARN = re.compile(
    r"arn:(?P<partition>[\w-]+):lambda:(?P<region>[\w-]*):(?P<account>\d*):function:(?P<name>[^:]+)(?::(?P<qualifier>.+))?"
)
_SERVICE_ARN = re.compile(r"arn:(?P<partition>[\w-]+):states:(?P<region>[\w-]*):(?P<account>\d*):(?P<rest>.+)")
PATTERNS = (".sync:2", ".sync", ".waitForTaskToken")


@dataclass(frozen=True, slots=True)
class TaskResource:
    """A Task's resource, split as Step Functions records it in TaskScheduled events."""

    arn: str
    resource_type: str  # "lambda", "aws-sdk:s3", "sns", ... ; "" for a plain Lambda function ARN
    action: str  # "invoke", "getObject", ... ; the function name for a plain Lambda ARN
    pattern: str  # "", ".sync", ".sync:2", ".waitForTaskToken"
    is_lambda_function: bool  # the legacy form: Resource is the function's ARN itself
    region: str


def parse_resource(arn: str, default_region: str = "us-east-1") -> TaskResource:
    m = FUNCTION_ARN.fullmatch(arn)
    if m:
        return TaskResource(arn, "", m.group("name"), "", True, m.group("region") or default_region)
    m = _SERVICE_ARN.fullmatch(arn)
    if m:
        rest = m.group("rest")
        pattern = next((p for p in PATTERNS if rest.endswith(p)), "")
        body = rest[: len(rest) - len(pattern)] if pattern else rest
        service, _, action = body.rpartition(":")
        return TaskResource(arn, service, action, pattern, False, m.group("region") or default_region)
    return TaskResource(arn, "", arn, "", False, default_region)


@dataclass(slots=True)
class TaskInvocation:
    """Everything a handler may need to run one Task attempt."""

    resource: TaskResource
    parameters: Any
    state_name: str
    execution_arn: str
    task_token: str | None = None
    timeout_seconds: float | None = None
    heartbeat_seconds: float | None = None
    credentials: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


class Integration(Protocol):
    """Runs one Task attempt: returns its result or raises ``StatesError``."""

    def __call__(self, invocation: TaskInvocation) -> Any: ...


class TaskResolver(Protocol):
    """What an execution asks of its surroundings: the integration of each Task, and the AWS
    clients that states other than Tasks need (a Distributed Map's ItemReader and
    ResultWriter read and write S3)."""

    def integration_for(self, state_name: str, resource: TaskResource) -> tuple[Integration, bool]:
        """The handler of the Task ``state_name``; ``mocked`` (the second value) is true when
        a mock answers for it (no callback is awaited, no child run is submitted). Raises
        ``StatesError`` when nothing handles ``resource``."""
        ...

    def client(self, service_name: str, region_name: str | None = None) -> Any:
        """A boto3 client for ``service_name`` (shared; boto3 clients are thread-safe)."""
        ...


@dataclass(slots=True)
class ActivityTicket:
    """One scheduled activity task. ``token`` is the task token a worker receives.

    A task recorded before a restart of the endpoint comes back ``adopted``, with the
    seconds since it was first scheduled (its TimeoutSeconds goes on counting from then)
    and ``started`` when a worker had taken it; the scheduler has made its token wait
    again already (a worker's answer may come before the engine takes the task over)."""

    token: str
    activity_arn: str
    adopted: bool = False
    elapsed: float = 0.0  # seconds since it was first scheduled
    started: bool = False


@runtime_checkable
class ActivityScheduler(Protocol):
    """Whoever hands activity tasks to workers (the endpoint's activity service). A Task
    whose ``Resource`` is an activity ARN is not an integration call: the engine
    (``engine/activity_task.py``) reserves a ticket, publishes the task, waits for the
    worker's answer on the task token, and says when it is finished."""

    def reserve(self, invocation: TaskInvocation) -> ActivityTicket:
        """The ticket for this task (the token in ``invocation`` unless a task recorded
        before a restart is taken over). Raises ``StateEvaluationError`` when the activity
        does not exist. Workers do not see the task yet."""
        ...

    def publish(self, ticket: ActivityTicket, invocation: TaskInvocation) -> None:
        """Make the task available to workers (GetActivityTask), durably."""
        ...

    def finished(self, ticket: ActivityTicket) -> None:
        """The task ended (answered, timed out, stopped): forget it."""
        ...

    def __call__(self, invocation: TaskInvocation) -> Any:
        """Registered like an integration; the engine drives it through the methods above."""
        ...
