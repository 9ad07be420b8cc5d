"""CloudWatch Logs groups (kind ``log_group``) of functions and of state machines that log,
with their retention. Lambda creates a function's group on its first run, untagged: a group
under ``/aws/lambda/`` without tags is taken as ours."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from stepkit.deploy.providers.base import MISSING, OURS, Provider, Template, error_code
from stepkit.deploy.resources import Resource
from stepkit.deploy.state import Recorded


@dataclass(frozen=True)
class LogGroup(Resource):
    kind: ClassVar[str] = "log_group"
    order: ClassVar[int] = 20

    retention_days: int = 14


class LogGroupProvider(Provider):
    """The CloudWatch Logs calls behind ``LogGroup``."""

    resource = LogGroup

    def _log_group(self, name: str) -> dict[str, Any] | None:
        groups = self.client("logs").describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
        return next((g for g in groups if g["logGroupName"] == name), None)

    def lookup(self, name: str, r: Resource | None) -> str:
        group = self._log_group(name)
        if group is None:
            return MISSING
        try:
            tags = self.client("logs").list_tags_log_group(logGroupName=name).get("tags", {})
        except ClientError:
            tags = {}
        # Lambda creates its function's group on first run, untagged: that one is ours too.
        return OURS if name.startswith("/aws/lambda/") and not tags else self.owned(tags)

    def put(self, r: LogGroup, rec: Recorded | None, existing: bool) -> dict[str, Any]:
        logs = self.client("logs")
        if self._log_group(r.name) is None:
            try:
                logs.create_log_group(logGroupName=r.name, tags=self.tags)
            except ClientError as exc:
                if error_code(exc) != "ResourceAlreadyExistsException":
                    raise
        logs.put_retention_policy(logGroupName=r.name, retentionInDays=r.retention_days)
        group = self._log_group(r.name) or {}
        return {"arn": group.get("arn", "")}

    def delete(self, rec: Recorded) -> None:
        self.client("logs").delete_log_group(logGroupName=rec.name)

    def describe(self, rec: Recorded) -> str:
        return "present" if self._log_group(rec.name) else MISSING

    @classmethod
    def template(cls, r: LogGroup, template: Template) -> None:
        template.add(r, "AWS::Logs::LogGroup", {"LogGroupName": r.name, "RetentionInDays": r.retention_days})
