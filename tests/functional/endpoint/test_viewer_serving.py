"""The viewer's api/serving on a real endpoint: no serving API, then one (API Gateway and a
Lambda function answering GET /models), found and read through the endpoint's own URL."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from serving_double import NO_MODEL, remove_serving_apis, serving_api

from stepkit.endpoint import LocalEndpoint


def _serving(endpoint: LocalEndpoint) -> dict[str, Any]:
    with urllib.request.urlopen(endpoint.url + "/_stepkit/ui/api/serving", timeout=120) as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


def test_without_a_serving_api_the_answer_says_so(endpoint: LocalEndpoint, clients: Any) -> None:
    apigw = clients("apigateway")
    remove_serving_apis(apigw)
    other = apigw.create_rest_api(name="not-serving")["id"]  # an API without GET /models is not it
    apigw.create_resource(restApiId=other, parentId=apigw.get_resources(restApiId=other)["items"][0]["id"],
                          pathPart="items")
    assert _serving(endpoint) == {"api": None}


def test_the_serving_api_is_found_and_its_models_read(endpoint: LocalEndpoint, clients: Any) -> None:
    api = serving_api(clients("lambda"), clients("apigateway"))
    first, second = _serving(endpoint), _serving(endpoint)
    assert first["api"]["id"] == api and first["api"]["stage"] == "api" and first["status"] == 200
    assert first["api"]["url"] == f"{endpoint.url}/restapis/{api}/api/_user_request_"
    models = second["models"]
    assert [v["version"] for v in models["versions"]] == ["1", "2"] and models["champion"] == "1"
    assert models["revision"] == first["models"]["revision"] + 1  # read afresh each time


def test_the_apis_own_error_is_passed_on(endpoint: LocalEndpoint, clients: Any) -> None:
    api = serving_api(clients("lambda"), clients("apigateway"), stage="dev", code=NO_MODEL)  # the newest now
    answer = _serving(endpoint)
    assert answer["api"]["id"] == api and answer["status"] == 404
    assert answer["error"] == "no model 'classifier' is registered" and "models" not in answer
