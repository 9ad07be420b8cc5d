"""A function's ``stream`` trigger deployed by ``stepkit deploy`` to a real local endpoint: the
table's DynamoDB stream is mapped to the function with the declared settings, the function
receives the table's changes that pass the filter, a batch it keeps failing goes to the
on-failure queue; a second deploy changes nothing, ``stepkit destroy`` removes the mapping;
``stepkit package`` exports it with the stream's ARN read from the table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from local_project import eventually, local_project

from stepkit.cli import main
from stepkit.endpoint import LocalEndpoint

STACK = """name: streams
tables:
  predictions:
    partition_key: {name: id, type: S}
    stream: new_image
queues:
  failed: {}
functions:
  watch:
    runtime: python3.12
    timeout: 10
    triggers:
      - stream:
          table: predictions
          starting_position: trim_horizon
          batch_size: 5
          retries: 1
          on_failure: {queue: failed}
          filters: [{eventName: [INSERT]}]
"""
WATCH = """
import json
def handler(event, context):
    ids = [r['dynamodb']['NewImage']['id']['S'] for r in event['Records']]
    if any(i.startswith('bad') for i in ids):
        raise ValueError('bad record')
    print('EVENT', json.dumps(ids))
"""


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalEndpoint]:
    with local_project(tmp_path, monkeypatch, "streams", {"infra/stack.yaml": STACK,
                                                          "functions/watch/app.py": WATCH}) as ep:
        yield ep


def test_deployed_stream_trigger_delivers_changes_and_dead_letters(endpoint: LocalEndpoint) -> None:
    result = CliRunner().invoke(main, ["deploy"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    lam, dynamodb, sqs, logs = (endpoint.client(s) for s in ("lambda", "dynamodb", "sqs", "logs"))
    [mapping] = lam.list_event_source_mappings(FunctionName="streams-dev-watch")["EventSourceMappings"]
    assert mapping["EventSourceArn"] == dynamodb.describe_table(TableName="streams-dev-predictions")["Table"][
        "LatestStreamArn"]
    assert (mapping["BatchSize"], mapping["MaximumRetryAttempts"], mapping["StartingPosition"]) == (
        5, 1, "TRIM_HORIZON")
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"].endswith(":streams-dev-failed")
    dynamodb.put_item(TableName="streams-dev-predictions", Item={"id": {"S": "p1"}})
    dynamodb.put_item(TableName="streams-dev-predictions", Item={"id": {"S": "p1"}, "v": {"N": "2"}})  # MODIFY

    def seen() -> list[str]:
        try:
            events = logs.filter_log_events(logGroupName="/aws/lambda/streams-dev-watch")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [i for e in events if "EVENT" in e["message"] for i in json.loads(e["message"].split("EVENT", 1)[1])]

    assert eventually(lambda: seen() == ["p1"])  # the MODIFY is filtered out
    dynamodb.put_item(TableName="streams-dev-predictions", Item={"id": {"S": "bad1"}})
    url = sqs.get_queue_url(QueueName="streams-dev-failed")["QueueUrl"]
    messages = eventually(lambda: sqs.receive_message(QueueUrl=url).get("Messages"))
    assert json.loads(messages[0]["Body"])["DDBStreamBatchInfo"]["batchSize"] == 1

    again = CliRunner().invoke(main, ["deploy", "--json"])
    assert again.exit_code == 0, again.output
    assert len(lam.list_event_source_mappings(FunctionName="streams-dev-watch")["EventSourceMappings"]) == 1

    destroyed = CliRunner().invoke(main, ["destroy", "--yes", "--delete-data"])
    assert destroyed.exit_code == 0, destroyed.output
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []


def test_package_exports_the_stream_mapping(endpoint: LocalEndpoint, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["package", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output + repr(result.exception)
    template = json.loads((tmp_path / "out" / "template.json").read_text())
    [mapping] = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    properties = mapping["Properties"]
    table = next(k for k, r in template["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table")
    assert properties["EventSourceArn"] == {"Fn::GetAtt": [table, "StreamArn"]}
    assert properties["StartingPosition"] == "TRIM_HORIZON" and properties["MaximumRetryAttempts"] == 1
    assert properties["FilterCriteria"] == {"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]})}]}
    assert "Fn::GetAtt" in properties["DestinationConfig"]["OnFailure"]["Destination"]
    role = next(r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Role"
                and "watch" in json.dumps(r))
    statements = json.dumps(role["Properties"])
    assert "dynamodb:GetRecords" in statements and "sqs:SendMessage" in statements


KINESIS_STACK = """name: clicks
streams:
  clicks: {shards: 2, retention_hours: 48}
functions:
  count:
    runtime: python3.12
    environment:
      STREAM: ${ClicksStreamName}
    triggers:
      - stream: {kinesis: clicks, starting_position: trim_horizon, batch_size: 10, parallelization: 2}
"""
COUNT = """
import base64, json, os
def handler(event, context):
    print('EVENT', json.dumps([os.environ['STREAM']] + [base64.b64decode(r['kinesis']['data']).decode()
                                                         for r in event['Records']]))
"""


@pytest.fixture
def kinesis_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalEndpoint]:
    with local_project(tmp_path, monkeypatch, "clicks", {"infra/stack.yaml": KINESIS_STACK,
                                                         "functions/count/app.py": COUNT}) as ep:
        yield ep


def test_deployed_kinesis_stream_and_its_trigger(kinesis_project: LocalEndpoint, tmp_path: Path) -> None:
    endpoint = kinesis_project
    result = CliRunner().invoke(main, ["deploy"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    kinesis, lam, logs = (endpoint.client(s) for s in ("kinesis", "lambda", "logs"))
    summary = kinesis.describe_stream_summary(StreamName="clicks-dev-clicks")["StreamDescriptionSummary"]
    assert (summary["OpenShardCount"], summary["RetentionPeriodHours"]) == (2, 48)
    [mapping] = lam.list_event_source_mappings(FunctionName="clicks-dev-count")["EventSourceMappings"]
    assert (mapping["EventSourceArn"], mapping["ParallelizationFactor"]) == (summary["StreamARN"], 2)
    kinesis.put_record(StreamName="clicks-dev-clicks", Data=b"click-1", PartitionKey="u1")

    def seen() -> list[list[str]]:
        try:
            events = logs.filter_log_events(logGroupName="/aws/lambda/clicks-dev-count")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [json.loads(e["message"].split("EVENT", 1)[1]) for e in events if "EVENT" in e["message"]]

    assert eventually(lambda: seen() == [["clicks-dev-clicks", "click-1"]])

    packaged = CliRunner().invoke(main, ["package", "--out", str(tmp_path / "out")])
    assert packaged.exit_code == 0, packaged.output
    template = json.loads((tmp_path / "out" / "template.json").read_text())["Resources"]
    [stream_id] = [k for k, r in template.items() if r["Type"] == "AWS::Kinesis::Stream"]
    assert template[stream_id]["Properties"] == {"Name": "clicks-dev-clicks", "ShardCount": 2,
                                                 "RetentionPeriodHours": 48}
    [exported] = [r["Properties"] for r in template.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert exported["EventSourceArn"] == {"Fn::GetAtt": [stream_id, "Arn"]}
    role = json.dumps([r for r in template.values() if r["Type"] == "AWS::IAM::Role"])
    assert "kinesis:GetRecords" in role and "dynamodb:" not in role

    destroyed = CliRunner().invoke(main, ["destroy", "--yes"])
    assert destroyed.exit_code == 0, destroyed.output
    assert "clicks-dev-clicks" not in kinesis.list_streams()["StreamNames"]
