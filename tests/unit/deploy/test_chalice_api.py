"""A function's REST API from its Chalice app: what is read from the app, and what is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

pytest.importorskip("chalice")

from stepkit.deploy.chalice_api import load_app
from stepkit.deploy.providers.apis import rest_api_resource
from stepkit.stack.functions import FunctionSettings

APP = """
from chalice import Chalice
from chalicelib.words import GREETING

app = Chalice(app_name="t")

@app.route("/hi/{name}", cors=True)
def hi(name):
    return {"greeting": GREETING, "name": name}

@app.route("/items", methods=["POST", "PUT"])
def items():
    return {}
"""
ARN = "arn:aws:lambda:eu-west-1:123456789012:function:s-dev-web"


def _app(tmp_path: Path, source: str = APP) -> Path:
    (tmp_path / "chalicelib").mkdir(exist_ok=True)
    (tmp_path / "chalicelib" / "__init__.py").write_text("")
    (tmp_path / "chalicelib" / "words.py").write_text("GREETING = 'hello'\n")
    (tmp_path / "app.py").write_text(source)
    return tmp_path


def test_routes_and_integrations_come_from_chalice(tmp_path: Path) -> None:
    api = rest_api_resource("web", "s-dev-web", ARN, "eu-west-1", "v1", _app(tmp_path), "app.app")
    assert sorted(api.routes) == ["GET /hi/{name}", "OPTIONS /hi/{name}", "POST /items", "PUT /items"]
    definition = json.loads(api.swagger)
    integration = definition["paths"]["/items"]["post"]["x-amazon-apigateway-integration"]
    assert integration["type"] == "aws_proxy"
    assert integration["uri"] == f"arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/{ARN}/invocations"
    assert definition["paths"]["/hi/{name}"]["options"]["x-amazon-apigateway-integration"]["type"] == "mock"
    assert api.depends_on == ("function:web",) and api.stage == "v1"
    assert api.display()["swagger"].startswith("4 routes, sha256 ")


def test_a_cloudformation_arn_keeps_its_partition(tmp_path: Path) -> None:
    arn = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:s-dev-web"
    api = rest_api_resource("web", "s-dev-web", arn, "${AWS::Region}", "api", _app(tmp_path), "app.app")
    uri = json.loads(api.swagger)["paths"]["/items"]["put"]["x-amazon-apigateway-integration"]["uri"]
    assert uri.startswith("arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/arn:")


def test_the_same_app_twice_gives_the_same_definition(tmp_path: Path) -> None:
    first = rest_api_resource("web", "s-dev-web", ARN, "eu-west-1", "v1", _app(tmp_path), "app.app")
    second = rest_api_resource("web", "s-dev-web", ARN, "eu-west-1", "v1", _app(tmp_path), "app.app")
    assert first.digest() == second.digest()


@pytest.mark.parametrize(("source", "handler", "message"), [
    (APP, "main.app", "main.py does not exist"),
    ("raise RuntimeError('no config')\n", "app.app", "importing app.py failed: RuntimeError: no config"),
    ("app = 42\n", "app.app", "'app.app' is not a Chalice app (found int)"),
    ("from chalice import Chalice\napp = Chalice(app_name='t')\n@app.authorizer()\n"
     "def gate(auth):\n    return None\n", "app.app", "built-in authorizers (gate)"),
])
def test_what_is_refused(tmp_path: Path, source: str, handler: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_app(_app(tmp_path, source), handler)


def test_api_settings() -> None:
    assert FunctionSettings.model_validate({"handler": "app.app", "api": {}}).api.stage == "api"  # type: ignore[union-attr]
    with pytest.raises(ValidationError):
        FunctionSettings.model_validate({"api": {"framework": "flask"}})
    with pytest.raises(ValidationError):
        FunctionSettings.model_validate({"api": {"stage": "no spaces"}})


def test_an_app_imports_from_its_layers_and_forgets_them_after(tmp_path: Path) -> None:
    import sys

    layer = tmp_path / "layer" / "python"
    (layer / "sharedwords").mkdir(parents=True)
    (layer / "sharedwords" / "__init__.py").write_text("WORD = 'from the layer'\n")
    (tmp_path / "app").mkdir()
    app_dir = _app(tmp_path / "app", APP.replace("from chalicelib.words import GREETING",
                                                 "from sharedwords import WORD as GREETING"))
    with pytest.raises(ValueError, match="No module named 'sharedwords'"):
        load_app(app_dir, "app.app")
    app = load_app(app_dir, "app.app", [layer])
    assert "/hi/{name}" in app.routes
    assert "sharedwords" not in sys.modules and str(layer) not in sys.path
