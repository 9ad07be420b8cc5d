"""SNS topics (the stack's ``topics:``, kind ``topic``) and functions' subscriptions to them
(a function's ``sns`` trigger, kind ``subscription``).

A topic carries the stack's tags, as every other resource deploy creates; a subscription
cannot be tagged, so one is ours when it links the stack's own topic to the stack's own
function (as a function's permission statement is recognised by its id)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from botocore.exceptions import ClientError

from stepkit.deploy.naming import Names
from stepkit.deploy.policy import PolicyBuilder
from stepkit.deploy.providers.base import MISSING, OURS, BuildContext, Provider, Template, get_att, ref
from stepkit.deploy.providers.permissions import invoke_permission
from stepkit.deploy.resources import Resource
from stepkit.deploy.state import Recorded
from stepkit.stack.resources import SnsTrigger

if TYPE_CHECKING:
    from stepkit.deploy.iam import StackArns
    from stepkit.stack.resources import Grant


@dataclass(frozen=True)
class Topic(Resource):
    """A standard SNS topic."""

    kind: ClassVar[str] = "topic"
    order: ClassVar[int] = 45

    display_name: str = ""


@dataclass(frozen=True)
class Subscription(Resource):
    """A function's subscription to a topic (protocol ``lambda``), maybe with a filter policy."""

    kind: ClassVar[str] = "subscription"
    order: ClassVar[int] = 85

    function: str = ""
    function_arn: str = ""
    topic: str = ""
    topic_arn: str = ""
    filter_policy: str = ""
    filter_scope: str = "MessageAttributes"
    dead_letter: str = ""
    """Logical name of the queue SNS sends what it could not deliver to (its ``RedrivePolicy``)."""
    dead_letter_arn: str = ""

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (f"function:{self.function}", f"topic:{self.topic}", f"permission:{self.function}-sns-{self.topic}",
                *((f"queue:{self.dead_letter}",) if self.dead_letter else ()))

    def attributes(self) -> dict[str, str]:
        """SNS's subscription attributes this one sets."""
        out = {"FilterPolicy": self.filter_policy, "FilterPolicyScope": self.filter_scope} if self.filter_policy \
            else {}
        if self.dead_letter_arn:
            out["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": self.dead_letter_arn})
        return out


def build(ctx: BuildContext) -> None:
    """The stack's ``topics:``."""
    for logical, topic in ctx.stack.topics.items():
        ctx.check_length("topic", ctx.names.topic(logical), f"topics.{logical}")
        ctx.add(Topic(logical=logical, name=ctx.names.topic(logical), display_name=topic.display_name))


def subscription(function: str, trigger: SnsTrigger, names: Names) -> list[Resource]:
    """A function's subscription to a topic and the permission that lets that topic (only)
    invoke it."""
    permission = f"{function}-sns-{trigger.topic}"
    policy = json.dumps(trigger.filter_policy, sort_keys=True) if trigger.filter_policy is not None else ""
    return [
        invoke_permission(permission, function, "sns.amazonaws.com", names.topic_arn(trigger.topic), names),
        Subscription(logical=f"{function}-{trigger.topic}",
                     name=f"{names.topic(trigger.topic)}->{names.function(function)}", function=function,
                     function_arn=names.function_arn(function), topic=trigger.topic,
                     topic_arn=names.topic_arn(trigger.topic), filter_policy=policy,
                     filter_scope="MessageBody" if trigger.filter_scope == "body" else "MessageAttributes",
                     dead_letter=trigger.dead_letter or "",
                     dead_letter_arn=names.queue_arn(trigger.dead_letter) if trigger.dead_letter else ""),
    ]


def dead_letter_senders(stack: Any) -> dict[str, set[str]]:
    """Per queue, the (logical) topics whose function subscriptions send their dead letters to it."""
    out: dict[str, set[str]] = {}
    for settings in stack.functions.values():
        for trigger in settings.triggers:
            if trigger.sns is not None and trigger.sns.dead_letter and trigger.sns.topic in stack.topics:
                out.setdefault(trigger.sns.dead_letter, set()).add(trigger.sns.topic)
    return out


def grant(policy: PolicyBuilder, grant: Grant, stack: StackArns) -> None:
    """An ``access:`` grant on a topic: publish to it."""
    policy.allow(["sns:Publish"], stack.names.topic_arn(grant.target))


class TopicProvider(Provider):
    """The SNS calls behind ``Topic``."""

    resource = Topic

    def _topic_arn(self, name: str) -> str | None:
        for page in self.client("sns").get_paginator("list_topics").paginate():
            for topic in page.get("Topics", []):
                if topic["TopicArn"].rsplit(":", 1)[-1] == name:
                    return str(topic["TopicArn"])
        return None

    def lookup(self, name: str, resource: Resource | None) -> str:
        arn = self._topic_arn(name)
        if arn is None:
            return MISSING
        tags = self.client("sns").list_tags_for_resource(ResourceArn=arn).get("Tags", [])
        return self.owned({t["Key"]: t["Value"] for t in tags})

    def put(self, r: Topic, recorded: Recorded | None, existing: bool) -> dict[str, Any]:
        sns = self.client("sns")
        arn = sns.create_topic(Name=r.name, Tags=[{"Key": k, "Value": v} for k, v in self.tags.items()])["TopicArn"]
        sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue=r.display_name)
        return {"arn": arn}

    def delete(self, rec: Recorded) -> None:
        arn = rec.outputs.get("arn") or self._topic_arn(rec.name)
        if arn:
            self.client("sns").delete_topic(TopicArn=arn)

    def describe(self, rec: Recorded) -> str:
        return "present" if self._topic_arn(rec.name) else MISSING

    @classmethod
    def template(cls, r: Topic, template: Template) -> None:
        template.add(r, "AWS::SNS::Topic", {"TopicName": r.name,
                                            **({"DisplayName": r.display_name} if r.display_name else {})})


class SubscriptionProvider(Provider):
    """The SNS calls behind ``Subscription``."""

    resource = Subscription

    def _subscriptions(self, topic_arn: str, function_arn: str) -> Iterator[dict[str, Any]]:
        try:
            for page in self.client("sns").get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
                for sub in page.get("Subscriptions", []):
                    if sub["Protocol"] == "lambda" and sub["Endpoint"] == function_arn:
                        yield sub
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in {"NotFound", "NotFoundException"}:
                raise

    def lookup(self, name: str, r: Resource | None) -> str:
        if not isinstance(r, Subscription):
            return MISSING
        return OURS if any(self._subscriptions(r.topic_arn, r.function_arn)) else MISSING

    def put(self, r: Subscription, recorded: Recorded | None, existing: bool) -> dict[str, Any]:
        sns = self.client("sns")
        found = next(self._subscriptions(r.topic_arn, r.function_arn), None)
        if found is None:
            arn = sns.subscribe(TopicArn=r.topic_arn, Protocol="lambda", Endpoint=r.function_arn,
                                Attributes=r.attributes(), ReturnSubscriptionArn=True)["SubscriptionArn"]
            return {"arn": arn}
        arn = found["SubscriptionArn"]
        # SNS checks a filter policy against its scope: the scope first, then the policy
        for name, value in (r.attributes() or {"FilterPolicy": "{}"}).items():
            sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName=name, AttributeValue=value)
        return {"arn": arn}

    def delete(self, rec: Recorded) -> None:
        arn = rec.outputs.get("arn")
        if arn:
            self.client("sns").unsubscribe(SubscriptionArn=arn)

    def describe(self, rec: Recorded) -> str:
        topic, function = rec.properties.get("topic_arn", ""), rec.properties.get("function_arn", "")
        return "present" if any(self._subscriptions(topic, function)) else MISSING

    @classmethod
    def template(cls, r: Subscription, template: Template) -> None:
        properties: dict[str, Any] = {"TopicArn": ref(f"topic:{r.topic}"), "Protocol": "lambda",
                                      "Endpoint": get_att(f"function:{r.function}")}
        if r.filter_policy:
            properties.update(FilterPolicy=json.loads(r.filter_policy), FilterPolicyScope=r.filter_scope)
        if r.dead_letter:
            properties["RedrivePolicy"] = {"deadLetterTargetArn": get_att(f"queue:{r.dead_letter}")}
        template.add(r, "AWS::SNS::Subscription", properties)
