"""Bad input gets AWS's error shape and code, and never takes the server down."""

from __future__ import annotations

import base64
import json
import socket
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import ROLE, SIGNATURE, create_function, create_machine, unique, zip_code

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


# -- issue 12: bad input never leaves a record behind ------------------------------------------

LAMBDA_JSON = "application/json"
DEEP = b"[" * 10000 + b"]" * 10000
SURROGATE = "a\ud800b"


def _function_body(name: str, **extra: Any) -> dict[str, Any]:
    code = base64.b64encode(zip_code({"app.py": "def handler(event, context):\n    return event\n"})).decode()
    return {"FunctionName": name, "Runtime": "python3.11", "Role": ROLE, "Handler": "app.handler",
            "Code": {"ZipFile": code}, **extra}


def _create_function_raw(endpoint: LocalEndpoint, body: dict[str, Any]) -> tuple[int, str, dict]:
    status, head, answer = _post(endpoint.url, json.dumps(body).encode(), path="/2015-03-31/functions",
                                 content_type=LAMBDA_JSON)
    return status, head.get("X-Amzn-ErrorType", ""), answer


def _function_names(lam: Any) -> set[str]:
    return {f["FunctionName"] for f in lam.list_functions()["Functions"]}


def test_lone_surrogate_in_state_machine_name(endpoint: LocalEndpoint, sfn: Any) -> None:
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    body = json.dumps({"name": SURROGATE, "definition": definition, "roleArn": ROLE}).encode()
    status, _, answer = _post(endpoint.url, body, "AWSStepFunctions.CreateStateMachine")
    assert (status, answer["__type"]) == (400, "InvalidName")
    assert answer["message"] == f"Invalid Name: '{SURROGATE}'"
    names = [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
    assert SURROGATE not in names and all(isinstance(n, str) for n in names)


def test_lone_surrogate_in_execution_name(endpoint: LocalEndpoint, sfn: Any) -> None:
    arn = create_machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    for name in (SURROGATE, "\udc00", "a\ufffe", "a\U0010ffff"):
        body = json.dumps({"stateMachineArn": arn, "name": name}).encode()
        status, _, answer = _post(endpoint.url, body, "AWSStepFunctions.StartExecution")
        assert (status, answer["__type"]) == (400, "InvalidName")
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []
    sfn.delete_state_machine(stateMachineArn=arn)
    assert arn not in [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]]


def test_lone_surrogate_in_input_and_task_output(endpoint: LocalEndpoint, sfn: Any) -> None:
    arn = create_machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    body = json.dumps({"stateMachineArn": arn, "input": json.dumps({"k": SURROGATE})}).encode()
    status, _, answer = _post(endpoint.url, body, "AWSStepFunctions.StartExecution")
    assert (status, answer["__type"]) == (400, "InvalidExecutionInput")
    body = json.dumps({"taskToken": "t" * 64, "output": json.dumps([SURROGATE])}).encode()
    status, _, answer = _post(endpoint.url, body, "AWSStepFunctions.SendTaskSuccess")
    assert (status, answer["__type"]) == (400, "InvalidOutput")
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []
    name = unique("sm")
    definition = json.dumps({"StartAt": SURROGATE, "States": {SURROGATE: {"Type": "Pass", "End": True}}})
    body = json.dumps({"name": name, "definition": definition, "roleArn": ROLE}).encode()
    status, _, answer = _post(endpoint.url, body, "AWSStepFunctions.CreateStateMachine")
    assert (status, answer["__type"]) == (400, "InvalidDefinition")
    assert name not in [m["name"] for m in sfn.list_state_machines()["stateMachines"]]


def test_bad_function_environments_create_nothing(endpoint: LocalEndpoint, lam: Any) -> None:
    cases = [
        ({"GREETING": SURROGATE}, "InvalidParameterValueException", "unpaired UTF-16 surrogate"),
        ({"GREETING": "a\x00b"}, "InvalidParameterValueException", "NUL character"),
        ({"AWS_REGION": "eu-west-1"}, "InvalidParameterValueException", "Reserved keys used in this request: "
                                                                        "AWS_REGION"),
        ({"BIG": "x" * 5000}, "InvalidParameterValueException", "exceeded the 4KB limit"),
        ({"A": "1"}, "ValidationException", "Map keys must satisfy constraint"),
    ]
    for variables, code, words in cases:
        name = unique("env")
        status, error, answer = _create_function_raw(endpoint, _function_body(name, Environment={
            "Variables": variables}))
        assert (status, error) == (400, code), answer
        assert words in answer["message"]
        assert name not in _function_names(lam)
    name = create_function(lam, "def handler(event, context):\n    return 'ok'\n")
    body = json.dumps({"Environment": {"Variables": {"GREETING": "a\x00b"}}}).encode()
    status, head, _ = _post(endpoint.url, body, path=f"/2015-03-31/functions/{name}/configuration", method="PUT",
                            content_type=LAMBDA_JSON)
    assert (status, head["X-Amzn-ErrorType"]) == (400, "InvalidParameterValueException")
    assert "Environment" not in lam.get_function_configuration(FunctionName=name)
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "ok"  # the function still works
    lam.delete_function(FunctionName=name)


def test_zip_file_that_is_not_base64(endpoint: LocalEndpoint, lam: Any) -> None:
    name = unique("zip")
    body = _function_body(name)
    body["Code"]["ZipFile"] = "not base64!!"
    status, error, answer = _create_function_raw(endpoint, body)
    assert (status, error) == (400, "InvalidRequestContentException")
    assert answer["message"].startswith("Could not parse request body into json: ")
    body["Code"]["ZipFile"] = base64.b64encode(b"base64, but not a zip").decode()
    status, error, answer = _create_function_raw(endpoint, body)
    assert (status, error) == (400, "InvalidParameterValueException")
    assert "Could not unzip uploaded file" in answer["message"]
    assert name not in _function_names(lam)


def test_json_nested_too_deep(endpoint: LocalEndpoint, sfn: Any) -> None:
    status, _, answer = _post(endpoint.url, DEEP, "AWSStepFunctions.ListStateMachines")
    assert (status, answer["__type"]) == (400, "SerializationException")
    status, head, _ = _post(endpoint.url, DEEP, path="/2015-03-31/functions", content_type=LAMBDA_JSON)
    assert (status, head["X-Amzn-ErrorType"]) == (400, "InvalidRequestContentException")
    arn = create_machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    body = json.dumps({"stateMachineArn": arn, "input": DEEP.decode()}).encode()
    status, _, answer = _post(endpoint.url, body, "AWSStepFunctions.StartExecution")
    assert (status, answer["__type"]) == (400, "InvalidExecutionInput")
    body = json.dumps({"name": unique("deep"), "definition": DEEP.decode(), "roleArn": ROLE}).encode()
    status, _, answer = _post(endpoint.url, body, "AWSStepFunctions.CreateStateMachine")
    assert (status, answer["__type"]) == (400, "InvalidDefinition")
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []


def test_invoke_payload_nested_too_deep(endpoint: LocalEndpoint, lam: Any) -> None:
    name = create_function(lam, "def handler(event, context):\n    return 'ok'\n")
    status, head, _ = _post(endpoint.url, DEEP, path=f"/2015-03-31/functions/{name}/invocations",
                            content_type=LAMBDA_JSON)
    assert (status, head["X-Amzn-ErrorType"]) == (400, "InvalidRequestContentException")
    assert json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()) == "ok"
    lam.delete_function(FunctionName=name)
