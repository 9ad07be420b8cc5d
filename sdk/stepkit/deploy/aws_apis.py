"""The AWS calls behind a stack's REST APIs (mixed into :class:`stepkit.deploy.aws.Api`).

A REST API is found by its name and this stack's tags. Deploying it writes its definition
with ``PutRestApi`` (mode ``overwrite``: routes removed from the app disappear), deploys it to
its stage, and lets API Gateway invoke the function (``AddPermission`` for
``apigateway.amazonaws.com``, source ``arn:...:execute-api:region:account:api-id/*``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from stepkit.deploy.chalice_api import RestApi

if TYPE_CHECKING:
    from stepkit.deploy.resources import Resource
    from stepkit.deploy.state import Recorded

MISSING = "missing"


def _not_found(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in {"NotFoundException", "ResourceNotFoundException"}


class RestApiCalls:
    client: Any
    conn: Any
    tags: dict[str, str]
    retry_iam: Any
    owned: Any

    def _rest_api_id(self, name: str) -> tuple[str, dict[str, str]] | None:
        for page in self.client("apigateway").get_paginator("get_rest_apis").paginate():
            for item in page.get("items", []):
                if item.get("name") == name:
                    return item["id"], item.get("tags") or {}
        return None

    def _lookup_rest_api(self, name: str, _r: Resource | None) -> str:
        found = self._rest_api_id(name)
        return MISSING if found is None else str(self.owned(found[1]))

    def api_url(self, api_id: str, stage: str) -> str:
        endpoint = getattr(self.conn.target, "endpoint_url", None)
        if endpoint:  # the local endpoint and LocalStack
            return f"{endpoint.rstrip('/')}/restapis/{api_id}/{stage}/_user_request_/"
        return f"https://{api_id}.execute-api.{self.conn.target.region}.amazonaws.com/{stage}/"

    def _put_rest_api(self, r: RestApi, rec: Recorded | None, existing: bool) -> dict[str, Any]:
        apigw = self.client("apigateway")
        found = self._rest_api_id(r.name) if existing else None
        if found is None:
            api_id = apigw.create_rest_api(name=r.name, tags=self.tags,
                                           endpointConfiguration={"types": ["EDGE"]})["id"]
        else:
            api_id = found[0]
        apigw.put_rest_api(restApiId=api_id, mode="overwrite", failOnWarnings=False, body=r.swagger.encode())
        apigw.create_deployment(restApiId=api_id, stageName=r.stage)
        source = (f"arn:{self.conn.partition}:execute-api:{self.conn.target.region}:{self.conn.account}:"
                  f"{api_id}/*")
        lam = self.client("lambda")
        try:
            lam.remove_permission(FunctionName=r.function_name, StatementId=r.statement_id)
        except ClientError as exc:
            if not _not_found(exc):
                raise
        lam.add_permission(FunctionName=r.function_name, StatementId=r.statement_id, Action="lambda:InvokeFunction",
                           Principal="apigateway.amazonaws.com", SourceArn=source)
        return {"id": api_id, "url": self.api_url(api_id, r.stage), "function": r.function_name,
                "statement_id": r.statement_id}

    def _delete_rest_api(self, rec: Recorded) -> None:
        function = rec.outputs.get("function") or rec.properties.get("function_name")
        sid = rec.outputs.get("statement_id")
        if function and sid:
            try:
                self.client("lambda").remove_permission(FunctionName=function, StatementId=sid)
            except ClientError as exc:
                if not _not_found(exc):
                    raise
        api_id = rec.outputs.get("id") or (self._rest_api_id(rec.name) or (None,))[0]
        if api_id:
            self.client("apigateway").delete_rest_api(restApiId=api_id)

    def _describe_rest_api(self, rec: Recorded) -> str:
        api_id = rec.outputs.get("id")
        if not api_id:
            return MISSING
        stages = {s["stageName"] for s in self.client("apigateway").get_stages(restApiId=api_id).get("item", [])}
        return "present" if rec.properties.get("stage") in stages else "undeployed"
