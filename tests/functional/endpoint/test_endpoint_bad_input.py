"""Bad input gets AWS's error shape and code, and never takes the server down."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import ROLE, SIGNATURE, create_machine, unique

from stepkit.endpoint import LocalEndpoint

SFN = "application/x-amz-json-1.0"


def _post(url: str, body: bytes, target: str | None = None, path: str = "/", method: str = "POST",
          content_type: str = SFN) -> tuple[int, dict[str, str], Any]:
    headers = {"Content-Type": content_type, "Authorization": SIGNATURE}
    if target:
        headers["X-Amz-Target"] = target
    request = urllib.request.Request(url + path, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request) as response:
            status, head, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        status, head, raw = err.code, dict(err.headers), err.read()
    try:
        return status, head, json.loads(raw) if raw else None
    except ValueError:
        return status, head, raw


def test_unknown_action(endpoint: LocalEndpoint) -> None:
    status, _, body = _post(endpoint.url, b"{}", "AWSStepFunctions.DoSomethingElse")
    assert status == 400
    assert body["__type"] == "UnknownOperationException"
    assert "DoSomethingElse" in body["message"]


def test_malformed_json(endpoint: LocalEndpoint) -> None:
    status, _, body = _post(endpoint.url, b'{"stateMachineArn": ', "AWSStepFunctions.StartExecution")
    assert status == 400
    assert body["__type"] == "SerializationException"


def test_missing_required_parameter(endpoint: LocalEndpoint) -> None:
    status, _, body = _post(endpoint.url, b'{"input": "{}"}', "AWSStepFunctions.StartExecution")
    assert status == 400
    assert body == {"__type": "ValidationException", "message": "1 validation error detected: Value null at "
                    "'stateMachineArn' failed to satisfy constraint: Member must not be null"}
    status, _, body = _post(endpoint.url, b'{"name": ""}', "AWSStepFunctions.CreateStateMachine")
    assert body["__type"] == "ValidationException"
    assert body["message"].startswith("3 validation errors detected: ")


def test_wrong_type_and_constraint(endpoint: LocalEndpoint) -> None:
    status, _, body = _post(endpoint.url, json.dumps({"stateMachineArn": 12}).encode(),
                            "AWSStepFunctions.DescribeStateMachine")
    assert (status, body["__type"]) == (400, "SerializationException")
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:x"
    status, _, body = _post(endpoint.url, json.dumps({"stateMachineArn": arn, "maxResults": 5000}).encode(),
                            "AWSStepFunctions.ListExecutions")
    assert body["__type"] == "ValidationException"
    assert "Member must have value less than or equal to 1000" in body["message"]


def test_definition_that_does_not_validate(sfn: Any) -> None:
    bad = {"StartAt": "Missing", "States": {"A": {"Type": "Pass", "End": True}}}
    with pytest.raises(ClientError) as exc:
        sfn.create_state_machine(name=unique("bad"), definition=json.dumps(bad), roleArn=ROLE)
    error = exc.value.response["Error"]
    assert error["Code"] == "InvalidDefinition"
    assert error["Message"].startswith("Invalid State Machine Definition: '")
    assert "MISSING_TRANSITION_TARGET" in error["Message"]
    with pytest.raises(ClientError) as exc:
        sfn.create_state_machine(name=unique("bad"), definition="{not json", roleArn=ROLE)
    assert exc.value.response["Error"]["Code"] == "InvalidDefinition"


def test_unknown_and_malformed_arns(sfn: Any) -> None:
    arn = create_machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    unknown = arn.replace(":stateMachine:", ":execution:") + ":nope"
    with pytest.raises(ClientError) as exc:
        sfn.describe_execution(executionArn=unknown)
    assert exc.value.response["Error"]["Code"] == "ExecutionDoesNotExist"
    assert exc.value.response["Error"]["Message"] == f"Execution Does Not Exist: '{unknown}'"
    with pytest.raises(ClientError) as exc:
        sfn.get_execution_history(executionArn="not-an-arn")
    assert exc.value.response["Error"]["Code"] == "InvalidArn"
    with pytest.raises(ClientError) as exc:
        sfn.start_execution(stateMachineArn=arn + "-gone")
    assert exc.value.response["Error"]["Code"] == "StateMachineDoesNotExist"


def test_lambda_bad_input(endpoint: LocalEndpoint, lam: Any) -> None:
    status, head, body = _post(endpoint.url, b'{"FunctionName": ', path="/2015-03-31/functions",
                               content_type="application/json")
    assert status == 400
    assert head["X-Amzn-ErrorType"] == "InvalidRequestContentException"
    status, head, body = _post(endpoint.url, b"{}", path="/2015-03-31/functions", content_type="application/json")
    assert (status, head["X-Amzn-ErrorType"]) == (400, "ValidationException")
    assert "Value null at 'functionName'" in body["message"]
    with pytest.raises(ClientError) as exc:
        lam.get_function(FunctionName="arn:aws:lambda:eu-west-1:123456789012:function:elsewhere")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_garbage_never_crashes_the_server(endpoint: LocalEndpoint, sfn: Any) -> None:
    junk = [
        (b"\xff\xfe\x00garbage", "AWSStepFunctions.StartExecution", "/", "POST"),
        (b"[]", "AWSStepFunctions.ListStateMachines", "/", "POST"),
        (b'"just a string"', "AWSStepFunctions.DescribeExecution", "/", "POST"),
        (b"{}", "AWSStepFunctions.", "/", "POST"),
        (b"{}", None, "/2015-03-31/functions/x/invocations", "DELETE"),
        (b"\x00" * 1000, None, "/2015-03-31/functions/%ZZ/invocations", "POST"),
        (b"{}", "AWSStepFunctions.GetExecutionHistory", "/", "PUT"),
    ]
    for body, target, path, method in junk:
        status, _, _ = _post(endpoint.url, body, target, path=path, method=method)
        assert 400 <= status < 600
    # a raw socket speaking no HTTP at all
    with socket.create_connection(("127.0.0.1", endpoint.port), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01 not http\r\n\r\n")
        sock.recv(1024)
    assert "stateMachines" in sfn.list_state_machines()


def test_binds_loopback_only(endpoint: LocalEndpoint) -> None:
    assert endpoint.url.startswith("http://127.0.0.1:")
    try:  # an address of this machine that is not loopback, if it has one
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.connect(("10.255.255.255", 1))
        address = probe.getsockname()[0]
        probe.close()
    except OSError:
        address = "127.0.0.1"
    if address.startswith("127."):
        pytest.skip("this machine has no non-loopback address to try")
    with pytest.raises(OSError):
        socket.create_connection((address, endpoint.port), timeout=2).close()
