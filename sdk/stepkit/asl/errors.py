"""Step Functions' error names and the exception that carries one through an execution."""

from __future__ import annotations

ALL = "States.ALL"
HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
TIMEOUT = "States.Timeout"
TASK_FAILED = "States.TaskFailed"
PERMISSIONS = "States.Permissions"
RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
BRANCH_FAILED = "States.BranchFailed"
NO_CHOICE_MATCHED = "States.NoChoiceMatched"
INTRINSIC_FAILURE = "States.IntrinsicFailure"
EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"
ITEM_READER_FAILED = "States.ItemReaderFailed"
RESULT_WRITER_FAILED = "States.ResultWriterFailed"
RUNTIME = "States.Runtime"
DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"
QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"

#: Errors that ``States.ALL`` does not catch or retry (AWS: "States.ALL ... matches any
#: known error name except States.DataLimitExceeded and States.Runtime").
TERMINAL_ERRORS = frozenset({RUNTIME, DATA_LIMIT_EXCEEDED})


class StatesError(Exception):
    """A failure inside an execution, named as Step Functions names it.

    ``error`` and ``cause`` are exactly what AWS records in the history
    (``cause`` may be ``None`` where AWS records none). ``failed_event`` is the event the
    failing state records before the error is caught or fails the execution (MapStateFailed,
    ParallelStateFailed), when it records one.
    """

    def __init__(self, error: str | None, cause: str | None = None) -> None:
        super().__init__(f"{error}: {cause}" if cause else str(error))
        self.error = error
        self.cause = cause
        self.failed_event: str | None = None


class StateEvaluationError(StatesError):
    """A failure of the engine evaluating a state's fields (a path that matches nothing,
    a value of the wrong type...).

    The execution records it with AWS's prefix naming the state and the event that
    entered it: "An error occurred while executing the state 'X' (entered at the event
    id #N). <detail>". ``detail`` is the part after that prefix.
    """

    def __init__(self, detail: str, error: str = RUNTIME) -> None:
        super().__init__(error, detail)
        self.detail = detail


class HeartbeatTimedOut(StatesError):
    """A task whose worker or callback sent no heartbeat for ``HeartbeatSeconds``.

    AWS records it as ``States.Timeout`` (a ``TaskTimedOut`` event and ``ExecutionFailed``
    with that error: LocalStack's snapshot of ``test_heartbeat_timeout``, recorded against AWS
    on 18-04-2024), as its error-names page says of ``States.Timeout`` ("failed to send a
    heartbeat for a period longer than the HeartbeatSeconds value"). The same page lists
    ``States.HeartbeatTimeout`` as a name for Retry and Catch only: a retrier or catcher
    naming it takes this error too.
    """

    def __init__(self) -> None:
        super().__init__(TIMEOUT, None)
