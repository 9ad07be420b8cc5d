"""Task states: timeouts, callbacks with task tokens, payload limits, unknown resources."""

import threading
import time

import pytest

from stepkit import StateMachine, run
from stepkit.asl.errors import StatesError
from stepkit.integrations.registry import IntegrationRegistry


def single_task(resource: str, **fields) -> dict:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": True, **fields}}}


def test_python_callable_stands_in_for_a_lambda_function():
    ex = run(
        single_task("arn:aws:lambda:us-east-1:123456789012:function:double"),
        {"n": 21},
        functions={"double": lambda event: {"n": event["n"] * 2}},
    )
    assert ex.output == {"n": 42}
    assert ex.event_types[2:5] == ["LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded"]


def test_lambda_invoke_returns_the_response_envelope():
    definition = single_task(
        "arn:aws:states:::lambda:invoke",
        Parameters={"FunctionName": "double", "Payload.$": "$"},
        ResultSelector={"value.$": "$.Payload.n", "status.$": "$.StatusCode"},
    )
    ex = run(definition, {"n": 2}, functions={"double": lambda e: {"n": e["n"] * 2}})
    assert ex.output == {"value": 4, "status": 200}


def test_unknown_lambda_function_fails_as_lambda_does():
    ex = run(single_task("arn:aws:lambda:us-east-1:123456789012:function:nope"), {})
    assert ex.status == "FAILED"
    assert ex.error == "Lambda.ResourceNotFoundException"
    assert ex.cause.startswith("Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope")


def test_unknown_service_resource_names_the_resource():
    ex = run(single_task("arn:aws:states:::nothing:here"), {})
    assert (ex.status, ex.error) == ("FAILED", "States.Runtime")
    assert "arn:aws:states:::nothing:here" in ex.cause


def test_task_timeout_is_states_timeout():
    registry = IntegrationRegistry()
    release = threading.Event()
    registry.register("arn:aws:states:::slow:work", lambda inv: release.wait(30))
    machine = StateMachine(single_task("arn:aws:states:::slow:work", TimeoutSeconds=1), registry=registry)
    ex = machine.run({})
    release.set()
    assert (ex.status, ex.error) == ("FAILED", "States.Timeout")
    assert "TaskTimedOut" in ex.event_types


def test_result_over_256_kib_is_data_limit_exceeded():
    big = "x" * (256 * 1024)
    ex = run(single_task("arn:aws:lambda:us-east-1:123456789012:function:big"), {}, functions={"big": lambda e: big})
    assert ex.error == "States.DataLimitExceeded"
    assert "'T' returned a result with a size exceeding" in ex.cause


def _callback_machine(**fields):
    registry = IntegrationRegistry()
    tokens: list[str] = []
    registry.register(
        "arn:aws:states:::sqs:sendMessage.waitForTaskToken", lambda inv: tokens.append(inv.task_token) or {}
    )
    definition = single_task(
        "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        Parameters={"MessageBody": {"token.$": "$$.Task.Token"}},
        **fields,
    )
    return StateMachine(definition, registry=registry), tokens


def _when_token(tokens, action):
    def worker():
        while not tokens:
            time.sleep(0.01)
        action(tokens[0])

    threading.Thread(target=worker, daemon=True).start()


def test_wait_for_task_token_succeeds_when_the_token_comes_back():
    machine, tokens = _callback_machine()
    _when_token(tokens, lambda t: machine.tokens.send_success(t, {"answer": 42}))
    ex = machine.run({})
    assert (ex.status, ex.output) == ("SUCCEEDED", {"answer": 42})
    assert ex.event_types[2:6] == ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded"]


def test_wait_for_task_token_failure_is_the_sent_error():
    machine, tokens = _callback_machine()
    _when_token(tokens, lambda t: machine.tokens.send_failure(t, "Rejected", "no"))
    ex = machine.run({})
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "Rejected", "no")


def test_heartbeat_timeout_without_heartbeats():
    """AWS records a callback's heartbeat running out as TaskTimedOut with States.Timeout
    (LocalStack's AWS-recorded snapshot of test_heartbeat_timeout, 18-04-2024)."""
    machine, _ = _callback_machine(HeartbeatSeconds=1, TimeoutSeconds=30)
    ex = machine.run({})
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "States.Timeout", None)
    timed_out = [e for e in ex.history if e.event_type == "TaskTimedOut"]
    assert len(timed_out) == 1 and timed_out[0].details["error"] == "States.Timeout"
    assert "TaskFailed" not in ex.event_types


@pytest.mark.parametrize(
    ("error_equals", "caught"),
    [(["States.HeartbeatTimeout"], True), (["States.Timeout"], True), (["States.TaskFailed"], False)],
)
def test_a_heartbeat_timeout_is_caught_by_either_name(error_equals, caught):
    """AWS's error-names page offers States.HeartbeatTimeout to Retry and Catch; the
    error itself is States.Timeout, which States.TaskFailed does not match."""
    resource = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
    registry = IntegrationRegistry()
    registry.register(resource, lambda invocation: {})
    task = {"Type": "Task", "Resource": resource, "Parameters": {"MessageBody": {"token.$": "$$.Task.Token"}},
            "HeartbeatSeconds": 1, "TimeoutSeconds": 30, "Next": "Done",
            "Catch": [{"ErrorEquals": error_equals, "Next": "Caught"}]}
    machine = StateMachine({"StartAt": "T", "States": {
        "T": task, "Done": {"Type": "Succeed"}, "Caught": {"Type": "Pass", "End": True}}}, registry=registry)
    ex = machine.run({})
    if caught:
        assert (ex.status, ex.output) == ("SUCCEEDED", {"Error": "States.Timeout"})
    else:
        assert (ex.status, ex.error) == ("FAILED", "States.Timeout")


def test_a_sent_token_cannot_be_used_twice():
    from stepkit.engine.task_tokens import InvalidToken

    machine, tokens = _callback_machine()
    _when_token(tokens, lambda t: machine.tokens.send_success(t, {}))
    machine.run({})
    try:
        machine.tokens.send_success(tokens[0], {})
    except InvalidToken:
        pass
    else:
        raise AssertionError("a used token was accepted")


def test_handler_errors_propagate_with_their_names():
    registry = IntegrationRegistry()

    def fail(inv):
        raise StatesError("Custom.Error", "details")

    registry.register("arn:aws:states:::x:y", fail)
    ex = StateMachine(single_task("arn:aws:states:::x:y"), registry=registry).run({})
    assert (ex.error, ex.cause) == ("Custom.Error", "details")


def test_stopping_an_execution_releases_its_task_waiting_for_a_callback():
    machine, tokens = _callback_machine()
    run_ = machine.prepare({})
    _when_token(tokens, lambda t: run_.stop("Stopped", "by test"))
    ex = run_.start()
    assert ex.status == "ABORTED"
