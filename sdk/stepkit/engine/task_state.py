"""The Task state: resolve the resource, run it with Retry/Catch, record its events."""

from __future__ import annotations

import concurrent.futures
from typing import TYPE_CHECKING, Any

from stepkit.asl import errors
from stepkit.asl.errors import StateEvaluationError, StatesError
from stepkit.asl.references import compile_reference
from stepkit.engine.activity_task import run_activity
from stepkit.engine.frame import Frame
from stepkit.engine.jsonpath_flow import resolve_path
from stepkit.engine.states import Outcome, RecoverableState, check_result_size
from stepkit.engine.tasks import TaskInvocation, parse_resource

if TYPE_CHECKING:
    from stepkit.engine.compiler import Compiler

_TIMEOUT_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="stepkit-task")


class TaskState(RecoverableState):
    type_name = "Task"
    entered_event = "TaskStateEntered"
    exited_event = "TaskStateExited"
    blocking = True

    def __init__(self, name: str, definition: dict, compiler: Compiler) -> None:
        super().__init__(name, definition, compiler)
        self.resource = parse_resource(definition["Resource"], compiler.region)
        self.timeout = definition.get("TimeoutSeconds")
        self.heartbeat = definition.get("HeartbeatSeconds")
        self._timeout_ref = (
            compile_reference(definition["TimeoutSecondsPath"]) if "TimeoutSecondsPath" in definition else None
        )
        self._heartbeat_ref = (
            compile_reference(definition["HeartbeatSecondsPath"])
            if "HeartbeatSecondsPath" in definition
            else None
        )
        self.credentials = definition.get("Credentials")
        self.waits_for_token = self.resource.pattern == ".waitForTaskToken"
        # AWS puts a task token in the context object of every integration pattern but
        # request-response ($$.Task.Token is readable in .sync tasks too).
        self.has_token = self.resource.pattern != ""

    def _seconds(self, ref: Any, field: str, frame: Frame, data: Any) -> float:
        value = resolve_path(ref, data, frame)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise StateEvaluationError(f"The {field} field must reference a positive integer: {ref.text}")
        return float(value)

    def _limit(self, frame: Frame, raw: Any, literal: Any, ref: Any, field: str) -> float | None:
        """TimeoutSeconds / HeartbeatSeconds: a number, a *Path, or a JSONata expression."""
        if ref is not None:
            return self._seconds(ref, f"{field}Path", frame, raw)
        if isinstance(literal, str):
            value = self.flow.number(frame, raw, literal, field)
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise StateEvaluationError(
                    f"The {field} field must be a positive integer, but was: {value!r}",
                    errors.QUERY_EVALUATION_ERROR,
                )
            return float(value)
        return literal

    def execute(self, frame: Frame, raw: Any) -> Outcome:
        def attempt() -> Outcome:
            if self.has_token:
                frame.task_token = frame.run.tokens.new_token(frame.run.execution_arn)
            try:
                params = self.flow.effective_input(frame, raw)
                result = self.invoke(frame, raw, params)
                return self.flow.output(frame, raw, result), self.next
            finally:
                if frame.task_token is not None and not self.waits_for_token:
                    frame.run.tokens.cancel(frame.task_token)
                frame.task_token = None

        return self.recover(frame, raw, attempt)

    def invoke(self, frame: Frame, raw: Any, params: Any) -> Any:
        run = frame.run
        resource = self.resource
        timeout = self._limit(frame, raw, self.timeout, self._timeout_ref, "TimeoutSeconds")
        heartbeat = self._limit(frame, raw, self.heartbeat, self._heartbeat_ref, "HeartbeatSeconds")
        if resource.resource_type == "activity" and not resource.pattern:
            return run_activity(self, frame, params, timeout, heartbeat)
        legacy = resource.is_lambda_function
        if legacy:
            details: dict[str, Any] = {"resource": resource.arn, "input": params}
            if timeout is not None:
                details["timeoutInSeconds"] = int(timeout)
            run.record("LambdaFunctionScheduled", frame, details)
            run.record("LambdaFunctionStarted", frame, None)
            kind = {}
        else:
            kind = {"resourceType": resource.resource_type, "resource": resource.action}
            details = {**kind, "region": resource.region, "parameters": params}
            if timeout is not None:
                details["timeoutInSeconds"] = int(timeout)
            if heartbeat is not None:
                details["heartbeatInSeconds"] = int(heartbeat)
            run.record("TaskScheduled", frame, details)
            run.record("TaskStarted", frame, kind)
        token = frame.task_token if self.waits_for_token else None
        try:
            integration, mocked = run.integration_for(self.name, resource)
            if mocked and resource.pattern:
                # A mock answers for the whole callback or child run: the submission
                # happened, as in AWS's recorded histories.
                run.record("TaskSubmitted", frame, {**kind, "output": {}})
            invocation = TaskInvocation(
                resource=resource,
                parameters=params,
                state_name=self.name,
                execution_arn=run.execution_arn,
                task_token=token,
                timeout_seconds=timeout,
                heartbeat_seconds=heartbeat,
                credentials=self.credentials,
            )
            if timeout is not None and not mocked and not self.waits_for_token:
                future = _TIMEOUT_POOL.submit(integration, invocation)
                try:
                    result = future.result(timeout=timeout)
                except concurrent.futures.TimeoutError:
                    raise StatesError(errors.TIMEOUT, None) from None
            else:
                result = integration(invocation)
            if self.waits_for_token and not mocked and token is not None:
                run.record("TaskSubmitted", frame, {**kind, "output": result})
                result = run.tokens.wait(token, timeout, heartbeat)
            check_result_size(result, self.name)
        except StatesError as err:
            if token is not None:
                run.tokens.cancel(token)
            failed = {"error": err.error, "cause": err.cause}
            if legacy:
                run.record("LambdaFunctionFailed", frame, failed)
            elif err.error == errors.TIMEOUT:
                run.record("TaskTimedOut", frame, {**kind, **failed})
            else:
                run.record("TaskFailed", frame, {**kind, **failed})
            raise
        run.record("LambdaFunctionSucceeded" if legacy else "TaskSucceeded", frame, {**kind, "output": result})
        return result
