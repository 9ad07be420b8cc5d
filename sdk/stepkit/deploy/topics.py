"""Deploying SNS topics and functions' subscriptions to them. Mixed into ``aws.Api`` (which
dispatches on the resource kind: ``topic``, ``subscription``).

A topic carries the stack's tags, as every other resource deploy creates; a subscription
cannot be tagged, so one is ours when it links the stack's own topic to the stack's own
function (as a function's permission statement is recognised by its id)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from stepkit.deploy.resources import Resource, Subscription, Topic
from stepkit.deploy.state import Recorded

MISSING, OURS, FOREIGN = "missing", "ours", "foreign"


class TopicCalls:
    """The SNS calls behind ``Topic`` and ``Subscription`` (``client``, ``tags``, ``owned``: aws.Api's)."""

    tags: dict[str, str]
    client: Callable[[str], Any]
    owned: Callable[[dict[str, str] | None], str]

    def _topic_arn(self, name: str) -> str | None:
        for page in self.client("sns").get_paginator("list_topics").paginate():
            for topic in page.get("Topics", []):
                if topic["TopicArn"].rsplit(":", 1)[-1] == name:
                    return str(topic["TopicArn"])
        return None

    def _lookup_topic(self, name: str, _r: Resource | None) -> str:
        arn = self._topic_arn(name)
        if arn is None:
            return MISSING
        tags = self.client("sns").list_tags_for_resource(ResourceArn=arn).get("Tags", [])
        return self.owned({t["Key"]: t["Value"] for t in tags})

    def _put_topic(self, r: Topic, _rec: Recorded | None, existing: bool) -> dict[str, Any]:
        sns = self.client("sns")
        arn = sns.create_topic(Name=r.name, Tags=[{"Key": k, "Value": v} for k, v in self.tags.items()])["TopicArn"]
        sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue=r.display_name)
        return {"arn": arn}

    def _delete_topic(self, rec: Recorded) -> None:
        arn = rec.outputs.get("arn") or self._topic_arn(rec.name)
        if arn:
            self.client("sns").delete_topic(TopicArn=arn)

    def _describe_topic(self, rec: Recorded) -> str:
        return "present" if self._topic_arn(rec.name) else MISSING

    # --- subscriptions ----------------------------------------------------------------------------

    def _subscriptions(self, topic_arn: str, function_arn: str) -> Iterator[dict[str, Any]]:
        try:
            for page in self.client("sns").get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
                for sub in page.get("Subscriptions", []):
                    if sub["Protocol"] == "lambda" and sub["Endpoint"] == function_arn:
                        yield sub
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in {"NotFound", "NotFoundException"}:
                raise

    def _lookup_subscription(self, name: str, r: Resource | None) -> str:
        if not isinstance(r, Subscription):
            return MISSING
        return OURS if any(self._subscriptions(r.topic_arn, r.function_arn)) else MISSING

    def _put_subscription(self, r: Subscription, _rec: Recorded | None, existing: bool) -> dict[str, Any]:
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

    def _delete_subscription(self, rec: Recorded) -> None:
        arn = rec.outputs.get("arn")
        if arn:
            self.client("sns").unsubscribe(SubscriptionArn=arn)

    def _describe_subscription(self, rec: Recorded) -> str:
        topic, function = rec.properties.get("topic_arn", ""), rec.properties.get("function_arn", "")
        return "present" if any(self._subscriptions(topic, function)) else MISSING
