"""The state types. Each is compiled once from its definition; ``execute`` runs it for one
input in one frame and returns ``(output, next state name or None)``.

Entering and exiting events are recorded by the execution loop; a state records only
the events inside it (task scheduling, iterations...).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stepkit.asl import errors
from stepkit.asl.errors import HeartbeatTimedOut, StateEvaluationError, StatesError
from stepkit.asl.intrinsics import compile_intrinsic, is_intrinsic
from stepkit.asl.jsonpath import PathNotFoundError
from stepkit.asl.payload import compile_payload, to_json
from stepkit.asl.references import compile_reference
from stepkit.asl.timestamps import parse_timestamp
from stepkit.engine.frame import Frame
from stepkit.engine.jsonpath_flow import place_result, result_path_field
from stepkit.engine.recovery import CatchRule, RetryPolicy, RetryRule

if TYPE_CHECKING:
    from stepkit.engine.compiler import Compiler

Outcome = tuple[Any, str | None]


def qualify(err: StatesError, frame: Frame) -> StatesError:
    """Give an evaluation error AWS's prefix naming the state (other errors pass as they are)."""
    if isinstance(err, StateEvaluationError):
        qualified = StatesError(
            err.error,
            f"An error occurred while executing the state '{frame.state_name}' "
            f"(entered at the event id #{frame.entered_id}). {err.detail}",
        )
        if err.error == errors.QUERY_EVALUATION_ERROR:
            frame.run.record(
                "EvaluationFailed", frame, {"error": err.error, "cause": qualified.cause, "state": frame.state_name}
            )
        qualified.failed_event = err.failed_event
        return qualified
    return err


def mark_state_failed(err: StatesError, event_type: str) -> StatesError:
    """Tag an error so that, when no retrier takes it, the state records ``event_type``
    (MapStateFailed, ParallelStateFailed) before it is caught or fails the execution."""
    err.failed_event = event_type
    return err


class State:
    """Common fields; subclasses set the event names and implement ``execute``."""

    type_name = ""
    entered_event = ""
    exited_event: str | None = ""
    blocking = False  # may wait on the outside world (tasks, waits): run iterations in threads
    initial_retry_count = -1  # states that can retry show $$.State.RetryCount, from 0

    def __init__(self, name: str, definition: dict, compiler: Compiler) -> None:
        self.name = name
        self.definition = definition
        self.query_language: str = definition.get("QueryLanguage", compiler.query_language)
        self.next: str | None = definition.get("Next")
        self.flow = compiler.flow(self, definition)

    def execute(self, frame: Frame, raw: Any) -> Outcome:
        raise TypeError(f"{type(self).__name__} does not execute")


class RecoverableState(State):
    """A state with Retry and Catch (Task, Map, Parallel)."""

    initial_retry_count = 0

    def __init__(self, name: str, definition: dict, compiler: Compiler) -> None:
        super().__init__(name, definition, compiler)
        retriers = [RetryRule(r) for r in definition.get("Retry", [])]
        catchers = [CatchRule(c, compiler.catch_output(self, c)) for c in definition.get("Catch", [])]
        self.policy = RetryPolicy(retriers, catchers) if retriers or catchers else None

    def recover(self, frame: Frame, raw: Any, attempt: Callable[[], Outcome]) -> Outcome:
        policy = self.policy
        if policy is None:
            try:
                return attempt()
            except StatesError as raw_err:
                err = qualify(raw_err, frame)
                self._record_failed(frame, err)
                raise err from None
        counts = [0] * len(policy.retriers)
        while True:
            try:
                return attempt()
            except StatesError as raw_err:
                err = qualify(raw_err, frame)
                heartbeat = isinstance(err, HeartbeatTimedOut)
                delay = policy.retry_delay(err.error, counts, heartbeat=heartbeat)
                if delay is not None:
                    frame.retry_count += 1
                    frame.run.clock.sleep(delay)
                    continue
                self._record_failed(frame, err)
                catcher = policy.catcher_for(err.error, heartbeat=heartbeat)
                if catcher is None:
                    raise err from None
                error_output: dict[str, Any] = {"Error": err.error}
                if err.cause is not None:
                    error_output["Cause"] = err.cause
                return catcher.output(frame, raw, error_output), catcher.next

    @staticmethod
    def _record_failed(frame: Frame, err: StatesError) -> None:
        event_type = err.failed_event
        if event_type:
            frame.run.record(event_type, frame, {"error": err.error, "cause": err.cause})


def json_path_catch_output(catcher_def: dict) -> Callable[[Frame, Any, dict], Any]:
    """A JSONPath catcher: Assign sees the error output; ResultPath places it in the input."""
    result_path = result_path_field(catcher_def)
    assign = compile_payload(catcher_def["Assign"]) if "Assign" in catcher_def else None

    def output(frame: Frame, raw: Any, error_output: dict) -> Any:
        if assign is not None:
            frame.assign(assign.evaluate(error_output, frame.context(), frame.variables))
        return place_result(result_path, raw, error_output)

    return output


class PassState(State):
    type_name = "Pass"
    entered_event = "PassStateEntered"
    exited_event = "PassStateExited"

    def __init__(self, name: str, definition: dict, compiler: Compiler) -> None:
        super().__init__(name, definition, compiler)
        self.has_result = "Result" in definition
        self.result = definition.get("Result")
        self.result_too_large = self.has_result and payload_size(self.result) > MAX_PAYLOAD_BYTES

    def execute(self, frame: Frame, raw: Any) -> Outcome:
        if self.result_too_large:
            check_result_size(self.result, self.name)
        flow = self.flow
        if flow.is_identity and not self.has_result:
            return raw, self.next
        return flow.pass_state_output(frame, raw, self), self.next


class SucceedState(State):
    type_name = "Succeed"
    entered_event = "SucceedStateEntered"
    exited_event = "SucceedStateExited"

    def execute(self, frame: Frame, raw: Any) -> Outcome:
        return self.flow.pass_through(frame, raw), None


class ChoiceState(State):
    type_name = "Choice"
    entered_event = "ChoiceStateEntered"
    exited_event = "ChoiceStateExited"

    def __init__(self, name: str, definition: dict, compiler: Compiler) -> None:
        super().__init__(name, definition, compiler)
        self.default: str | None = definition.get("Default")
        self.rules = [compiler.choice_rule(self, rule) for rule in definition["Choices"]]

    def execute(self, frame: Frame, raw: Any) -> Outcome:
        return self.flow.choose(frame, raw, self)


class WaitState(State):
    type_name = "Wait"
    entered_event = "WaitStateEntered"
    exited_event = "WaitStateExited"
    blocking = True

    def __init__(self, name: str, definition: dict, compiler: Compiler) -> None:
        super().__init__(name, definition, compiler)
        self.seconds = definition.get("Seconds")
        self.timestamp = definition.get("Timestamp")
        self.seconds_path = definition.get("SecondsPath")
        self.timestamp_path = definition.get("TimestampPath")
        self._seconds_ref = compile_reference(self.seconds_path) if self.seconds_path else None
        self._timestamp_ref = compile_reference(self.timestamp_path) if self.timestamp_path else None

    def _read(self, ref: Any, text: str | None, field: str, frame: Frame, data: Any) -> Any:
        try:
            return ref.resolve(data, frame.context() if ref.is_context else None, frame.variables)
        except PathNotFoundError:
            raise StateEvaluationError(f"The {field} parameter does not reference an input value: {text}") from None

    def wait_seconds(self, frame: Frame, data: Any) -> float:
        """Seconds to wait in JSONPath mode (``data`` is the state input after InputPath)."""
        clock = frame.run.clock
        if self.seconds is not None:
            return float(self.seconds)
        if self.timestamp is not None:
            return _until(parse_timestamp(self.timestamp), clock.now())
        if self._seconds_ref is not None:
            value = self._read(self._seconds_ref, self.seconds_path, "SecondsPath", frame, data)
            shown = f"{self.seconds_path} == {value if isinstance(value, str) else to_json(value)}"
            if not isinstance(value, int) or isinstance(value, bool):
                raise StateEvaluationError(f"The SecondsPath parameter cannot be parsed as a long value: {shown}")
            if value < 0:
                raise StateEvaluationError(f"The SecondsPath parameter references a negative value: {shown}")
            return float(value)
        value = self._read(self._timestamp_ref, self.timestamp_path, "TimestampPath", frame, data)
        when = parse_timestamp(value)
        if when is None:
            shown = value if isinstance(value, str) else to_json(value)
            raise StateEvaluationError(
                "The TimestampPath parameter does not reference a valid ISO-8601 extended offset "
                f"date-time format string: {self.timestamp_path} == {shown}"
            )
        return _until(when, clock.now())

    def execute(self, frame: Frame, raw: Any) -> Outcome:
        return self.flow.wait(frame, raw, self), self.next


def _until(when: Any, now: float) -> float:
    return max(0.0, when.timestamp() - now) if when is not None else 0.0


class FailState(State):
    type_name = "Fail"
    entered_event = "FailStateEntered"
    exited_event = None

    def __init__(self, name: str, definition: dict, compiler: Compiler) -> None:
        super().__init__(name, definition, compiler)
        self.error = definition.get("Error")
        self.cause = definition.get("Cause")
        self.error_path = _string_source(definition.get("ErrorPath"), "ErrorPath")
        self.cause_path = _string_source(definition.get("CausePath"), "CausePath")

    def execute(self, frame: Frame, raw: Any) -> Outcome:
        error, cause = self.flow.fail(frame, raw, self)
        raise StatesError(error, cause)


def _string_source(text: str | None, field: str) -> Callable[[Frame, Any], Any] | None:
    """ErrorPath / CausePath: a reference path or an intrinsic function."""
    if text is None:
        return None
    if is_intrinsic(text):
        intrinsic = compile_intrinsic(text)
        return lambda frame, data: intrinsic.evaluate(data, frame.context(), frame.variables)
    ref = compile_reference(text)

    def read(frame: Frame, data: Any) -> Any:
        try:
            return ref.resolve(data, frame.context() if ref.is_context else None, frame.variables)
        except PathNotFoundError:
            raise StateEvaluationError(
                f"The JSONPath '{text}' specified for the field '{field}' could not be found in the input "
                f"'{to_json(data)}'"
            ) from None

    return read


def payload_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


MAX_PAYLOAD_BYTES = 256 * 1024


def check_result_size(value: Any, state_name: str) -> None:
    if payload_size(value) > MAX_PAYLOAD_BYTES:
        raise StatesError(
            errors.DATA_LIMIT_EXCEEDED,
            f"The state/task '{state_name}' returned a result with a size exceeding the maximum number "
            "of bytes service limit.",
        )
