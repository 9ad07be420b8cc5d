"""IAM roles (kind ``role``): one per function, state machine, pipe, and state machine whose
triggers EventBridge starts it with; each with one inline policy (``stepkit``) that the
kind it serves writes, least privilege (:mod:`stepkit.deploy.iam`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from stepkit.deploy.policy import trust_policy
from stepkit.deploy.providers.base import MISSING, Provider, Template, error_code, fn_sub, not_found, tag_list
from stepkit.deploy.resources import Resource
from stepkit.deploy.state import Recorded


@dataclass(frozen=True)
class Role(Resource):
    kind: ClassVar[str] = "role"
    order: ClassVar[int] = 10

    service: str = "lambda.amazonaws.com"
    policy: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    """Why a statement is wider than one resource (shown by plan, not compared)."""

    def _not_compared(self) -> tuple[str, ...]:
        return ("notes",)


class RoleProvider(Provider):
    """The IAM calls behind ``Role``."""

    resource = Role

    def lookup(self, name: str, r: Resource | None) -> str:
        iam = self.client("iam")
        try:
            iam.get_role(RoleName=name)
        except ClientError as exc:
            if not_found(exc):
                return MISSING
            raise
        tags = iam.list_role_tags(RoleName=name).get("Tags", [])
        return self.owned({t["Key"]: t["Value"] for t in tags})

    def put(self, r: Role, rec: Recorded | None, existing: bool) -> dict[str, Any]:
        from stepkit.deploy.policy import trust_policy

        iam = self.client("iam")
        trust = json.dumps(trust_policy(r.service))
        created = False
        if not existing or self.lookup(r.name, r) == MISSING:
            try:
                iam.create_role(RoleName=r.name, AssumeRolePolicyDocument=trust,
                                Description=f"stepkit {r.logical}", Tags=tag_list(self.tags))
                created = True
            except ClientError as exc:
                if error_code(exc) != "EntityAlreadyExists":
                    raise
        if not created:
            iam.update_assume_role_policy(RoleName=r.name, PolicyDocument=trust)
        iam.put_role_policy(RoleName=r.name, PolicyName="stepkit", PolicyDocument=json.dumps(r.policy))
        conn = self.api.conn
        return {"arn": f"arn:{conn.partition}:iam::{conn.account}:role/{r.name}"}

    def delete(self, rec: Recorded) -> None:
        iam = self.client("iam")
        for policy in iam.list_role_policies(RoleName=rec.name).get("PolicyNames", []):
            iam.delete_role_policy(RoleName=rec.name, PolicyName=policy)
        for attached in iam.list_attached_role_policies(RoleName=rec.name).get("AttachedPolicies", []):
            iam.detach_role_policy(RoleName=rec.name, PolicyArn=attached["PolicyArn"])
        iam.delete_role(RoleName=rec.name)

    def describe(self, rec: Recorded) -> str:
        self.client("iam").get_role(RoleName=rec.name)
        return "present"

    @classmethod
    def template(cls, r: Role, template: Template) -> None:
        template.add(r, "AWS::IAM::Role", {
            "RoleName": r.name, "AssumeRolePolicyDocument": trust_policy(r.service),
            "Policies": [{"PolicyName": "stepkit", "PolicyDocument": fn_sub(r.policy)}]})
