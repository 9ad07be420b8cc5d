"""SNS topics with Lambda subscribers on a real endpoint: AWS's SNS event, filter policies
(attributes and message body), the subscription's dead-letter queue, raw delivery refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import create_function, eventually, unique

PRINT_EVENT = "import json\ndef handler(event, context):\n    print('EVENT', json.dumps(event))\n"


def _logged(logs: Any, function: str) -> list[dict]:
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [json.loads(e["message"].split("EVENT", 1)[1]) for e in events if "EVENT" in e["message"]]


def _function(lam: Any) -> tuple[str, str]:
    name = create_function(lam, PRINT_EVENT)
    return name, lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]


def test_lambda_subscriber_receives_aws_sns_event(clients: Any, lam: Any, endpoint: Any) -> None:
    sns, logs = clients("sns"), clients("logs")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    function, function_arn = _function(lam)
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)["SubscriptionArn"]
    message_id = sns.publish(TopicArn=topic, Message="retrain please", Subject="drift", MessageAttributes={
        "model": {"DataType": "String", "StringValue": "champion"},
        "score": {"DataType": "Number", "StringValue": "0.42"},
    })["MessageId"]
    event = eventually(lambda: _logged(logs, function))[0]
    assert list(event) == ["Records"] and len(event["Records"]) == 1
    record = event["Records"][0]
    assert {k: record[k] for k in ("EventSource", "EventVersion", "EventSubscriptionArn")} == {
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": subscription}
    body = record["Sns"]
    assert set(body) == {"Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
                         "Signature", "SigningCertUrl", "UnsubscribeUrl", "MessageAttributes"}
    assert (body["Type"], body["MessageId"], body["TopicArn"], body["Subject"], body["Message"]) == (
        "Notification", message_id, topic, "drift", "retrain please")
    assert body["MessageAttributes"] == {"model": {"Type": "String", "Value": "champion"},
                                         "score": {"Type": "Number", "Value": "0.42"}}
    assert body["UnsubscribeUrl"].endswith(f"SubscriptionArn={subscription}")
    assert body["SigningCertUrl"].startswith("https://sns.us-east-1.amazonaws.com/") and body["Signature"]
    # a message without a subject: Subject is null, as AWS sends it; MessageStructure json picks "lambda"
    sns.publish(TopicArn=topic, MessageStructure="json",
                Message=json.dumps({"default": "for all", "lambda": "for functions"}))
    second = eventually(lambda: [e for e in _logged(logs, function) if e["Records"][0]["Sns"]["Subject"] is None])
    assert second[0]["Records"][0]["Sns"]["Message"] == "for functions"
    assert second[0]["Records"][0]["Sns"]["MessageAttributes"] == {}


def test_filter_policies_on_attributes_and_body(clients: Any, lam: Any, endpoint: Any) -> None:
    sns, logs = clients("sns"), clients("logs")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    by_attribute, by_attribute_arn = _function(lam)
    by_body, by_body_arn = _function(lam)
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=by_attribute_arn, Attributes={
        "FilterPolicy": json.dumps({"drift": [{"numeric": [">", 0.3]}]})})
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=by_body_arn, Attributes={
        "FilterPolicy": json.dumps({"model": ["champion"]}), "FilterPolicyScope": "MessageBody"})
    sns.publish(TopicArn=topic, Message=json.dumps({"model": "challenger", "n": 1}),
                MessageAttributes={"drift": {"DataType": "Number", "StringValue": "0.1"}})
    sns.publish(TopicArn=topic, Message=json.dumps({"model": "champion", "n": 2}),
                MessageAttributes={"drift": {"DataType": "Number", "StringValue": "0.5"}})
    assert eventually(lambda: _logged(logs, by_attribute))
    assert eventually(lambda: _logged(logs, by_body))
    assert endpoint.wait_idle(60)
    assert [json.loads(e["Records"][0]["Sns"]["Message"])["n"] for e in _logged(logs, by_attribute)] == [2]
    assert [json.loads(e["Records"][0]["Sns"]["Message"])["n"] for e in _logged(logs, by_body)] == [2]


def test_undeliverable_message_goes_to_the_subscription_dead_letter_queue(clients: Any, lam: Any,
                                                                           endpoint: Any) -> None:
    sns, sqs = clients("sns"), clients("sqs")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    dlq_url = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    function, function_arn = _function(lam)
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn, Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})["SubscriptionArn"]
    lam.delete_function(FunctionName=function)  # a client-side error: not retried
    message_id = sns.publish(TopicArn=topic, Message="lost", Subject="s")["MessageId"]
    messages = eventually(lambda: sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"]).get(
        "Messages"))
    body = json.loads(messages[0]["Body"])
    assert (body["Type"], body["MessageId"], body["TopicArn"], body["Message"]) == (
        "Notification", message_id, topic, "lost")
    assert body["UnsubscribeURL"].endswith(subscription)
    attributes = {k: v["StringValue"] for k, v in messages[0]["MessageAttributes"].items()}
    assert attributes["ErrorCode"] == "ResourceNotFoundException"
    assert set(attributes) == {"RequestID", "ErrorCode", "ErrorMessage"}


def test_raw_message_delivery_is_refused_for_lambda(clients: Any, lam: Any) -> None:
    sns = clients("sns")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    _, function_arn = _function(lam)
    with pytest.raises(ClientError) as caught:
        sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn,
                      Attributes={"RawMessageDelivery": "true"})
    assert caught.value.response["Error"]["Code"] == "InvalidParameter"
    assert caught.value.response["Error"]["Message"] == ("Invalid parameter: Delivery protocol [lambda] does not "
                                                         "support raw message delivery.")
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)["SubscriptionArn"]
    with pytest.raises(ClientError) as caught:
        sns.set_subscription_attributes(SubscriptionArn=subscription, AttributeName="RawMessageDelivery",
                                        AttributeValue="true")
    assert caught.value.response["Error"]["Code"] == "InvalidParameter"
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    assert attributes["RawMessageDelivery"] == "false"
