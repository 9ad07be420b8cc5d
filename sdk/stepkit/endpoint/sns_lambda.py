"""SNS subscriptions of Lambda functions (protocol ``lambda``), delivered by stepkit.

moto keeps topics and subscriptions, applies filter policies (attribute and
``FilterPolicyScope: MessageBody``) and delivers to SQS itself; for a Lambda function it
would call its own Lambda backend, where stepkit's functions are not. ``Subscription.publish``
is pointed here for ``lambda`` subscriptions: the filter policy is applied as moto does, then
AWS's SNS event (``Records[].EventSource "aws:sns"``, ``EventVersion``,
``EventSubscriptionArn``, ``Sns: {Type, MessageId, TopicArn, Subject, Message, Timestamp,
SignatureVersion, Signature, SigningCertUrl, UnsubscribeUrl, MessageAttributes}``) goes into
the durable outbox (``events.Deliveries``) inside the Publish request, and is invoked
asynchronously, as SNS invokes functions.

Failures, as the SNS developer guide documents ("Amazon SNS message delivery retries",
"Amazon SNS dead-letter queues"): Lambda is an AWS-managed endpoint, retried 100,015 times
over 23 days when the error is on the service's side; a client-side error (the function does
not exist) is not retried. A message SNS gives up on goes to the subscription's
``RedrivePolicy`` dead-letter queue, as its notification envelope with the ``RequestID``,
``ErrorCode`` and ``ErrorMessage`` attributes. Once Lambda has accepted the asynchronous
invocation, a function error is Lambda's business (its own retries, ``DeadLetterConfig`` and
destinations), not SNS's: the subscription's queue does not receive it.

``RawMessageDelivery`` is refused on a ``lambda`` subscription with AWS's error ("Delivery
protocol [lambda] does not support raw message delivery.").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

_RETRIES = 100_015  # SNS's delivery policy for AWS-managed endpoints
_MAX_AGE = 23 * 86400.0
_RAW_REFUSED = "Invalid parameter: Delivery protocol [lambda] does not support raw message delivery."


def install(originals: dict[str, Any], deliveries: Callable[[], Any]) -> None:
    """Patch moto's SNS (``originals`` keeps what is replaced, for ``uninstall``)."""
    from moto.sns.models import SNSBackend, Subscription
    from moto.sns.responses import SNSResponse

    originals.update(sns_publish=Subscription.publish, sns_set_attribute=SNSBackend.set_subscription_attributes,
                     sns_subscribe=SNSResponse.subscribe)
    original_publish = originals["sns_publish"]
    original_set = originals["sns_set_attribute"]
    original_subscribe = originals["sns_subscribe"]

    def publish(subscription: Any, message: str, message_id: str, subject: str | None = None,
                message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
                deduplication_id: str | None = None, message_structure: str | None = None) -> None:
        target = deliveries()
        if subscription.protocol != "lambda" or target is None:
            original_publish(subscription, message, message_id, subject, message_attributes, group_id,
                             deduplication_id, message_structure)
            return
        matcher = subscription._filter_policy_matcher
        if matcher is not None and not matcher.matches(message_attributes, message):
            return
        if message_structure == "json":
            message = subscription._parse_message_structure(message, "lambda")
        to_lambda(target, subscription, message, message_id, subject, message_attributes)

    def set_subscription_attributes(backend: Any, arn: str, name: str, value: Any) -> None:
        if name == "RawMessageDelivery" and str(value).lower() == "true":
            found = [s for s in backend.subscriptions.values() if s.arn == arn]
            if found and found[0].protocol == "lambda":
                _refuse_raw()
        original_set(backend, arn, name, value)

    def subscribe(response: Any) -> Any:
        # checked before moto creates the subscription: a refused request changes nothing
        attributes = response._get_attributes() or {}
        if response._get_param("Protocol") == "lambda" and str(attributes.get("RawMessageDelivery")).lower() == "true":
            _refuse_raw()
        return original_subscribe(response)

    # moto's methods replaced at run time (setattr: the patch is not a subclass's override)
    setattr(Subscription, "publish", publish)  # noqa: B010
    setattr(SNSBackend, "set_subscription_attributes", set_subscription_attributes)  # noqa: B010
    setattr(SNSResponse, "subscribe", subscribe)  # noqa: B010


def uninstall(originals: dict[str, Any]) -> None:
    from moto.sns.models import SNSBackend, Subscription
    from moto.sns.responses import SNSResponse

    setattr(Subscription, "publish", originals.pop("sns_publish"))  # noqa: B010
    setattr(SNSBackend, "set_subscription_attributes", originals.pop("sns_set_attribute"))  # noqa: B010
    setattr(SNSResponse, "subscribe", originals.pop("sns_subscribe"))  # noqa: B010


def _refuse_raw() -> None:
    from moto.sns.exceptions import SNSInvalidParameter

    raise SNSInvalidParameter(_RAW_REFUSED)


def _attributes(message_attributes: dict[str, Any] | None) -> dict[str, dict[str, str]]:
    """SNS's ``{"Type", "Value"}`` per attribute, numbers as the text they were sent as."""
    out = {}
    for name, attribute in (message_attributes or {}).items():
        value = attribute.get("Value")
        out[name] = {"Type": attribute.get("Type", "String"),
                     "Value": value if isinstance(value, str) else json.dumps(value)}
    return out


def to_lambda(deliveries: Any, subscription: Any, message: str, message_id: str, subject: str | None,
              message_attributes: dict[str, Any] | None) -> None:
    """One message for one Lambda subscription, into the outbox."""
    envelope = subscription.get_post_data(message, message_id, subject, message_attributes=message_attributes)
    region = subscription.topic.arn.split(":")[3]
    record = {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription.arn,
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": subscription.topic.arn,
            "Subject": subject,
            "Message": message,
            "Timestamp": envelope["Timestamp"],
            "SignatureVersion": envelope["SignatureVersion"],
            "Signature": envelope["Signature"],
            "SigningCertUrl": envelope["SigningCertURL"],
            "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
                              f"{subscription.arn}",
            "MessageAttributes": _attributes(message_attributes),
        },
    }
    envelope["UnsubscribeURL"] = record["Sns"]["UnsubscribeUrl"]
    dead_letter = None
    redrive = subscription.attributes.get("RedrivePolicy")
    if redrive:
        try:
            dead_letter = json.loads(redrive).get("deadLetterTargetArn")
        except (ValueError, AttributeError):
            log.warning("subscription %s: its RedrivePolicy is not JSON", subscription.arn)
    deliveries.submit("lambda", subscription.endpoint, {"Records": [record]}, dead_letter=dead_letter,
                      retries=_RETRIES, max_age=_MAX_AGE, dead_letter_body=json.dumps(envelope),
                      dead_letter_style="sns")
