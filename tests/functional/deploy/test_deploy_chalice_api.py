"""A stack with a Chalice app's REST API, deployed with the CLI to a real local endpoint (the
API served by stepkit's API Gateway data plane), called over HTTP, redeployed, packaged and
destroyed."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("chalice")

from stepkit.cli import main
from stepkit.endpoint import LocalEndpoint

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "endpoint"))
from endpoint_helpers import call

STACKS = Path(__file__).resolve().parents[2] / "fixtures" / "stacks"


@pytest.fixture
def webapi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, local_aws_env: None
           ) -> Iterator[tuple[Path, LocalEndpoint]]:
    root = tmp_path / "webapi"
    shutil.copytree(STACKS / "webapi", root)
    with LocalEndpoint(state_dir=tmp_path / "endpoint") as endpoint:
        monkeypatch.setenv("STEPKIT_ENDPOINT_URL", endpoint.url)
        monkeypatch.chdir(root)
        yield root, endpoint


def stepkit(*args: str, expect: int = 0) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == expect, result.output + repr(result.exception)
    return result.output


def _api(endpoint: LocalEndpoint) -> dict[str, Any]:
    apis = [a for a in endpoint.client("apigateway").get_rest_apis()["items"] if a["name"] == "webapi-dev-web"]
    assert len(apis) == 1, apis
    return apis[0]


def test_deploy_call_redeploy_package_destroy(webapi: tuple[Path, LocalEndpoint], tmp_path: Path) -> None:
    root, endpoint = webapi
    plan = json.loads(stepkit("plan", "--target", "local", "--json"))
    rest = [a for a in plan["actions"] if a["kind"] == "rest_api"]
    assert [(a["op"], a["name"]) for a in rest] == [("create", "webapi-dev-web")]
    stepkit("deploy", "--target", "local", "--no-policies")
    api = _api(endpoint)
    assert api["tags"] == {"stepkit:stack": "webapi", "stepkit:stage": "dev"}
    base = f"{endpoint.url}/restapis/{api['id']}/v1/_user_request_"
    status = json.loads(stepkit("status", "--target", "local", "--json"))["resources"]
    assert [(r["state"], r["url"]) for r in status if r["kind"] == "rest_api"] == [("present", base + "/")]

    status, _, body = call(f"{base}/hello/ada?x=1")
    assert (status, json.loads(body)) == (200, {"hello": "ada", "query": {"x": "1"}})
    status, headers, _ = call(f"{base}/hello/ada", "OPTIONS")  # Chalice's CORS preflight: a MOCK integration
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    binary = {"Content-Type": "application/octet-stream", "Accept": "application/octet-stream"}
    status, _, body = call(f"{base}/echo", "POST", b"\x00\x01\xff", binary)
    assert (status, body) == (200, b"\xff\x01\x00")
    assert call(f"{base}/private")[::2] == (401, b'{"message":"Unauthorized"}')
    status, _, body = call(f"{base}/private", headers={"Authorization": "open-sesame"})
    assert (status, json.loads(body)) == (200, {"principal": "ali-baba"})
    assert call(f"{base}/nowhere")[::2] == (403, b'{"message":"Missing Authentication Token"}')
    policy = json.loads(endpoint.client("lambda").get_policy(FunctionName="webapi-dev-web")["Policy"])
    assert [s["Principal"] for s in policy["Statement"]] == [{"Service": "apigateway.amazonaws.com"}]

    assert "nothing changed" in stepkit("deploy", "--target", "local")
    # A route removed from the app is gone after the next deploy (the definition is overwritten).
    app = root / "functions" / "web" / "app.py"
    app.write_text(app.read_text().replace('@app.route("/echo"', '@app.route("/mirror"'))
    stepkit("deploy", "--target", "local")
    assert _api(endpoint)["id"] == api["id"]
    assert call(f"{base}/echo", "POST", b"x", {"Content-Type": "application/octet-stream"})[0] == 403
    assert call(f"{base}/mirror", "POST", b"xy", binary)[::2] == (200, b"yx")

    stepkit("package", "--format", "cloudformation", "--out", str(tmp_path / "package"))
    template = json.loads((tmp_path / "package" / "template.json").read_text())
    kinds = {k: v["Type"] for k, v in template["Resources"].items() if "RestApi" in k}
    assert sorted(kinds.values()) == ["AWS::ApiGateway::Deployment", "AWS::ApiGateway::RestApi",
                                      "AWS::Lambda::Permission"]
    body = template["Resources"]["RestApiWeb"]["Properties"]["Body"]
    uri = body["paths"]["/hello/{name}"]["get"]["x-amazon-apigateway-integration"]["uri"]
    assert uri == {"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
                              "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:webapi-dev-web"
                              "/invocations"}
    assert "RestApiWebUrl" in template["Outputs"]

    stepkit("destroy", "--target", "local", "--yes")
    assert endpoint.client("apigateway").get_rest_apis()["items"] == []


def test_an_app_that_is_not_chalice_is_refused_before_anything_is_touched(webapi: tuple[Path, LocalEndpoint]) -> None:
    root, endpoint = webapi
    (root / "functions" / "web" / "app.py").write_text("app = object()\n")
    out = stepkit("deploy", "--target", "local", expect=2)
    assert "functions.web.api: 'app.app' is not a Chalice app" in out
    assert endpoint.client("lambda").list_functions()["Functions"] == []


def test_init_with_an_api_scaffolds_a_chalice_app_that_deploys(
        webapi: tuple[Path, LocalEndpoint], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The local endpoint of ``webapi`` serves it (its project is not deployed)."""
    project = tmp_path / "fresh"
    stepkit("init", str(project), "--api")
    assert "api: {framework: chalice, stage: api}" in (project / "infra" / "stack.yaml").read_text()
    monkeypatch.chdir(project)
    stepkit("deploy", "--target", "local", "--no-policies")
    url = next(r["url"] for r in json.loads(stepkit("status", "--target", "local", "--json"))["resources"]
               if r["kind"] == "rest_api")
    assert call(f"{url}greet/you")[::2] == (200, b'{"message":"Hello, you!"}')
    status, _, body = call(f"{url}echo", "POST", b'"not an object"', {"Content-Type": "application/json"})
    assert (status, json.loads(body)) == (400, {"error": "send a JSON object"})
    stepkit("destroy", "--target", "local", "--yes")


def test_status_gives_the_url_where_the_api_answers_after_the_endpoint_restarts_on_another_port(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, local_aws_env: None) -> None:
    """The recorded URL names the port of the deploy; an endpoint started again on the same
    state (another port: `make demo` twice) serves the API at its own port, and `status` says so."""
    root = tmp_path / "webapi"
    shutil.copytree(STACKS / "webapi", root)
    monkeypatch.chdir(root)
    state = tmp_path / "endpoint"
    with LocalEndpoint(state_dir=state) as first:
        monkeypatch.setenv("STEPKIT_ENDPOINT_URL", first.url)
        stepkit("deploy", "--target", "local", "--no-policies")
        first_url = first.url
    with LocalEndpoint(state_dir=state) as second:
        assert second.url != first_url
        monkeypatch.setenv("STEPKIT_ENDPOINT_URL", second.url)
        assert "nothing changed" in stepkit("deploy", "--target", "local")
        status = json.loads(stepkit("status", "--target", "local", "--json"))["resources"]
        [url] = [r["url"] for r in status if r["kind"] == "rest_api"]
        assert url.startswith(f"{second.url}/restapis/")
        status_code, _, body = call(f"{url}hello/ada")
        assert (status_code, json.loads(body)["hello"]) == (200, "ada")
