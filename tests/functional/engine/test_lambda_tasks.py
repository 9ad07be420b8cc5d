"""Lambda Task states run by real worker processes of the local runtime."""

import json
from pathlib import Path

import pytest

from stepkit import StateMachine
from stepkit.integrations.lambda_runtime import LambdaRuntimeIntegration
from stepkit.integrations.registry import IntegrationRegistry
from stepkit.runtime import FunctionConfig, LambdaRuntime

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "functions"


@pytest.fixture(scope="module")
def registry():
    configs = [
        FunctionConfig(name="echo", code_dir=FIXTURES / "echo"),
        FunctionConfig(name="raise_error", code_dir=FIXTURES / "faults", handler="app.raise_error"),
        FunctionConfig(name="hang", code_dir=FIXTURES / "faults", handler="app.hang", timeout=0.5),
    ]
    with LambdaRuntime(configs) as runtime:
        registry = IntegrationRegistry()
        registry.set_lambda_backend(LambdaRuntimeIntegration(runtime))
        yield registry


def task(resource: str, **fields) -> dict:
    return {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": True, **fields}}}


def test_plain_function_arn_returns_the_payload(registry):
    ex = StateMachine(task("arn:aws:lambda:us-east-1:123456789012:function:echo"), registry=registry).run({"a": 1})
    assert ex.status == "SUCCEEDED"
    assert ex.output["event"] == {"a": 1}
    assert ex.event_types[2:5] == ["LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded"]


def test_lambda_invoke_returns_lambdas_envelope(registry):
    definition = task("arn:aws:states:::lambda:invoke", Parameters={"FunctionName": "echo", "Payload.$": "$"})
    ex = StateMachine(definition, registry=registry).run({"a": 1})
    assert ex.status == "SUCCEEDED"
    assert ex.output["StatusCode"] == 200 and ex.output["ExecutedVersion"] == "$LATEST"
    assert ex.output["Payload"]["event"] == {"a": 1}


def test_handler_exception_is_its_error_type_with_lambdas_document(registry):
    definition = task("arn:aws:states:::lambda:invoke", Parameters={"FunctionName": "raise_error", "Payload": {"x": 1}})
    ex = StateMachine(definition, registry=registry).run({})
    assert (ex.status, ex.error) == ("FAILED", "ValueError")
    cause = json.loads(ex.cause)
    assert cause["errorType"] == "ValueError" and cause["errorMessage"] == "bad input: 1"
    assert "stackTrace" in cause


def test_timeout_is_sandbox_timedout_and_catchable(registry):
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "hang", "Payload": {}},
                "Catch": [{"ErrorEquals": ["Sandbox.Timedout"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    ex = StateMachine(definition, registry=registry).run({})
    assert ex.status == "SUCCEEDED"
    assert ex.output["Error"] == "Sandbox.Timedout"


def test_unknown_function_is_lambda_resource_not_found(registry):
    definition = task("arn:aws:states:::lambda:invoke", Parameters={"FunctionName": "ghost", "Payload": {}})
    ex = StateMachine(definition, registry=registry).run({})
    assert ex.error == "Lambda.ResourceNotFoundException"
    assert "function:ghost:$LATEST" in ex.cause
