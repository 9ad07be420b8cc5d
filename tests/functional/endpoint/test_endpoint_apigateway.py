"""API Gateway's data plane on a real endpoint: REST APIs (payload 1.0) and HTTP APIs (payload
2.0) created through boto3 (moto's control plane), called over HTTP on both of LocalStack's URL
forms, with the functions run by the stepkit runtime."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from endpoint_helpers import call, create_function, unique

from stepkit.endpoint import LocalEndpoint

ECHO = """
import base64, json
def handler(event, context):
    body = event.get("body")
    if event.get("queryStringParameters", {}) and (event["queryStringParameters"] or {}).get("shape") == "multi":
        return {"statusCode": 201, "headers": {"X-One": "1"}, "multiValueHeaders": {"Set-Thing": ["a", "b"]},
                "body": json.dumps({"ok": True})}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}
"""
SHAPES = """
import base64, json, time
def handler(event, context):
    kind = (event.get("pathParameters") or {}).get("kind")
    if kind == "text":
        return "not a proxy answer"
    if kind == "extra":
        return {"statusCode": 200, "body": "x", "unexpected": 1}
    if kind == "dict-body":
        return {"statusCode": 200, "body": {"a": 1}}
    if kind == "raise":
        raise RuntimeError("boom")
    if kind == "slow":
        time.sleep(3)
        return {"statusCode": 200, "body": "late"}
    if kind == "binary":
        return {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "isBase64Encoded": True,
                "body": base64.b64encode(bytes(range(256))).decode()}
    return {"statusCode": 200, "body": "fine"}
"""
AUTHORIZER = """
def handler(event, context):
    if (event.get("headers") or {}).get("X-Key") == "garbage":
        return {"not": "a policy"}
    token = event.get("authorizationToken") or (event.get("headers") or {}).get("X-Key")
    if token == "allow":
        effect = "Allow"
    elif token == "deny":
        effect = "Deny"
    else:
        raise Exception("Unauthorized")
    return {"principalId": "user-1", "context": {"tier": "gold"},
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": [event["methodArn"]]}]}}
"""


@pytest.fixture
def apigw(clients: Callable[[str], Any]) -> Any:
    return clients("apigateway")


def _uri(function_arn: str) -> str:
    return f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations"


def _proxy_method(apigw: Any, api: str, resource: str, method: str, function_arn: str, **method_args: Any) -> None:
    apigw.put_method(restApiId=api, resourceId=resource, httpMethod=method,
                     authorizationType=method_args.pop("authorizationType", "NONE"), **method_args)
    apigw.put_integration(restApiId=api, resourceId=resource, httpMethod=method, type="AWS_PROXY",
                          integrationHttpMethod="POST", uri=_uri(function_arn),
                          **({"timeoutInMillis": 1000} if method == "PATCH" else {}))


@pytest.fixture(scope="module")
def rest_api(clients: Callable[[str], Any]) -> dict[str, Any]:
    """One REST API: /items/{id} (echo, GET and POST), /shapes/{kind} (odd answers), /files/{proxy+}
    (echo, ANY), /secure (token authorizer), OPTIONS /items/{id} (a MOCK for CORS)."""
    lam, apigw = clients("lambda"), clients("apigateway")
    echo = lam.get_function(FunctionName=create_function(lam, ECHO))["Configuration"]["FunctionArn"]
    shapes = lam.get_function(FunctionName=create_function(lam, SHAPES, Timeout=10))["Configuration"]["FunctionArn"]
    auth = lam.get_function(FunctionName=create_function(lam, AUTHORIZER))["Configuration"]["FunctionArn"]
    api = apigw.create_rest_api(name=unique("api"))["id"]
    # moto's CreateRestApi drops binaryMediaTypes; its UpdateRestApi "add" takes the type as the value.
    apigw.update_rest_api(restApiId=api, patchOperations=[
        {"op": "add", "path": "/binaryMediaTypes", "value": "image/png"}])
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]

    def child(parent: str, part: str) -> str:
        return apigw.create_resource(restApiId=api, parentId=parent, pathPart=part)["id"]

    items = child(child(root, "items"), "{id}")
    _proxy_method(apigw, api, items, "GET", echo)
    _proxy_method(apigw, api, items, "POST", echo)
    apigw.put_method(restApiId=api, resourceId=items, httpMethod="OPTIONS", authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=items, httpMethod="OPTIONS", type="MOCK",
                          requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_method_response(restApiId=api, resourceId=items, httpMethod="OPTIONS", statusCode="200",
                              responseParameters={"method.response.header.Access-Control-Allow-Origin": False})
    apigw.put_integration_response(
        restApiId=api, resourceId=items, httpMethod="OPTIONS", statusCode="200",
        responseParameters={"method.response.header.Access-Control-Allow-Origin": "'https://example.org'",
                            "method.response.header.Access-Control-Allow-Methods": "'GET,POST'"},
        responseTemplates={"application/json": ""})
    kinds = child(child(root, "shapes"), "{kind}")
    _proxy_method(apigw, api, kinds, "GET", shapes)
    _proxy_method(apigw, api, kinds, "PATCH", shapes)  # its integration times out after 1 s
    _proxy_method(apigw, api, child(child(root, "files"), "{proxy+}"), "ANY", echo)
    authorizer = apigw.create_authorizer(restApiId=api, name="tok", type="TOKEN", authorizerUri=_uri(auth),
                                         identitySource="method.request.header.Authorization",
                                         authorizerResultTtlInSeconds=0)["id"]
    _proxy_method(apigw, api, child(root, "secure"), "GET", echo, authorizationType="CUSTOM",
                  authorizerId=authorizer)
    by_request = apigw.create_authorizer(restApiId=api, name="req", type="REQUEST", authorizerUri=_uri(auth),
                                         identitySource="method.request.header.X-Key")["id"]
    _proxy_method(apigw, api, child(root, "guarded"), "GET", echo, authorizationType="CUSTOM",
                  authorizerId=by_request)
    apigw.create_deployment(restApiId=api, stageName="dev", variables={"colour": "blue"})
    return {"id": api}


def _user(endpoint: LocalEndpoint, api: str, path: str, stage: str = "dev") -> str:
    return f"{endpoint.url}/restapis/{api}/{stage}/_user_request_{path}"


def test_rest_proxy_event_and_response(endpoint: LocalEndpoint, rest_api: dict[str, Any]) -> None:
    status, headers, body = call(_user(endpoint, rest_api["id"], "/items/42?a=1&a=2&b=x"), "POST",
                                 b'{"n": 1}', {"Content-Type": "application/json", "X-Custom": "v"})
    assert status == 200, body
    event = json.loads(body)
    assert event["resource"] == "/items/{id}" and event["path"] == "/items/42" and event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"id": "42"} and event["stageVariables"] == {"colour": "blue"}
    assert event["queryStringParameters"] == {"a": "2", "b": "x"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x"]}
    assert event["headers"]["X-Custom"] == "v" and event["multiValueHeaders"]["X-Custom"] == ["v"]
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1" and event["headers"]["X-Forwarded-Proto"] == "http"
    assert event["headers"]["X-Forwarded-Port"] == str(endpoint.port)
    assert headers["X-Amzn-Trace-Id"] == event["headers"]["X-Amzn-Trace-Id"].split(";")[0]
    assert event["body"] == '{"n": 1}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "dev" and context["apiId"] == rest_api["id"] and context["path"] == "/dev/items/42"
    assert context["resourcePath"] == "/items/{id}" and context["accountId"] == "123456789012"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert headers["x-amzn-RequestId"] == context["requestId"]


def test_rest_host_form_multi_value_headers_and_greedy_path(endpoint: LocalEndpoint, rest_api: dict[str, Any]) -> None:
    host = f"{rest_api['id']}.execute-api.localhost.localstack.cloud:{endpoint.port}"
    status, headers, body = call(f"{endpoint.url}/dev/items/7?shape=multi", host=host)
    assert status == 201 and json.loads(body) == {"ok": True}
    assert headers["X-One"] == "1" and headers.get_all("Set-Thing") == ["a", "b"]
    status, _, body = call(f"{endpoint.url}/dev/files/a/b/c.txt", "DELETE", host=host)
    event = json.loads(body)
    assert status == 200 and event["pathParameters"] == {"proxy": "a/b/c.txt"} and event["httpMethod"] == "DELETE"


def test_rest_unknown_routes_answer_missing_authentication_token(endpoint: LocalEndpoint,
                                                                 rest_api: dict[str, Any]) -> None:
    for path, method in (("/nowhere", "GET"), ("/items", "GET"), ("/items/1", "PUT"), ("/", "GET")):
        status, headers, body = call(_user(endpoint, rest_api["id"], path), method)
        assert (status, body) == (403, b'{"message":"Missing Authentication Token"}'), (path, method)
        assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    status, _, body = call(_user(endpoint, rest_api["id"], "/items/1", stage="nostage"))
    assert (status, body) == (403, b'{"message":"Forbidden"}')


@pytest.mark.parametrize("kind", ["text", "extra", "dict-body", "raise"])
def test_rest_malformed_or_failing_function_is_502(endpoint: LocalEndpoint, rest_api: dict[str, Any],
                                                   kind: str) -> None:
    status, _, body = call(_user(endpoint, rest_api["id"], f"/shapes/{kind}"))
    assert (status, body) == (502, b'{"message": "Internal server error"}')


def test_rest_integration_timeout_is_504_and_endpoint_stays_up(endpoint: LocalEndpoint,
                                                               rest_api: dict[str, Any]) -> None:
    # The PATCH integration's timeoutInMillis is 1000 (AWS's own setting, 50..29000 ms; 29 s by
    # default); the function sleeps 3 s.
    status, _, body = call(_user(endpoint, rest_api["id"], "/shapes/slow"), "PATCH")
    assert (status, body) == (504, b'{"message": "Endpoint request timed out"}')
    assert call(_user(endpoint, rest_api["id"], "/shapes/ok"))[0] == 200


def test_rest_body_over_10_mb_is_413(endpoint: LocalEndpoint, rest_api: dict[str, Any]) -> None:
    status, _, body = call(_user(endpoint, rest_api["id"], "/items/1"), "POST", b"x" * (10 * 1024 * 1024 + 1))
    assert (status, body) == (413, b'{"message":"Request Too Long"}')
    assert call(_user(endpoint, rest_api["id"], "/items/1"))[0] == 200


def test_rest_binary_media_types(endpoint: LocalEndpoint, rest_api: dict[str, Any]) -> None:
    status, _, body = call(_user(endpoint, rest_api["id"], "/items/1"), "POST", b"\x89PNG\x00\xff",
                           {"Content-Type": "image/png"})
    event = json.loads(body)
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x89PNG\x00\xff"
    status, headers, body = call(_user(endpoint, rest_api["id"], "/shapes/binary"), headers={"Accept": "image/png"})
    assert status == 200 and body == bytes(range(256)) and headers["Content-Type"] == "image/png"
    # A client that does not accept the binary type gets the base64 text, as on AWS.
    status, _, body = call(_user(endpoint, rest_api["id"], "/shapes/binary"), headers={"Accept": "text/plain"})
    assert base64.b64decode(body) == bytes(range(256))


def test_rest_cors_preflight_from_mock_integration(endpoint: LocalEndpoint, rest_api: dict[str, Any]) -> None:
    status, headers, _ = call(_user(endpoint, rest_api["id"], "/items/1"), "OPTIONS",
                              headers={"Origin": "https://example.org"})
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "https://example.org"
    assert headers["Access-Control-Allow-Methods"] == "GET,POST"


def test_rest_token_authorizer(endpoint: LocalEndpoint, rest_api: dict[str, Any]) -> None:
    url = _user(endpoint, rest_api["id"], "/secure")
    assert call(url)[:3:2] == (401, b'{"message":"Unauthorized"}')
    assert call(url, headers={"Authorization": "nobody"})[:3:2] == (401, b'{"message":"Unauthorized"}')
    status, _, body = call(url, headers={"Authorization": "deny"})
    assert (status, json.loads(body)) == (
        403, {"message": "User is not authorized to access this resource with an explicit deny"})
    status, _, body = call(url, headers={"Authorization": "allow"})
    assert status == 200
    authorizer = json.loads(body)["requestContext"]["authorizer"]
    assert authorizer["principalId"] == "user-1" and authorizer["tier"] == "gold"


def test_rest_throttling_settings(endpoint: LocalEndpoint, apigw: Any, rest_api: dict[str, Any]) -> None:
    api = rest_api["id"]
    apigw.create_deployment(restApiId=api, stageName="throttled")
    apigw.update_stage(restApiId=api, stageName="throttled", patchOperations=[
        {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "0"},
        {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "0"}])
    status, headers, body = call(_user(endpoint, api, "/items/1", stage="throttled"))
    assert headers["x-amzn-ErrorType"] == "TooManyRequestsException"
    assert (status, body) == (429, b'{"message":"Too Many Requests"}')
    assert call(_user(endpoint, api, "/items/1"))[0] == 200


def test_rest_request_authorizer(endpoint: LocalEndpoint, rest_api: dict[str, Any]) -> None:
    url = _user(endpoint, rest_api["id"], "/guarded?q=1")
    assert call(url)[::2] == (401, b'{"message":"Unauthorized"}')  # no X-Key: the identity source is missing
    status, _, body = call(url, headers={"X-Key": "allow"})
    assert status == 200 and json.loads(body)["requestContext"]["authorizer"]["principalId"] == "user-1"
    status, _, body = call(url, headers={"X-Key": "deny"})
    assert status == 403
    # An authorizer that answers no policy is a configuration error, as AWS words it.
    status, headers, body = call(url, headers={"X-Key": "garbage"})
    assert (status, body, headers["x-amzn-ErrorType"]) == (500, b'{"message":null}',
                                                           "AuthorizerConfigurationException")


def test_rest_percent_encoded_paths(endpoint: LocalEndpoint, rest_api: dict[str, Any]) -> None:
    status, _, body = call(_user(endpoint, rest_api["id"], "/items/caf%C3%A9%2Fau%20lait"))
    event = json.loads(body)
    assert status == 200 and event["pathParameters"] == {"id": "café/au lait"}
    assert event["path"] == "/items/café/au lait"
