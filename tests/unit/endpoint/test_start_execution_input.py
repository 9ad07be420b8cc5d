"""StartExecution parses the execution input once: the value it checked is the value the run
gets (issue 20: values cross each boundary once); a resume parses the stored text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepkit.endpoint.protocol import AwsError, RequestContext
from stepkit.endpoint.stepfunctions import StepFunctionsService

CTX = RequestContext()
ROLE = "arn:aws:iam::123456789012:role/test"
ECHO = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
INPUT = '{"n": 12345678901234567890, "nested": {"x": [1, 2.5, "three"]}}'


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every JSON text parsed (``json.loads``, which the endpoint's validating parser uses too)."""
    seen: list[str] = []
    real = json.loads

    def counting(text: str | bytes, *args: Any, **kwargs: Any) -> Any:
        seen.append(text.decode() if isinstance(text, bytes) else text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(json, "loads", counting)
    return seen


def _machine(svc: StepFunctionsService) -> str:
    return svc.CreateStateMachine({"name": "echo", "definition": json.dumps(ECHO), "roleArn": ROLE},
                                  CTX)["stateMachineArn"]


def test_the_input_is_parsed_once_and_the_run_gets_that_value(sfn_service: StepFunctionsService,
                                                              parses: list[str]) -> None:
    arn = sfn_service.StartExecution({"stateMachineArn": _machine(sfn_service), "input": INPUT}, CTX)["executionArn"]
    assert sfn_service.wait_idle(60)
    assert parses.count(INPUT) == 1
    described = sfn_service.DescribeExecution({"executionArn": arn}, CTX)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == json.loads(INPUT)


def test_a_refused_input_is_parsed_once_and_starts_nothing(sfn_service: StepFunctionsService,
                                                           parses: list[str]) -> None:
    machine = _machine(sfn_service)
    with pytest.raises(AwsError) as refused:
        sfn_service.StartExecution({"stateMachineArn": machine, "input": '{"a": '}, CTX)
    assert refused.value.code == "InvalidExecutionInput"
    assert parses.count('{"a": ') == 1
    assert sfn_service.ListExecutions({"stateMachineArn": machine}, CTX)["executions"] == []
