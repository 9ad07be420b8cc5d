"""HTTP APIs (API Gateway v2, payload format 2.0) on a real endpoint: created through boto3
(moto's control plane), called over HTTP, the functions run by the stepkit runtime."""

from __future__ import annotations

import json
from typing import Any

import pytest
from endpoint_helpers import call, create_function, make_client, unique

from stepkit.endpoint import LocalEndpoint

HANDLER = """
import json, time
def handler(event, context):
    path = event.get("rawPath", "")
    if path.endswith("/plain"):
        return {"answer": 42}
    if path.endswith("/text"):
        return "hello"
    if path.endswith("/cookies"):
        return {"statusCode": 202, "cookies": ["a=1", "b=2"], "headers": {"X-Id": "7"}, "body": "ok"}
    if path.endswith("/raise"):
        raise ValueError("boom")
    if path.endswith("/bad"):
        return {"statusCode": "abc"}
    if path.endswith("/slow"):
        time.sleep(3)
    return {"statusCode": 200, "body": json.dumps(event)}
"""


@pytest.fixture(scope="module")
def http_api(endpoint: LocalEndpoint) -> dict[str, Any]:
    lam = make_client(endpoint.url, "lambda")
    v2 = make_client(endpoint.url, "apigatewayv2")
    arn = lam.get_function(FunctionName=create_function(lam, HANDLER, Timeout=10))["Configuration"]["FunctionArn"]
    api = v2.create_api(Name=unique("http"), ProtocolType="HTTP", CorsConfiguration={
        "AllowOrigins": ["https://example.org"], "AllowMethods": ["GET", "POST"], "AllowHeaders": ["content-type"],
        "MaxAge": 60})["ApiId"]
    integration = v2.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=arn,
                                        PayloadFormatVersion="2.0")["IntegrationId"]
    quick = v2.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=arn,
                                  PayloadFormatVersion="2.0", TimeoutInMillis=1000)["IntegrationId"]
    v2.create_route(ApiId=api, RouteKey="GET /items/{id}", Target=f"integrations/{integration}")
    v2.create_route(ApiId=api, RouteKey="ANY /r/{proxy+}", Target=f"integrations/{integration}")
    v2.create_route(ApiId=api, RouteKey="GET /slow", Target=f"integrations/{quick}")
    v1 = v2.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=arn,
                               PayloadFormatVersion="1.0")["IntegrationId"]
    v2.create_route(ApiId=api, RouteKey="POST /v1/{name}", Target=f"integrations/{v1}")
    v2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True, StageVariables={"colour": "red"})
    return {"id": api}


def _url(endpoint: LocalEndpoint, api: str, path: str) -> tuple[str, str]:
    return f"{endpoint.url}{path}", f"{api}.execute-api.localhost.localstack.cloud:{endpoint.port}"


def test_payload_2_event(endpoint: LocalEndpoint, http_api: dict[str, Any]) -> None:
    url, host = _url(endpoint, http_api["id"], "/items/9?a=1&a=2")
    status, headers, body = call(url, headers={"X-Thing": "v", "Cookie": "c1=x; c2=y"}, host=host)
    assert status == 200, body
    event = json.loads(body)
    assert event["version"] == "2.0" and event["routeKey"] == "GET /items/{id}"
    assert event["rawPath"] == "/items/9" and event["rawQueryString"] == "a=1&a=2"
    assert event["queryStringParameters"] == {"a": "1,2"} and event["pathParameters"] == {"id": "9"}
    assert event["headers"]["x-thing"] == "v" and event["cookies"] == ["c1=x", "c2=y"]
    assert event["stageVariables"] == {"colour": "red"} and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"]["method"] == "GET" and context["stage"] == "$default" and context["apiId"] == http_api["id"]
    assert headers["apigw-requestid"] == context["requestId"]


def test_user_request_form_and_greedy_route(endpoint: LocalEndpoint, http_api: dict[str, Any]) -> None:
    url = f"{endpoint.url}/restapis/{http_api['id']}/$default/_user_request_/r/a/b"
    status, _, body = call(url, "POST", b"payload", {"Content-Type": "text/plain"})
    event = json.loads(body)
    assert status == 200 and event["pathParameters"] == {"proxy": "a/b"} and event["body"] == "payload"


def test_response_shapes(endpoint: LocalEndpoint, http_api: dict[str, Any]) -> None:
    url, host = _url(endpoint, http_api["id"], "/r/plain")
    status, headers, body = call(url, host=host)
    assert (status, json.loads(body), headers["Content-Type"]) == (200, {"answer": 42}, "application/json")
    status, _, body = call(_url(endpoint, http_api["id"], "/r/text")[0], host=host)
    assert (status, body) == (200, b"hello")
    status, headers, body = call(_url(endpoint, http_api["id"], "/r/cookies")[0], host=host)
    assert (status, body, headers["X-Id"]) == (202, b"ok", "7")
    assert headers.get_all("Set-Cookie") == ["a=1", "b=2"]


def test_errors(endpoint: LocalEndpoint, http_api: dict[str, Any]) -> None:
    host = _url(endpoint, http_api["id"], "/")[1]
    assert call(f"{endpoint.url}/nowhere", host=host)[::2] == (404, b'{"message":"Not Found"}')
    assert call(f"{endpoint.url}/items/1", "DELETE", host=host)[::2] == (404, b'{"message":"Not Found"}')
    for path in ("/r/raise", "/r/bad"):
        assert call(f"{endpoint.url}{path}", host=host)[::2] == (500, b'{"message":"Internal Server Error"}')
    # The /slow route's integration times out after 1 s (TimeoutInMillis; 30 s by default).
    assert call(f"{endpoint.url}/slow", host=host)[::2] == (503, b'{"message":"Service Unavailable"}')
    assert call(f"{endpoint.url}/items/1", host=host)[0] == 200


def test_cors_configuration(endpoint: LocalEndpoint, http_api: dict[str, Any]) -> None:
    url, host = _url(endpoint, http_api["id"], "/items/1")
    status, headers, body = call(url, "OPTIONS", host=host, headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "GET"})
    assert (status, body) == (204, b"")
    assert headers["Access-Control-Allow-Origin"] == "https://example.org"
    assert headers["Access-Control-Allow-Methods"] == "GET,POST" and headers["Access-Control-Max-Age"] == "60"
    status, headers, _ = call(url, host=host, headers={"Origin": "https://example.org"})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "https://example.org"
    status, headers, _ = call(url, host=host, headers={"Origin": "https://evil.example"})
    assert status == 200 and headers["Access-Control-Allow-Origin"] is None


def test_payload_1_integration(endpoint: LocalEndpoint, http_api: dict[str, Any]) -> None:
    url, host = _url(endpoint, http_api["id"], "/v1/ada?x=1&x=2")
    status, _, body = call(url, "POST", b"hi", {"Content-Type": "text/plain"}, host=host)
    event = json.loads(body)
    assert status == 200 and event["version"] == "1.0" and event["httpMethod"] == "POST"
    assert event["resource"] == "/v1/{name}" and event["path"] == "/v1/ada"
    assert event["pathParameters"] == {"name": "ada"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]} and event["body"] == "hi"


def test_named_stage_is_the_first_path_part(endpoint: LocalEndpoint, http_api: dict[str, Any]) -> None:
    v2 = make_client(endpoint.url, "apigatewayv2")
    api = v2.create_api(Name=unique("staged"), ProtocolType="HTTP")["ApiId"]
    integration = v2.create_integration(ApiId=api, IntegrationType="AWS_PROXY", PayloadFormatVersion="2.0",
                                        IntegrationUri=v2.get_integrations(ApiId=http_api["id"])["Items"][0][
                                            "IntegrationUri"])["IntegrationId"]
    v2.create_route(ApiId=api, RouteKey="GET /items/{id}", Target=f"integrations/{integration}")
    v2.create_stage(ApiId=api, StageName="prod")
    host = f"{api}.execute-api.localhost.localstack.cloud:{endpoint.port}"
    status, _, body = call(f"{endpoint.url}/prod/items/3", host=host)
    event = json.loads(body)
    assert status == 200 and event["requestContext"]["stage"] == "prod" and event["rawPath"] == "/prod/items/3"
    assert event["pathParameters"] == {"id": "3"}
    assert call(f"{endpoint.url}/other/items/3", host=host)[::2] == (404, b'{"message":"Not Found"}')
