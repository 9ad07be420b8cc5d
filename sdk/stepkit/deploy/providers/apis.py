"""A function's REST API (its ``api:``, kind ``rest_api``), written by Chalice from the
function's app (:mod:`stepkit.deploy.chalice_api`).

A REST API is found by its name and this stack's tags. Deploying it writes its definition
with ``PutRestApi`` (mode ``overwrite``: routes removed from the app disappear), deploys it to
its stage, and lets API Gateway invoke the function (``AddPermission`` for
``apigateway.amazonaws.com``, source ``arn:...:execute-api:region:account:api-id/*``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from botocore.exceptions import ClientError

from stepkit.deploy.chalice_api import load_app, swagger
from stepkit.deploy.providers.base import MISSING, BuildContext, Provider, Template, fn_sub, logical_id
from stepkit.deploy.resources import Resource
from stepkit.deploy.state import Recorded

if TYPE_CHECKING:
    from stepkit.stack.apis import ApiSettings
    from stepkit.stack.project import ProjectFunction

PERMISSION_PREFIX = "stepkit-api-"


def _gone(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in {"NotFoundException", "ResourceNotFoundException"}


@dataclass(frozen=True)
class RestApi(Resource):
    """A REST API, its stage, and the permission for API Gateway to invoke its function."""

    kind: ClassVar[str] = "rest_api"
    order: ClassVar[int] = 75

    function: str = ""
    """Logical name of the function behind every route."""
    function_name: str = ""
    stage: str = "api"
    swagger: str = ""
    """The API definition (Swagger 2.0, as Chalice writes it) with the function's ARN in it."""
    routes: tuple[str, ...] = ()

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (f"function:{self.function}",)

    @property
    def statement_id(self) -> str:
        return f"{PERMISSION_PREFIX}{self.logical}"[:100]

    def _not_compared(self) -> tuple[str, ...]:
        return ("routes",)

    def display(self) -> dict[str, Any]:
        out = self.properties()
        out["swagger"] = f"{len(self.routes)} routes, sha256 {hashlib.sha256(self.swagger.encode()).hexdigest()[:12]}"
        out["routes"] = list(self.routes)
        return out


def build(ctx: BuildContext, fn: ProjectFunction, api: ApiSettings, place: str) -> None:
    """The function's ``api:``: the REST API Chalice writes from its app."""
    names, s = ctx.names, fn.settings
    try:
        ctx.add(rest_api_resource(fn.name, names.function(fn.name), names.function_arn(fn.name), names.region,
                                  api.stage, fn.code_dir, s.handler,
                                  [layer.python_dir for layer in ctx.project.layers_of(fn)]))
    except ValueError as exc:
        ctx.problems.append(f"{ctx.where}: {place}.api: {exc}")


def rest_api_resource(logical: str, function_name: str, function_arn: str, region: str, stage: str,
                      code_dir: Path, handler: str, layers: Sequence[Path] = ()) -> RestApi:
    app = load_app(code_dir, handler, layers)
    definition = swagger(app, region, function_arn)
    routes = tuple(f"{method.upper()} {path}" for path, methods in sorted(definition["paths"].items())
                   for method in methods)
    return RestApi(logical=logical, name=function_name, function=logical, function_name=function_name,
                   stage=stage, swagger=json.dumps(definition, sort_keys=True), routes=routes)


def rest_api_resources(r: RestApi, api: str, function: str) -> dict[str, Any]:
    """A stack's REST API: its definition (Chalice's swagger, the function's ARN made
    ``Fn::Sub``), a deployment to its stage, and the permission for API Gateway to invoke. The
    deployment's logical id carries the definition's digest: CloudFormation deploys the API
    again only when the resource is new."""
    digest = hashlib.sha256(r.swagger.encode()).hexdigest()[:10]
    return {
        api: {"Type": "AWS::ApiGateway::RestApi", "Properties": {
            "Name": r.name, "Body": fn_sub(json.loads(r.swagger)), "EndpointConfiguration": {"Types": ["EDGE"]}}},
        f"{api}Deployment{digest}": {"Type": "AWS::ApiGateway::Deployment",
                             "Properties": {"RestApiId": {"Ref": api}, "StageName": r.stage}},
        f"{api}Permission": {"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": {"Ref": function}, "Action": "lambda:InvokeFunction",
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": {"Fn::Sub": f"arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:"
                                     f"${{{api}}}/*"}}},
    }


class RestApiProvider(Provider):
    """The API Gateway calls behind ``RestApi``."""

    resource = RestApi

    def _rest_api_id(self, name: str) -> tuple[str, dict[str, str]] | None:
        for page in self.client("apigateway").get_paginator("get_rest_apis").paginate():
            for item in page.get("items", []):
                if item.get("name") == name:
                    return item["id"], item.get("tags") or {}
        return None

    def lookup(self, name: str, r: Resource | None) -> str:
        found = self._rest_api_id(name)
        return MISSING if found is None else str(self.owned(found[1]))

    def api_url(self, api_id: str, stage: str) -> str:
        endpoint = getattr(self.api.conn.target, "endpoint_url", None)
        if endpoint:  # the local endpoint and LocalStack
            return f"{endpoint.rstrip('/')}/restapis/{api_id}/{stage}/_user_request_/"
        return f"https://{api_id}.execute-api.{self.api.conn.target.region}.amazonaws.com/{stage}/"

    def put(self, r: RestApi, rec: Recorded | None, existing: bool) -> dict[str, Any]:
        apigw = self.client("apigateway")
        found = self._rest_api_id(r.name) if existing else None
        if found is None:
            api_id = apigw.create_rest_api(name=r.name, tags=self.tags,
                                           endpointConfiguration={"types": ["EDGE"]})["id"]
        else:
            api_id = found[0]
        apigw.put_rest_api(restApiId=api_id, mode="overwrite", failOnWarnings=False, body=r.swagger.encode())
        apigw.create_deployment(restApiId=api_id, stageName=r.stage)
        source = (f"arn:{self.api.conn.partition}:execute-api:{self.api.conn.target.region}:{self.api.conn.account}:"
                  f"{api_id}/*")
        lam = self.client("lambda")
        try:
            lam.remove_permission(FunctionName=r.function_name, StatementId=r.statement_id)
        except ClientError as exc:
            if not _gone(exc):
                raise
        lam.add_permission(FunctionName=r.function_name, StatementId=r.statement_id, Action="lambda:InvokeFunction",
                           Principal="apigateway.amazonaws.com", SourceArn=source)
        return {"id": api_id, "url": self.api_url(api_id, r.stage), "function": r.function_name,
                "statement_id": r.statement_id}

    def delete(self, rec: Recorded) -> None:
        function = rec.outputs.get("function") or rec.properties.get("function_name")
        sid = rec.outputs.get("statement_id")
        if function and sid:
            try:
                self.client("lambda").remove_permission(FunctionName=function, StatementId=sid)
            except ClientError as exc:
                if not _gone(exc):
                    raise
        api_id = rec.outputs.get("id") or (self._rest_api_id(rec.name) or (None,))[0]
        if api_id:
            self.client("apigateway").delete_rest_api(restApiId=api_id)

    def url(self, rec: Recorded) -> str | None:
        """The API's URL on the target as it is now: a local endpoint or LocalStack started on
        another port since the deploy serves it there (the recorded URL names the old port)."""
        api_id, stage = rec.outputs.get("id"), rec.properties.get("stage")
        return self.api_url(api_id, stage) if api_id and stage else rec.outputs.get("url")

    def describe(self, rec: Recorded) -> str:
        api_id = rec.outputs.get("id")
        if not api_id:
            return MISSING
        stages = {s["stageName"] for s in self.client("apigateway").get_stages(restApiId=api_id).get("item", [])}
        return "present" if rec.properties.get("stage") in stages else "undeployed"

    @classmethod
    def template(cls, r: RestApi, template: Template) -> None:
        api = logical_id(r.key)
        template.resources.update(rest_api_resources(r, api, logical_id(f"function:{r.function}")))
        template.outputs[api + "Url"] = {"Value": {"Fn::Sub": (
            f"https://${{{api}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{r.stage}/")}}
