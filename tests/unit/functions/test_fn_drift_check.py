"""drift_check and retrain_on_drift, in-process against moto: a batch like the training data
does not drift; a shifted one does and is published to the drift topic; an S3 upload event
names its batch; no champion yet is a skip, not a failure; retraining starts once per message
(a second delivery finds the execution: Step Functions answers the same one, or
ExecutionAlreadyExists once it has ended)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import boto3
import pytest
from fn_kit import BUCKET, harness

pytestmark = pytest.mark.usefixtures("s3")


def _batch(kit: Any, key: str, scale: float = 1.0) -> None:
    body = kit.sample.inference_csv("iris", rows=60).decode()
    rows = list(csv.reader(io.StringIO(body)))
    header, data = rows[0], rows[1:]
    shifted = [[f"{float(v) * scale:.4f}" if j == 0 else v for j, v in enumerate(row)] for row in data]
    out = io.StringIO()
    csv.writer(out).writerows([header, *shifted])
    kit.put(key, out.getvalue())


def _topic() -> tuple[str, str]:
    sns, sqs = boto3.client("sns", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="drift")["TopicArn"]
    url = sqs.create_queue(QueueName="drift-seen")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    return topic, url


def _drift_check(topic: str) -> Any:
    return harness.LocalFunction("drift_check", environment={"ARTIFACTS_BUCKET": BUCKET, "DRIFT_TOPIC_ARN": topic,
                                                             "MODEL_NAME": "iris", "DRIFT_THRESHOLD": "0.5"})


def test_a_batch_like_the_training_data_does_not_drift(kit: Any, champion: dict) -> None:
    topic, url = _topic()
    _batch(kit, "incoming/same.csv")
    result = _drift_check(topic)({})
    assert (result["batch_key"], result["model_version"], result["rows"]) == ("incoming/same.csv", 1, 60)
    assert result["drift"] < 0.5 and result["drifted"] is False and result["published"] is None
    assert boto3.client("sqs", region_name="us-east-1").receive_message(QueueUrl=url).get("Messages") is None


def test_a_shifted_batch_drifts_and_is_published(kit: Any, champion: dict) -> None:
    topic, url = _topic()
    _batch(kit, "incoming/shifted.csv", scale=3.0)
    event = {"Records": [{"s3": {"bucket": {"name": BUCKET}, "object": {"key": "incoming/shifted.csv"}}}]}
    result = _drift_check(topic)(event)
    assert result["drifted"] is True and result["drift"] > 0.5
    assert result["worst_feature"]["name"] == kit.json(champion["pre"]["manifest_key"])["feature_columns"][0]
    [message] = boto3.client("sqs", region_name="us-east-1").receive_message(QueueUrl=url)["Messages"]
    assert json.loads(message["Body"]) == result | {"published": None}
    assert result["published"]


def test_no_champion_is_a_skip(kit: Any) -> None:
    topic, _ = _topic()
    _batch(kit, "incoming/early.csv")
    assert "skipped" in _drift_check(topic)({})


def test_retrain_on_drift_starts_training_once_per_message() -> None:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    machine = sfn.create_state_machine(name="training", roleArn="arn:aws:iam::123456789012:role/r",
                                       definition=definition)["stateMachineArn"]
    retrain = harness.LocalFunction("retrain_on_drift", environment={"TRAINING_STATE_MACHINE_ARN": machine})
    event = {"Records": [{"EventSource": "aws:sns", "Sns": {"MessageId": "m-1", "Message": json.dumps(
        {"drift": 0.9, "retrain_dataset_key": "datasets/latest.csv"})}}]}
    first = retrain(event)
    assert len(first["started"]) == 1 and first["already_started"] == []
    again = retrain(event)  # SNS delivered it twice: StartExecution with the same name and input
    assert again["started"] == first["started"] or again["already_started"] == ["m-1"]
    [execution] = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"]) == {
        "dataset_key": "datasets/latest.csv"}
