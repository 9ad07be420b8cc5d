"""Unit tests of the model-driven request validation (``stepkit.endpoint.validation``) and of
the endpoint's last-resort 500, which never echoes what failed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepkit.endpoint.app import EndpointApp
from stepkit.endpoint.errors import AwsError
from stepkit.endpoint.protocol import service_model
from stepkit.endpoint.validation import InputRules, check_input, java_pattern, parse_json

LAMBDA = InputRules("InvalidRequestContentException")


def _input(service: str, operation: str):  # type: ignore[no-untyped-def]
    return service_model(service).operation_model(operation).input_shape


def _patterns(service: str) -> set[str]:
    model = service_model(service)
    found: set[str] = set()
    seen: set[str] = set()
    stack = [model.operation_model(name).input_shape for name in model.operation_names]
    while stack:
        shape = stack.pop()
        if shape is None or shape.name in seen:
            continue
        seen.add(shape.name)
        if "pattern" in shape.metadata:
            found.add(shape.metadata["pattern"])
        stack.extend(shape.members.values() if shape.type_name == "structure" else [])
        stack.extend([shape.member] if shape.type_name == "list" else [])
        stack.extend([shape.key, shape.value] if shape.type_name == "map" else [])
    return found


@pytest.mark.parametrize("service", ["stepfunctions", "lambda"])
def test_every_pattern_of_the_models_is_checked(service: str) -> None:
    patterns = _patterns(service)
    assert patterns
    assert [p for p in patterns if java_pattern(p) is None] == []


def test_java_unicode_classes() -> None:
    tag = java_pattern(r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)")
    assert tag is not None
    assert tag.fullmatch("Équipe 2: a/b=c+d@e") and tag.fullmatch("名前")
    assert tag.fullmatch("no!") is None and tag.fullmatch("tab\there") is None
    ascii_only = java_pattern(r"\p{ASCII}*")
    assert ascii_only is not None and ascii_only.fullmatch("Root=1-abc") and not ascii_only.fullmatch("é")


def test_patterns_and_map_keys_in_aws_words() -> None:
    with pytest.raises(AwsError) as exc:
        check_input(_input("lambda", "GetFunction"), {"FunctionName": "no spaces allowed"}, LAMBDA)
    assert exc.value.code == "ValidationException"
    assert "Value 'no spaces allowed' at 'functionName' failed to satisfy constraint: Member must satisfy " \
           "regular expression pattern: " in exc.value.message
    params = {"FunctionName": "f", "Environment": {"Variables": {"A": "secret-value"}}}
    with pytest.raises(AwsError) as exc:
        check_input(_input("lambda", "UpdateFunctionConfiguration"), params, LAMBDA)
    assert exc.value.message == ("1 validation error detected: Value at 'environment.variables' failed to satisfy "
                                 "constraint: Map keys must satisfy constraint: [Member must satisfy regular "
                                 "expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]")
    assert "secret-value" not in exc.value.message  # a sensitive member's value is never repeated


def test_type_errors_follow_the_service() -> None:
    shape = _input("lambda", "CreateFunction")
    base = {"FunctionName": "f", "Role": "arn:aws:iam::123456789012:role/r", "Code": {}}
    for bad in ({"Timeout": "3"}, {"Timeout": 2**40}, {"Publish": "yes"}, {"Code": []}):
        with pytest.raises(AwsError) as exc:
            check_input(shape, {**base, **bad}, LAMBDA)
        assert exc.value.code == "InvalidRequestContentException"
        assert exc.value.message.startswith("Could not parse request body into json: ")
    with pytest.raises(AwsError) as exc:
        check_input(_input("stepfunctions", "ListStateMachines"), {"maxResults": 2**31})
    assert exc.value.code == "SerializationException"


def test_blobs_are_decoded_strictly() -> None:
    params: dict[str, Any] = {"FunctionName": "f", "Role": "arn:aws:iam::123456789012:role/r",
                              "Code": {"ZipFile": "UEsFBg=="}}
    check_input(_input("lambda", "CreateFunction"), params, LAMBDA)
    assert params["Code"]["ZipFile"] == b"PK\x05\x06"
    for text in ("not base64!!", "UEsFBg", "ü"):
        with pytest.raises(AwsError) as exc:
            check_input(_input("lambda", "CreateFunction"), {**params, "Code": {"ZipFile": text}}, LAMBDA)
        assert exc.value.code == "InvalidRequestContentException"


def test_null_members_are_not_set() -> None:
    params = {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:m", "name": None}
    check_input(_input("stepfunctions", "StartExecution"), params)
    assert params == {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:m"}


def test_lone_surrogates_get_the_services_error() -> None:
    seen = []

    def bad_text(operation: str, path: str, value: str) -> AwsError:
        seen.append((operation, path, value))
        return AwsError("InvalidName", "refused")

    rules = InputRules("SerializationException", bad_text)
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:m"
    with pytest.raises(AwsError) as exc:
        check_input(_input("stepfunctions", "StartExecution"), {"stateMachineArn": arn, "name": "a\ud800b"},
                    rules, "StartExecution")
    assert exc.value.code == "InvalidName"
    assert seen == [("StartExecution", "name", "a\ud800b")]
    check_input(_input("stepfunctions", "StartExecution"), {"stateMachineArn": arn, "name": "a\U0001f600b"},
                rules)  # a pair is a character like any other
    with pytest.raises(AwsError) as exc:  # without a rule of the service's: a ValidationException
        check_input(_input("stepfunctions", "DescribeStateMachine"), {"stateMachineArn": "\udfff"})
    assert exc.value.code == "ValidationException"


def test_parse_json_refuses_what_aws_parsers_refuse() -> None:
    assert parse_json('{"a": [1, 2.5, "\\ud83d\\ude00"]}') == {"a": [1, 2.5, "😀"]}
    for text in ("[" * 10000 + "]" * 10000, '{"a": NaN}', "[Infinity]", b"\xff\xfe"):
        with pytest.raises(ValueError):
            parse_json(text)


def test_a_500_never_echoes_what_failed() -> None:
    def failing(environ: dict, start_response: Any) -> list[bytes]:
        raise RuntimeError("environment value secret-value of record my-record")

    class Router(EndpointApp):
        def route(self, environ: dict) -> Any:
            return failing

    answered: list[str] = []
    app = Router(failing, None, failing)
    body = b"".join(app({"PATH_INFO": "/"}, lambda status, headers, exc_info=None: answered.append(status)))
    assert answered == ["500 Internal Server Error"]
    error = json.loads(body)
    assert error["__type"] == "InternalFailure"
    assert "secret-value" not in error["message"] and "my-record" not in error["message"]
