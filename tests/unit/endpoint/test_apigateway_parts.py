"""The pure parts of API Gateway's data plane: URL forms, route matching, answer mapping, policies."""

from __future__ import annotations

import base64
import json

import pytest

from stepkit.endpoint.apigateway import is_user_api_request
from stepkit.endpoint.apigateway.authorizers import _allows, _AuthorizerAnswer
from stepkit.endpoint.apigateway.httpapi import _route_rank, response_v2
from stepkit.endpoint.apigateway.invoke import function_of
from stepkit.endpoint.apigateway.rest import match_path, proxy_response
from stepkit.endpoint.apigateway.wire import GatewayError, media_type_matches, target


@pytest.mark.parametrize(("host", "path", "expected"), [
    ("127.0.0.1:4566", "/restapis/abc123/dev/_user_request_/items/1", ("api", "abc123", "dev", "/items/1")),
    ("127.0.0.1:4566", "/restapis/abc123/dev/_user_request_", ("api", "abc123", "dev", "/")),
    ("abc123.execute-api.localhost.localstack.cloud:4566", "/dev/x", ("api", "abc123", None, "/dev/x")),
    ("u1.lambda-url.eu-west-1.localhost.localstack.cloud:4566", "/a", ("function-url", "u1", "$default", "/a")),
    ("127.0.0.1:4566", "/restapis/abc123/resources", None),  # the control plane: moto's
    ("127.0.0.1:4566", "/2015-03-31/functions", None),
])
def test_url_forms(host: str, path: str, expected: tuple | None) -> None:
    environ = {"HTTP_HOST": host, "PATH_INFO": path}
    found = target(environ)
    assert (None if found is None else (found.kind, found.api_id, found.stage, found.path)) == expected
    assert is_user_api_request(environ) is (expected is not None)


def test_rest_route_precedence() -> None:
    segments = ["items", "42"]
    literal = match_path("/items/42", segments)
    param = match_path("/items/{id}", segments)
    greedy = match_path("/{proxy+}", segments)
    assert literal and param and greedy
    assert literal[0] > param[0] > greedy[0]
    assert param[1] == {"id": "42"} and greedy[1] == {"proxy": "items/42"}
    assert match_path("/items", segments) is None and match_path("/items/{id}/more", segments) is None
    assert match_path("/", []) == ((), {}) and match_path("/{proxy+}", []) is None


def test_http_route_precedence() -> None:
    exact = _route_rank("GET /items/{id}", "GET", ["items", "1"])
    anything = _route_rank("ANY /items/{id}", "GET", ["items", "1"])
    default = _route_rank("$default", "GET", ["items", "1"])
    assert exact and anything and default and exact[:2] > anything[:2] > default[:2]
    assert _route_rank("POST /items/{id}", "GET", ["items", "1"]) is None


@pytest.mark.parametrize("payload", [b"not json", b'"text"', b'{"statusCode": 200, "extra": 1}',
                                     b'{"statusCode": 200, "body": {"a": 1}}', b'{"statusCode": "x"}',
                                     b'{"headers": {"a": 1}}', b'{"multiValueHeaders": {"a": "b"}}'])
def test_malformed_proxy_answers_are_502(payload: bytes) -> None:
    with pytest.raises(GatewayError) as exc:
        proxy_response(payload, False)
    assert (exc.value.status, exc.value.message) == (502, "Internal server error")


def test_proxy_answer_mapping() -> None:
    answer = {"statusCode": 201, "headers": {"A": "1", "B": True}, "multiValueHeaders": {"a": ["x", "y"]},
              "isBase64Encoded": True, "body": base64.b64encode(b"\x00\x01").decode()}
    status, headers, body = proxy_response(json.dumps(answer).encode(), True)
    assert status == 201 and body == b"\x00\x01"
    assert headers == [("a", "x"), ("a", "y"), ("B", "true"), ("Content-Type", "application/json")]
    assert proxy_response(json.dumps(answer).encode(), False)[2] == answer["body"].encode()
    assert proxy_response(b"{}", False) == (200, [("Content-Type", "application/json")], b"")


def test_payload_2_answers() -> None:
    assert response_v2(b'{"a": 1}') == (200, [("Content-Type", "application/json")], b'{"a": 1}')
    assert response_v2(b'"hi"')[2] == b"hi"
    status, headers, _ = response_v2(b'{"statusCode": 204, "cookies": ["c=1"]}')
    assert status == 204 and ("Set-Cookie", "c=1") in headers
    with pytest.raises(GatewayError) as exc:
        response_v2(b"nope")
    assert (exc.value.status, exc.value.message) == (500, "Internal Server Error")


def test_binary_media_types() -> None:
    assert media_type_matches("image/png", ["image/*"])
    assert media_type_matches("text/html, image/png;q=0.9", ["image/png"])
    assert not media_type_matches("application/json", ["image/png"]) and not media_type_matches(None, ["*/*"])


def test_function_of_integration_uri() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"
    assert function_of(uri, {}) == arn and function_of(arn, {}) == arn
    staged = uri.replace(":f/", ":${stageVariables.fn}/")
    assert function_of(staged, {"fn": "g"}) == arn[:-1] + "g"


def test_policy_evaluation() -> None:
    arn = "arn:aws:execute-api:us-east-1:123456789012:api/dev/GET/items/1"

    def answer(*statements: tuple[str, str]) -> _AuthorizerAnswer:
        listed = [{"Effect": effect, "Action": "execute-api:Invoke", "Resource": resource}
                  for effect, resource in statements]
        return _AuthorizerAnswer.model_validate({"principalId": "p", "policyDocument": {"Statement": listed}})

    assert _allows(answer(("Allow", "arn:aws:execute-api:*:*:api/dev/GET/*")), arn)
    assert not _allows(answer(("Allow", "arn:aws:execute-api:*:*:api/dev/POST/*")), arn)
    with pytest.raises(GatewayError) as exc:
        _allows(answer(("Allow", "*"), ("Deny", arn)), arn)
    assert exc.value.status == 403
