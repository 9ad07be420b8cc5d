"""A Task whose Resource is an activity ARN: schedule it, wait for a worker to take it,
wait for the worker's answer; AWS's Activity* history events.

AWS's recorded histories (ActivityScheduled with ``resource``, ``input`` and the
``timeoutInSeconds``/``heartbeatInSeconds`` given; ActivityStarted with the worker's
``workerName``, or empty details; ActivitySucceeded/ActivityFailed/ActivityTimedOut), and
a missing activity fails the state with ``States.Runtime`` before anything is scheduled.
TimeoutSeconds counts from scheduling (a task no worker takes times out); HeartbeatSeconds
from when a worker takes the task and from each SendTaskHeartbeat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stepkit.asl import errors
from stepkit.asl.errors import StatesError
from stepkit.engine.states import check_result_size
from stepkit.engine.tasks import ActivityScheduler, TaskInvocation

if TYPE_CHECKING:
    from stepkit.engine.frame import Frame
    from stepkit.engine.task_state import TaskState


def _left(limit: float | None, used: float) -> float | None:
    return None if limit is None else max(limit - used, 0.0)


def run_activity(state: TaskState, frame: Frame, params: Any, timeout: float | None, heartbeat: float | None) -> Any:
    """Run one attempt of an activity Task; returns the worker's output."""
    run = frame.run
    resource = state.resource
    integration, mocked = run.integration_for(state.name, resource)
    invocation = TaskInvocation(resource=resource, parameters=params, state_name=state.name,
                                execution_arn=run.execution_arn, timeout_seconds=timeout,
                                heartbeat_seconds=heartbeat, credentials=state.credentials)
    details: dict[str, Any] = {"resource": resource.arn, "input": params}
    if timeout is not None:
        details["timeoutInSeconds"] = int(timeout)
    if heartbeat is not None:
        details["heartbeatInSeconds"] = int(heartbeat)
    if mocked or not isinstance(integration, ActivityScheduler):
        # A MockConfigFile, or a callable registered for the activity's ARN, answers for the worker.
        run.record("ActivityScheduled", frame, details)
        run.record("ActivityStarted", frame, {})
        return _answered(run, frame, lambda: integration(invocation))
    invocation.task_token = run.tokens.new_token(run.execution_arn)
    try:
        ticket = integration.reserve(invocation)
    except BaseException:
        run.tokens.cancel(invocation.task_token)
        raise
    if ticket.token != invocation.task_token:  # a task scheduled before a restart, taken over
        run.tokens.cancel(invocation.task_token)
    token = ticket.token
    try:
        run.record("ActivityScheduled", frame, details)
        if not ticket.started:
            integration.publish(ticket, invocation)

        def answer() -> Any:
            worker = run.tokens.wait_started(token, _left(timeout, ticket.elapsed))
            run.record("ActivityStarted", frame, {"workerName": worker} if worker else {})
            return run.tokens.wait(token, _left(timeout, run.clock.now() - started_at), heartbeat)

        started_at = run.clock.now() - ticket.elapsed
        return _answered(run, frame, answer)
    finally:
        run.tokens.cancel(token)
        integration.finished(ticket)


def _answered(run: Any, frame: Frame, wait: Any) -> Any:
    """Record how the task ended: ActivitySucceeded, ActivityFailed or ActivityTimedOut."""
    try:
        result = wait()
        check_result_size(result, frame.state_name)
    except StatesError as err:
        failed = {"error": err.error, "cause": err.cause}
        timed_out = err.error == errors.TIMEOUT
        run.record("ActivityTimedOut" if timed_out else "ActivityFailed", frame, failed)
        raise
    run.record("ActivitySucceeded", frame, {"output": result})
    return result
