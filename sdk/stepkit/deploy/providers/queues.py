"""SQS queues (the stack's ``queues:``, kind ``queue``, with their dead-letter queues) and a
function's ``sqs`` trigger (a Lambda event source mapping, kind ``event_source_mapping``).

A queue carries the stack's tags; a dead-letter queue a topic's subscriptions use gets the
policy that lets those topics (only) send to it. A mapping cannot be tagged: it is ours when it
links the stack's own function to the stack's own queue."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from botocore.exceptions import ClientError

from stepkit.deploy.naming import Names
from stepkit.deploy.policy import PolicyBuilder
from stepkit.deploy.providers import topics
from stepkit.deploy.providers.base import (
    MISSING,
    OURS,
    BuildContext,
    Provider,
    Template,
    error_code,
    get_att,
    logical_id,
    not_found,
    ref,
)
from stepkit.deploy.resources import Resource
from stepkit.deploy.state import Recorded

if TYPE_CHECKING:
    from stepkit.deploy.iam import StackArns
    from stepkit.stack.resources import Grant


@dataclass(frozen=True)
class Queue(Resource):
    kind: ClassVar[str] = "queue"
    order: ClassVar[int] = 40

    visibility_timeout: int = 30
    retention: int = 345600
    delay: int = 0
    dead_letter_queue: str | None = None
    """Logical name of the dead-letter queue."""
    dead_letter_arn: str | None = None
    max_receive_count: int = 5
    arn: str = ""
    senders: tuple[str, ...] = ()
    """ARNs of the SNS topics allowed to send to this queue: the topics whose subscriptions
    use it as their dead-letter queue (SNS needs the queue's policy to say so)."""
    sender_topics: tuple[str, ...] = ()
    """Their logical names (for the CloudFormation export)."""

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (f"queue:{self.dead_letter_queue}",) if self.dead_letter_queue else ()

    def policy(self) -> dict[str, Any] | None:
        """The queue policy letting ``senders`` (only) send to it, or None."""
        if not self.senders:
            return None
        return {"Version": "2012-10-17", "Statement": [{
            "Sid": "stepkit-sns-dead-letters", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": self.arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": list(self.senders)}}}]}

    def attributes(self) -> dict[str, str]:
        out = {
            "VisibilityTimeout": str(self.visibility_timeout),
            "MessageRetentionPeriod": str(self.retention),
            "DelaySeconds": str(self.delay),
        }
        if self.dead_letter_arn:
            out["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": self.dead_letter_arn, "maxReceiveCount": self.max_receive_count}
            )
        policy = self.policy()
        if policy is not None:
            out["Policy"] = json.dumps(policy)
        return out


@dataclass(frozen=True)
class EventSourceMapping(Resource):
    kind: ClassVar[str] = "event_source_mapping"
    order: ClassVar[int] = 90

    function: str = ""
    function_name: str = ""
    queue: str = ""
    queue_arn: str = ""
    batch_size: int = 10
    batching_window: int = 0
    partial_failures: bool = True
    enabled: bool = True

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (f"function:{self.function}", f"queue:{self.queue}")


def build(ctx: BuildContext) -> None:
    """The stack's ``queues:``, each after the dead-letter queue it makes."""
    names, stack = ctx.names, ctx.stack
    senders = topics.dead_letter_senders(stack)
    for logical, settings in stack.queues.items():
        dead = settings.dead_letter
        dlq = None
        if dead is not None:
            dlq = dead.queue or f"{logical}-dlq"
            if dead.queue is None:
                ctx.add(Queue(logical=dlq, name=names.queue(dlq), retention=1209600))
                ctx.check_length("queue", names.queue(dlq), f"queues.{logical}.dead_letter")
        ctx.check_length("queue", names.queue(logical), f"queues.{logical}")
        ctx.add(Queue(
            logical=logical, name=names.queue(logical), visibility_timeout=settings.visibility_timeout,
            retention=settings.retention, delay=settings.delay, dead_letter_queue=dlq,
            dead_letter_arn=names.queue_arn(dlq) if dlq else None,
            max_receive_count=dead.max_receive_count if dead else 5,
            arn=names.queue_arn(logical), senders=tuple(names.topic_arn(t) for t in sorted(senders.get(logical, ()))),
            sender_topics=tuple(sorted(senders.get(logical, ()))),
        ))


def sqs_mapping(function: str, trigger: Any, names: Names) -> EventSourceMapping:
    """A function's ``sqs`` trigger (:class:`~stepkit.stack.resources.SqsTrigger`)."""
    q = trigger
    return EventSourceMapping(
        logical=f"{function}-sqs-{q.queue}", name=f"{names.function(function)}<-{names.queue(q.queue)}",
        function=function, function_name=names.function(function), queue=q.queue,
        queue_arn=names.queue_arn(q.queue), batch_size=q.batch_size, batching_window=q.batching_window,
        partial_failures=q.partial_failures, enabled=q.enabled)


def sqs_trigger_policy(policy: PolicyBuilder, trigger: Any, names: Names) -> None:
    """What Lambda's poller does with the function's role on the queue that triggers it."""
    policy.allow(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                  "sqs:GetQueueAttributes"], names.queue_arn(trigger.queue))


_QUEUE_ACTIONS = {
    "send": ("sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"),
    "receive": ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                "sqs:GetQueueAttributes", "sqs:GetQueueUrl"),
}


def grant(policy: PolicyBuilder, grant: Grant, stack: StackArns) -> None:
    """An ``access:`` grant on a queue: send to it and/or receive from it."""
    policy.allow([a for action in grant.effective_actions for a in _QUEUE_ACTIONS[action]],
                 stack.names.queue_arn(grant.target))


class QueueProvider(Provider):
    """The SQS calls behind ``Queue``."""

    resource = Queue

    def _queue_url(self, name: str) -> str | None:
        try:
            return str(self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])
        except ClientError as exc:
            if not_found(exc):
                return None
            raise

    def lookup(self, name: str, r: Resource | None) -> str:
        url = self._queue_url(name)
        if url is None:
            return MISSING
        return self.owned(self.client("sqs").list_queue_tags(QueueUrl=url).get("Tags", {}))

    def put(self, r: Queue, rec: Recorded | None, existing: bool) -> dict[str, Any]:
        sqs = self.client("sqs")
        url = self._queue_url(r.name) if existing else None
        if url is None:
            try:
                url = sqs.create_queue(QueueName=r.name, Attributes=r.attributes(), tags=self.tags)["QueueUrl"]
            except ClientError as exc:
                if error_code(exc) not in {"QueueAlreadyExists", "QueueNameExists"}:
                    raise
                url = self._queue_url(r.name)
                existing = True
        if existing:
            attributes = {"RedrivePolicy": "", "Policy": "", **r.attributes()}  # "" removes what the stack dropped
            sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return {"url": url, "arn": arn}

    def delete(self, rec: Recorded) -> None:
        url = rec.outputs.get("url") or self._queue_url(rec.name)
        if url:
            self.client("sqs").delete_queue(QueueUrl=url)

    def describe(self, rec: Recorded) -> str:
        url = self._queue_url(rec.name)
        if url is None:
            return MISSING
        attrs = self.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        return f"{attrs['Attributes'].get('ApproximateNumberOfMessages', '?')} messages"

    @classmethod
    def template(cls, r: Queue, template: Template) -> None:
        properties: dict[str, Any] = {"QueueName": r.name, "VisibilityTimeout": r.visibility_timeout,
                                      "MessageRetentionPeriod": r.retention, "DelaySeconds": r.delay}
        if r.dead_letter_queue:
            properties["RedrivePolicy"] = {"deadLetterTargetArn": get_att(f"queue:{r.dead_letter_queue}"),
                                           "maxReceiveCount": r.max_receive_count}
        template.add(r, "AWS::SQS::Queue", properties)
        policy = r.policy()
        if policy is not None:  # the topics whose subscriptions dead-letter here may send
            policy["Statement"][0]["Resource"] = get_att(r.key)
            policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] = [
                ref(f"topic:{t}") for t in r.sender_topics]
            template.resources[logical_id(r.key) + "Policy"] = {"Type": "AWS::SQS::QueuePolicy", "Properties": {
                "Queues": [ref(r.key)], "PolicyDocument": policy}}
        template.output(r)


class EventSourceMappingProvider(Provider):
    """The Lambda calls behind ``EventSourceMapping``."""

    resource = EventSourceMapping

    def _mapping(self, function: str, queue_arn: str) -> dict[str, Any] | None:
        try:
            found = self.client("lambda").list_event_source_mappings(FunctionName=function, EventSourceArn=queue_arn)
        except ClientError as exc:
            if not_found(exc):
                return None
            raise
        mappings = found.get("EventSourceMappings", [])
        return mappings[0] if mappings else None

    def lookup(self, name: str, r: Resource | None) -> str:
        if not isinstance(r, EventSourceMapping):
            return MISSING
        return OURS if self._mapping(r.function_name, r.queue_arn) else MISSING

    def put(self, r: EventSourceMapping, rec: Recorded | None, existing: bool) -> dict[str, Any]:
        lam = self.client("lambda")
        settings = {"BatchSize": r.batch_size, "MaximumBatchingWindowInSeconds": r.batching_window,
                    "FunctionResponseTypes": ["ReportBatchItemFailures"] if r.partial_failures else [],
                    "Enabled": r.enabled}
        found = self._mapping(r.function_name, r.queue_arn)
        if found is None:
            created = self.retry_iam(lambda: lam.create_event_source_mapping(
                EventSourceArn=r.queue_arn, FunctionName=r.function_name, **settings))
            return {"uuid": created["UUID"], "function": r.function_name, "queue_arn": r.queue_arn}
        lam.update_event_source_mapping(UUID=found["UUID"], **settings)
        return {"uuid": found["UUID"], "function": r.function_name, "queue_arn": r.queue_arn}

    def delete(self, rec: Recorded) -> None:
        uuid = rec.outputs.get("uuid")
        if not uuid:
            found = self._mapping(rec.properties.get("function_name", ""), rec.properties.get("queue_arn", ""))
            uuid = found["UUID"] if found else None
        if uuid:
            self.client("lambda").delete_event_source_mapping(UUID=uuid)

    def describe(self, rec: Recorded) -> str:
        uuid = rec.outputs.get("uuid")
        if not uuid:
            return MISSING
        return str(self.client("lambda").get_event_source_mapping(UUID=uuid).get("State", "Enabled"))

    @classmethod
    def template(cls, r: EventSourceMapping, template: Template) -> None:
        properties: dict[str, Any] = {
            "EventSourceArn": get_att(f"queue:{r.queue}"), "FunctionName": ref(f"function:{r.function}"),
            "BatchSize": r.batch_size, "Enabled": r.enabled, "MaximumBatchingWindowInSeconds": r.batching_window,
        }
        if r.partial_failures:
            properties["FunctionResponseTypes"] = ["ReportBatchItemFailures"]
        template.add(r, "AWS::Lambda::EventSourceMapping", properties)
