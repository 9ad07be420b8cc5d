"""Activity tasks: what the engine asks of whoever hands activity tasks to workers.

A Task whose ``Resource`` is an activity ARN is not an integration call: the engine
schedules a task, a worker takes it with GetActivityTask and answers with
SendTaskSuccess/Failure (heartbeats in between). The local endpoint's activity service
implements ``ActivityScheduler`` and registers it in the integration registry under
``ACTIVITY_RESOURCES``; the engine (``engine/activity_task.py``) drives the three steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from stepkit.integrations.registry import TaskInvocation

#: The registry pattern that resolves every activity ARN to the scheduler.
ACTIVITY_RESOURCES = "arn:aws*:states:*:*:activity:*"


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


class ActivityScheduler(Protocol):
    def reserve(self, invocation: TaskInvocation) -> ActivityTicket:
        """The ticket for this task (the token in ``invocation`` unless a task recorded
        before a restart is taken over). Raises ``StateEvaluationError`` when the activity
        does not exist. Workers do not see the task yet."""

    def publish(self, ticket: ActivityTicket, invocation: TaskInvocation) -> None:
        """Make the task available to workers (GetActivityTask), durably."""

    def finished(self, ticket: ActivityTicket) -> None:
        """The task ended (answered, timed out, stopped): forget it."""

    def __call__(self, invocation: TaskInvocation) -> Any:
        """Not an integration call: the engine drives activities through the methods above."""
