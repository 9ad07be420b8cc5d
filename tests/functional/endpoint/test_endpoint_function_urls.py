"""Lambda function URLs on a real endpoint: the control plane through boto3, the URL called over
HTTP by its ``lambda-url`` host."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import call, create_function

from stepkit.endpoint import LocalEndpoint

HANDLER = """
import json
def handler(event, context):
    if event["rawPath"] == "/raise":
        raise ValueError("boom")
    if event["rawPath"] == "/text":
        return "plain"
    return {"statusCode": 200, "headers": {"X-Seen": "yes"}, "body": json.dumps(event)}
"""


def _call(endpoint: LocalEndpoint, function_url: str, path: str, **kwargs: Any) -> Any:
    host = urlparse(function_url).netloc
    return call(f"{endpoint.url}{path}", host=host, **kwargs)


def test_control_plane(lam: Any) -> None:
    name = create_function(lam, HANDLER)
    created = lam.create_function_url_config(FunctionName=name, AuthType="NONE",
                                             Cors={"AllowOrigins": ["https://example.org"]})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionArn"].endswith(f":function:{name}") and created["InvokeMode"] == "BUFFERED"
    assert ".lambda-url.us-east-1.localhost.localstack.cloud:" in created["FunctionUrl"]
    with pytest.raises(ClientError) as exc:
        lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert exc.value.response["Error"]["Code"] == "ResourceConflictException"
    updated = lam.update_function_url_config(FunctionName=name, AuthType="AWS_IAM")
    assert updated["AuthType"] == "AWS_IAM" and updated["FunctionUrl"] == created["FunctionUrl"]
    listed = lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [created["FunctionUrl"]]
    lam.delete_function_url_config(FunctionName=name)
    with pytest.raises(ClientError) as exc:
        lam.get_function_url_config(FunctionName=name)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        lam.create_function_url_config(FunctionName="no-such-function", AuthType="NONE")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_invoke_by_url(endpoint: LocalEndpoint, lam: Any) -> None:
    name = create_function(lam, HANDLER)
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE",
                                         Cors={"AllowOrigins": ["https://example.org"], "AllowMethods": ["POST"]})[
        "FunctionUrl"]
    status, headers, body = _call(endpoint, url, "/items?x=1", method="POST", body=b'{"a": 1}',
                                  headers={"Content-Type": "application/json", "Origin": "https://example.org"})
    assert status == 200 and headers["X-Seen"] == "yes"
    assert headers["Access-Control-Allow-Origin"] == "https://example.org"
    event = json.loads(body)
    assert event["version"] == "2.0" and event["routeKey"] == "$default" and event["rawPath"] == "/items"
    assert event["queryStringParameters"] == {"x": "1"} and event["body"] == '{"a": 1}'
    assert event["requestContext"]["accountId"] == "anonymous" and event["requestContext"]["stage"] == "$default"
    assert _call(endpoint, url, "/text")[::2] == (200, b"plain")
    status, headers, body = _call(endpoint, url, "/raise")
    assert (status, body) == (502, b"Internal Server Error")
    lam.update_function_url_config(FunctionName=name, AuthType="AWS_IAM")
    assert _call(endpoint, url, "/")[::2] == (403, b'{"Message":"Forbidden"}')
    lam.delete_function(FunctionName=name)
    status, headers, body = _call(endpoint, url, "/")
    assert (status, body, headers["x-amzn-ErrorType"]) == (403, b'{"Message":null}', "AccessDeniedException")
