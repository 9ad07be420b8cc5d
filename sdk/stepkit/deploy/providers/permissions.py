"""A statement of a function's resource policy letting a service (S3, SNS) invoke it (resource
kind ``permission``): made by the triggers that need one (:func:`invoke_permission`). A
statement cannot be tagged: it is ours when its id is (``stepkit-<logical>``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from stepkit.deploy.naming import Names
from stepkit.deploy.providers.base import MISSING, OURS, Provider, Template, fn_sub, not_found, ref
from stepkit.deploy.resources import Resource
from stepkit.deploy.state import Recorded


@dataclass(frozen=True)
class Permission(Resource):
    """A statement of a function's resource policy letting S3 (or SNS, ``principal``) invoke it."""

    kind: ClassVar[str] = "permission"
    order: ClassVar[int] = 70

    function: str = ""
    """Logical name of the function."""
    function_name: str = ""
    principal: str = "s3.amazonaws.com"
    source_arn: str = ""
    source_account: str = ""

    @property
    def statement_id(self) -> str:
        return f"stepkit-{self.logical}"[:100]

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (f"function:{self.function}",)


def invoke_permission(logical: str, function: str, principal: str, source_arn: str, names: Names) -> Permission:
    """The permission ``logical`` for ``principal`` to invoke ``function`` (logical name), from
    ``source_arn`` in the stack's account only."""
    return Permission(logical=logical, name=f"stepkit-{logical}", function=function,
                      function_name=names.function(function), principal=principal, source_arn=source_arn,
                      source_account=names.account)


class PermissionProvider(Provider):
    """Lambda's AddPermission/RemovePermission behind ``Permission``."""

    resource = Permission

    def _statement(self, function: str, sid: str) -> dict[str, Any] | None:
        try:
            policy = json.loads(self.client("lambda").get_policy(FunctionName=function)["Policy"])
        except ClientError as exc:
            if not_found(exc):
                return None
            raise
        return next((s for s in policy.get("Statement", []) if s.get("Sid") == sid), None)

    def lookup(self, name: str, r: Resource | None) -> str:
        if not isinstance(r, Permission):
            return MISSING
        return OURS if self._statement(r.function_name, r.statement_id) else MISSING

    def put(self, r: Permission, recorded: Recorded | None, existing: bool) -> dict[str, Any]:
        lam = self.client("lambda")
        if self._statement(r.function_name, r.statement_id) is not None:
            lam.remove_permission(FunctionName=r.function_name, StatementId=r.statement_id)
        lam.add_permission(FunctionName=r.function_name, StatementId=r.statement_id,
                           Action="lambda:InvokeFunction", Principal=r.principal, SourceArn=r.source_arn,
                           SourceAccount=r.source_account)
        return {"function": r.function_name, "statement_id": r.statement_id}

    def delete(self, rec: Recorded) -> None:
        function = rec.outputs.get("function") or rec.properties.get("function_name")
        sid = rec.outputs.get("statement_id") or rec.name
        self.client("lambda").remove_permission(FunctionName=function, StatementId=sid)

    def describe(self, rec: Recorded) -> str:
        function = str(rec.outputs.get("function") or rec.properties.get("function_name", ""))
        found = self._statement(function, rec.outputs.get("statement_id") or rec.name)
        return "present" if found else MISSING

    @classmethod
    def template(cls, r: Permission, template: Template) -> None:
        template.add(r, "AWS::Lambda::Permission", {
            "FunctionName": ref(f"function:{r.function}"), "Action": "lambda:InvokeFunction",
            "Principal": r.principal, "SourceArn": fn_sub(r.source_arn),
            "SourceAccount": {"Ref": "AWS::AccountId"}})
