"""S3 buckets (the stack's ``buckets:``, kind ``bucket``), the stack's deployment bucket for
function zips (kind ``deployment_bucket``), and a bucket's notification configuration (kind
``bucket_notifications``: a function's ``s3`` trigger, or EventBridge for a state machine's).

A bucket carries the stack's tags and blocks public access. One that holds objects is never
deleted unless the caller says the data may go (``stepkit destroy --delete-data``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from botocore.exceptions import ClientError

from stepkit.deploy.policy import PolicyBuilder
from stepkit.deploy.providers.base import (
    FOREIGN,
    MISSING,
    OURS,
    BuildContext,
    Provider,
    Template,
    error_code,
    fn_sub,
    get_att,
    not_found,
    tag_list,
)
from stepkit.deploy.providers.permissions import invoke_permission
from stepkit.deploy.resources import Resource
from stepkit.deploy.state import Recorded

if TYPE_CHECKING:
    from stepkit.deploy.iam import StackArns
    from stepkit.stack.resources import Grant


@dataclass(frozen=True)
class Bucket(Resource):
    kind: ClassVar[str] = "bucket"
    order: ClassVar[int] = 30

    versioning: bool = False


@dataclass(frozen=True)
class DeploymentBucket(Resource):
    """The stack's own bucket for function zips over Lambda's 50 MB direct-upload limit
    (they go up through S3, where the limit is 250 MB unzipped). Created before anything
    else, deleted after everything else, with its objects: they are only deploy's copies."""

    kind: ClassVar[str] = "deployment_bucket"
    order: ClassVar[int] = 5


@dataclass(frozen=True)
class LambdaNotification:
    id: str
    function: str
    function_arn: str
    prefix: str
    suffix: str


@dataclass(frozen=True)
class BucketNotifications(Resource):
    """A bucket's notification configuration (one document per bucket): events to
    EventBridge, and Lambda functions for prefixes."""

    kind: ClassVar[str] = "bucket_notifications"
    order: ClassVar[int] = 100

    eventbridge: bool = False
    lambdas: tuple[LambdaNotification, ...] = ()

    def properties(self) -> dict[str, Any]:
        return {"eventbridge": self.eventbridge,
                "lambdas": [{"id": n.id, "function_arn": n.function_arn, "prefix": n.prefix, "suffix": n.suffix}
                            for n in self.lambdas]}

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (f"bucket:{self.logical}",
                *(f"permission:{n.function}-s3-{self.logical}" for n in self.lambdas))

    def configuration(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.eventbridge:
            out["EventBridgeConfiguration"] = {}
        if self.lambdas:
            out["LambdaFunctionConfigurations"] = [
                {
                    "Id": n.id,
                    "LambdaFunctionArn": n.function_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    **({"Filter": {"Key": {"FilterRules": _filter_rules(n)}}} if n.prefix or n.suffix else {}),
                }
                for n in self.lambdas
            ]
        return out


def _filter_rules(n: LambdaNotification) -> list[dict[str, str]]:
    rules = []
    if n.prefix:
        rules.append({"Name": "prefix", "Value": n.prefix})
    if n.suffix:
        rules.append({"Name": "suffix", "Value": n.suffix})
    return rules


def build(ctx: BuildContext) -> None:
    """The stack's ``buckets:``."""
    for logical, settings in ctx.stack.buckets.items():
        physical = ctx.bucket_names[logical]
        ctx.check_length("bucket", physical, f"buckets.{logical}")
        ctx.add(Bucket(logical=logical, name=physical, versioning=settings.versioning))


def build_deployment_bucket(ctx: BuildContext) -> None:
    """The stack's bucket for function zips too big to send directly (Lambda's own platform)."""
    ctx.add(DeploymentBucket(logical="code", name=ctx.names.deployment_bucket()))
    ctx.check_length("bucket", ctx.names.deployment_bucket(), "the deployment bucket <stack>-<stage>-deploy-<account>")


def s3_trigger(ctx: BuildContext, function: str, index: int, trigger: Any) -> None:
    """A function's ``s3`` trigger: a notification of its bucket, and the permission (one per
    function and bucket) for S3 to invoke the function."""
    names, bucket = ctx.names, trigger.bucket
    ctx.notifications.setdefault(bucket, []).append(LambdaNotification(
        id=f"stepkit-{function}-{index}", function=function, function_arn=names.function_arn(function),
        prefix=trigger.prefix, suffix=trigger.suffix))
    permission = f"{function}-s3-{bucket}"
    if not any(r.key == f"permission:{permission}" for r in ctx.resources):
        ctx.add(invoke_permission(permission, function, "s3.amazonaws.com",
                                  names.bucket_arn(ctx.bucket_names[bucket]), names))


def build_notifications(ctx: BuildContext) -> None:
    """One notification configuration per bucket that has any (after every trigger is known)."""
    for bucket in ctx.bucket_names:
        lambdas = tuple(ctx.notifications.get(bucket, ()))
        if lambdas or bucket in ctx.eventbridge_buckets:
            ctx.add(BucketNotifications(logical=bucket, name=ctx.bucket_names[bucket],
                                        eventbridge=bucket in ctx.eventbridge_buckets, lambdas=lambdas))


def s3_trigger_policy(policy: PolicyBuilder, trigger: Any, stack: StackArns) -> None:
    """A function may read the objects whose creation triggers it."""
    policy.allow(["s3:GetObject"], f"{stack.bucket_arn(trigger.bucket)}/{trigger.prefix}*")


_BUCKET_OBJECT_ACTIONS = {"read": "s3:GetObject", "write": "s3:PutObject", "delete": "s3:DeleteObject"}


def grant(policy: PolicyBuilder, grant: Grant, stack: StackArns) -> None:
    """An ``access:`` grant on a bucket (under a prefix): object reads, writes, deletes, listing."""
    actions = grant.effective_actions
    bucket_arn = stack.bucket_arn(grant.target)
    objects = f"{bucket_arn}/{grant.prefix}*"
    object_actions = [_BUCKET_OBJECT_ACTIONS[a] for a in actions if a in _BUCKET_OBJECT_ACTIONS]
    if object_actions:
        policy.allow(object_actions, objects)
    if "list" in actions:
        condition = {"StringLike": {"s3:prefix": [f"{grant.prefix}*"]}} if grant.prefix else None
        policy.allow(["s3:ListBucket"], bucket_arn, condition)


class BucketProvider(Provider):
    """The S3 calls behind ``Bucket``."""

    resource = Bucket

    def lookup(self, name: str, r: Resource | None) -> str:
        s3 = self.client("s3")
        try:
            s3.head_bucket(Bucket=name)
        except ClientError as exc:
            code = error_code(exc)
            if code in {"404", "NoSuchBucket", "NotFound"}:
                return MISSING
            if code in {"403", "AccessDenied"}:
                return FOREIGN  # someone else's bucket, somewhere in S3's global namespace
            raise
        try:
            tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=name).get("TagSet", [])}
        except ClientError as exc:
            if error_code(exc) not in {"NoSuchTagSet", "NoSuchTagSetError"}:
                raise
            # Created but not yet tagged (a deploy killed in between): ours only if empty.
            listing = s3.list_objects_v2(Bucket=name, MaxKeys=1)
            return OURS if not listing.get("KeyCount") else FOREIGN
        return self.owned(tags)

    def put(self, r: Bucket, rec: Recorded | None, existing: bool) -> dict[str, Any]:
        s3 = self.client("s3")
        if not existing or self.lookup(r.name, r) == MISSING:
            args: dict[str, Any] = {"Bucket": r.name}
            if self.api.conn.target.region != "us-east-1":
                args["CreateBucketConfiguration"] = {"LocationConstraint": self.api.conn.target.region}
            try:
                s3.create_bucket(**args)
            except ClientError as exc:
                if error_code(exc) != "BucketAlreadyOwnedByYou":
                    raise
        s3.put_bucket_tagging(Bucket=r.name, Tagging={"TagSet": tag_list(self.tags)})
        s3.put_public_access_block(Bucket=r.name, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
        if r.versioning or existing:
            s3.put_bucket_versioning(Bucket=r.name, VersioningConfiguration={
                "Status": "Enabled" if r.versioning else "Suspended"})
        return {"arn": f"arn:{self.api.conn.partition}:s3:::{r.name}"}

    def is_empty(self, name: str) -> bool:
        s3 = self.client("s3")
        try:
            versions = s3.list_object_versions(Bucket=name, MaxKeys=1)
        except ClientError as exc:
            if not_found(exc) or error_code(exc) == "NoSuchBucket":
                return True
            raise
        return not (versions.get("Versions") or versions.get("DeleteMarkers"))

    def empty(self, name: str) -> int:
        s3 = self.client("s3")
        removed = 0
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
            objects = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                       for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]]
            for start in range(0, len(objects), 1000):
                s3.delete_objects(Bucket=name, Delete={"Objects": objects[start:start + 1000], "Quiet": True})
                removed += len(objects[start:start + 1000])
        return removed

    def delete(self, rec: Recorded) -> None:
        self.client("s3").delete_bucket(Bucket=rec.name)

    def describe(self, rec: Recorded) -> str:
        self.client("s3").head_bucket(Bucket=rec.name)
        return "present"

    def delete_with_data(self, rec: Recorded) -> None:
        self.empty(rec.name)
        self.delete(rec)

    @classmethod
    def template(cls, r: Bucket, template: Template) -> None:
        """The bucket, with its notification configuration (CloudFormation has it on the bucket)."""
        properties: dict[str, Any] = {
            "BucketName": fn_sub(r.name),
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                               "BlockPublicPolicy": True, "RestrictPublicBuckets": True},
        }
        if r.versioning:
            properties["VersioningConfiguration"] = {"Status": "Enabled"}
        extra: tuple[str, ...] = ()
        note = next((n for n in template.of_kind("bucket_notifications") if n.logical == r.logical), None)
        if isinstance(note, BucketNotifications):
            config: dict[str, Any] = {}
            if note.eventbridge:
                config["EventBridgeConfiguration"] = {"EventBridgeEnabled": True}
            if note.lambdas:
                config["LambdaConfigurations"] = [
                    {"Event": "s3:ObjectCreated:*", "Function": get_att(f"function:{n.function}"),
                     **({"Filter": {"S3Key": {"Rules": _filter_rules(n)}}} if n.prefix or n.suffix else {})}
                    for n in note.lambdas]
            properties["NotificationConfiguration"] = config
            extra = note.depends_on
        template.add(r, "AWS::S3::Bucket", properties, extra)
        template.output(r)


class DeploymentBucketProvider(Provider):
    """The deployment bucket: a bucket like the stack's, emptied when deleted (it holds only
    deploy's copies of function zips)."""

    resource = DeploymentBucket

    @property
    def buckets(self) -> BucketProvider:
        return BucketProvider(self.api)

    def lookup(self, name: str, r: Resource | None) -> str:
        return self.buckets.lookup(name, r)

    def put(self, r: DeploymentBucket, rec: Recorded | None, existing: bool) -> dict[str, Any]:
        return self.buckets.put(Bucket(logical=r.logical, name=r.name), rec, existing)

    def delete(self, rec: Recorded) -> None:
        try:
            self.buckets.empty(rec.name)  # only deploy's copies of function zips
        except ClientError as exc:
            if not not_found(exc) and error_code(exc) != "NoSuchBucket":
                raise
        self.buckets.delete(rec)

    def describe(self, rec: Recorded) -> str:
        return self.buckets.describe(rec)

    def upload_code(self, bucket: str, key: str, path: Path) -> dict[str, str]:
        """Put a zip at ``s3://bucket/key`` (unless it is there already: keys are digests) and
        remove the function's older zips beside it (Lambda keeps its own copy of the code)."""
        s3 = self.client("s3")
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if not not_found(exc) and error_code(exc) not in {"404", "NoSuchKey", "NotFound"}:
                raise
            s3.upload_file(str(path), bucket, key)
        folder = key.rsplit("/", 1)[0] + "/"
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder)
        stale = [{"Key": o["Key"]} for page in pages for o in page.get("Contents", []) if o["Key"] != key]
        if stale:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": stale, "Quiet": True})
        return {"S3Bucket": bucket, "S3Key": key}

    @classmethod
    def template(cls, r: DeploymentBucket, template: Template) -> None:
        """Not in a template: its zips are in the template's ``CodeBucket`` parameter."""


class BucketNotificationsProvider(Provider):
    """S3's notification configuration behind ``BucketNotifications``."""

    resource = BucketNotifications

    def lookup(self, name: str, r: Resource | None) -> str:
        if self.api.provider("bucket").lookup(name, None) != OURS:
            return MISSING  # the bucket's own lookup reports a foreign bucket
        config = self.client("s3").get_bucket_notification_configuration(Bucket=name)
        wired = config.get("LambdaFunctionConfigurations") or "EventBridgeConfiguration" in config
        return OURS if wired else MISSING

    def put(self, r: BucketNotifications, rec: Recorded | None, existing: bool) -> dict[str, Any]:
        self.client("s3").put_bucket_notification_configuration(Bucket=r.name,
                                                                NotificationConfiguration=r.configuration())
        return {}

    def delete(self, rec: Recorded) -> None:
        self.client("s3").put_bucket_notification_configuration(Bucket=rec.name, NotificationConfiguration={})

    def describe(self, rec: Recorded) -> str:
        config = self.client("s3").get_bucket_notification_configuration(Bucket=rec.name)
        return "present" if config.get("LambdaFunctionConfigurations") or rec.properties.get("eventbridge") \
            else "empty"

    @classmethod
    def template(cls, r: BucketNotifications, template: Template) -> None:
        """Written with its bucket (:meth:`BucketProvider.template`)."""
