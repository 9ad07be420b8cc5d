"""A topic trigger's dead-letter queue deployed by ``stepkit deploy`` to a real local endpoint:
the subscription's RedrivePolicy names the queue, the queue's policy lets that topic (only)
send to it, a message SNS cannot deliver lands there; ``stepkit package`` exports both."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from local_project import eventually, local_project

from stepkit.cli import main
from stepkit.endpoint import LocalEndpoint

STACK = """name: dl
topics:
  drift: {}
queues:
  undelivered: {}
functions:
  retrain:
    runtime: python3.12
    triggers:
      - sns: {topic: drift, dead_letter: undelivered}
"""


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalEndpoint]:
    files = {"infra/stack.yaml": STACK, "functions/retrain/app.py": "def handler(event, context):\n    return None\n"}
    with local_project(tmp_path, monkeypatch, "dl", files) as ep:
        yield ep


def test_topic_trigger_dead_letter_queue(endpoint: LocalEndpoint, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["deploy"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    sns, sqs, lam = endpoint.client("sns"), endpoint.client("sqs"), endpoint.client("lambda")
    topic = "arn:aws:sns:us-east-1:123456789012:dl-dev-drift"
    queue_arn = "arn:aws:sqs:us-east-1:123456789012:dl-dev-undelivered"
    [subscription] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])["Attributes"]
    assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": queue_arn}
    url = sqs.get_queue_url(QueueName="dl-dev-undelivered")["QueueUrl"]
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    [statement] = policy["Statement"]
    assert (statement["Principal"], statement["Action"], statement["Resource"]) == (
        {"Service": "sns.amazonaws.com"}, "sqs:SendMessage", queue_arn)
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": [topic]}}

    lam.delete_function(FunctionName="dl-dev-retrain")  # SNS cannot deliver: a client-side error
    sns.publish(TopicArn=topic, Message="retrain please")
    messages = eventually(lambda: sqs.receive_message(QueueUrl=url).get("Messages", []))
    assert messages and json.loads(messages[0]["Body"])["Message"] == "retrain please"

    packaged = CliRunner().invoke(main, ["package", "--out", str(tmp_path / "out")])
    assert packaged.exit_code == 0, packaged.output
    template = json.loads((tmp_path / "out" / "template.json").read_text())["Resources"]
    [sub] = [r for r in template.values() if r["Type"] == "AWS::SNS::Subscription"]
    assert "Fn::GetAtt" in sub["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]
    [queue_policy] = [r for r in template.values() if r["Type"] == "AWS::SQS::QueuePolicy"]
    condition = queue_policy["Properties"]["PolicyDocument"]["Statement"][0]["Condition"]
    assert condition["ArnEquals"]["aws:SourceArn"] == [{"Ref": next(k for k, r in template.items()
                                                                   if r["Type"] == "AWS::SNS::Topic")}]
