"""A stand-in for the serving API the viewer's Serving page reads: a REST API on the endpoint
whose ``GET /models`` is a real Lambda function answering in the serving app's shape
(``functions/serving/chalicelib/views.models_view``), the challenger's share and accuracy
moving with each call. The real app needs a trained model; this keeps the page's tests to
what the page does."""

from __future__ import annotations

from typing import Any

from endpoint_helpers import create_function, unique

MODELS = '''import json

CALLS = [0]

def _arm(requests, share, accuracy, configured):
    return {"share": configured, "observed_share": share, "metrics": {
        "requests": requests, "errors": 0, "feedbacks": requests, "accuracy": accuracy, "error_rate": 0.0,
        "p50_ms": 12.0, "p99_ms": 40.0, "mean_latency_ms": 14.0, "shadow_agreement": None}}

def handler(event, context):
    CALLS[0] += 1
    n = CALLS[0]
    challenger = min(0.5, 0.1 * n)
    body = {"model_name": "classifier", "champion": "1", "revision": n,
            "policy": {"kind": "weighted", "weights": {"1": 50, "2": 50}}, "requests": 100 * n,
            "versions": [
                {"version": "1", "aliases": ["champion"], "family": "logistic_regression", "metric": "accuracy",
                 "test_score": 0.93, "created_at": "2026-12-06T00:00:00Z",
                 **_arm(round(100 * n * (1 - challenger)), round(1 - challenger, 4), 0.9, 50.0)},
                {"version": "2", "aliases": ["challenger"], "family": "random_forest", "metric": "accuracy",
                 "test_score": 0.95, "created_at": "2026-12-06T01:00:00Z",
                 **_arm(round(100 * n * challenger), round(challenger, 4), 0.8 + 0.01 * min(n, 10), 50.0)}],
            "other_arms": {}}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
'''


NO_MODEL = (
    "import json\n\ndef handler(event, context):\n"
    "    return {'statusCode': 404, 'body': json.dumps({'error': \"no model 'classifier' is registered\"})}\n"
)


def serving_api(lam: Any, apigw: Any, stage: str = "api", code: str = MODELS) -> str:
    """The REST API's id, deployed to ``stage``, its GET /models answered by ``code``."""
    function = lam.get_function(FunctionName=create_function(lam, code))["Configuration"]["FunctionArn"]
    api = apigw.create_rest_api(name=unique("serving"))["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    models = apigw.create_resource(restApiId=api, parentId=root, pathPart="models")["id"]
    apigw.put_method(restApiId=api, resourceId=models, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=models, httpMethod="GET", type="AWS_PROXY",
                          integrationHttpMethod="POST",
                          uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function}/invocations")
    apigw.create_deployment(restApiId=api, stageName=stage)
    return api  # type: ignore[no-any-return]


def remove_serving_apis(apigw: Any) -> None:
    """Delete the REST APIs with a ``/models`` resource: moto's state lives as long as the test
    process, so another module's serving API (the real one's tests, these) would be found."""
    for api in apigw.get_rest_apis()["items"]:
        if any(r.get("path") == "/models" for r in apigw.get_resources(restApiId=api["id"])["items"]):
            apigw.delete_rest_api(restApiId=api["id"])
