"""A user's APIs outlive the endpoint: a REST API (moto's state, persisted) and a function URL
(a store record) answer again after the endpoint is stopped and started on the same state dir."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from endpoint_helpers import call, create_function, make_client

from stepkit.endpoint import LocalEndpoint

HANDLER = """
def handler(event, context):
    return {"statusCode": 200, "body": "still here " + event.get("rawPath", event.get("path", ""))}
"""


def test_rest_api_and_function_url_survive_a_restart(tmp_path: Path) -> None:
    with LocalEndpoint(state_dir=tmp_path) as endpoint:
        lam, apigw = make_client(endpoint.url, "lambda"), make_client(endpoint.url, "apigateway")
        name = create_function(lam, HANDLER)
        arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
        api = apigw.create_rest_api(name="kept")["id"]
        root = apigw.get_resources(restApiId=api)["items"][0]["id"]
        apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
        apigw.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="AWS_PROXY",
                              integrationHttpMethod="POST",
                              uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations")
        apigw.create_deployment(restApiId=api, stageName="dev")
        assert call(f"{endpoint.url}/restapis/{api}/dev/_user_request_/")[::2] == (200, b"still here /")
    with LocalEndpoint(state_dir=tmp_path) as endpoint:
        assert call(f"{endpoint.url}/restapis/{api}/dev/_user_request_/")[::2] == (200, b"still here /")
        status, _, body = call(f"{endpoint.url}/x", host=urlparse(url).netloc)
        assert (status, body) == (200, b"still here /x")
