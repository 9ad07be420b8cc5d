"""Bugs of the local endpoint found by the pipeline's end-to-end test, each reduced to itself;
both fixed in the endpoint since (05389f1, 31440f1): these stay as their regression tests.

1. ``LocalEndpoint`` serves S3 itself (moto), but a Distributed Map's ``ItemReader`` and
   ``ResultWriter`` get their S3 client from the execution's integration registry
   (``IntegrationRegistry.client("s3")``, via ``stepkit.engine.map_state._s3``), and
   ``LocalEndpoint._registry()`` (sdk/stepkit/endpoint/server.py) never sets that registry's
   client factory: the client is ``boto3.client("s3", region_name=...)``, which goes to real
   AWS (``https://<bucket>.s3.amazonaws.com``) unless ``AWS_ENDPOINT_URL`` happens to be set
   in the endpoint's own process. So an S3-reading Distributed Map (``batch_inference.asl.json``)
   fails on the endpoint with ``States.ItemReaderFailed: ... EndpointConnectionError: Could not
   connect to the endpoint URL: "https://<bucket>.s3.amazonaws.com/<key>"`` (offline; with a
   network, AWS refuses the test credentials), and a ResultWriter would write to AWS.

   The fix: ``registry.clients.set_factory(lambda service, region_name=None:
   self.client(service, region_name))`` in ``_registry()``.

2. ``GetBucketNotificationConfiguration`` on the endpoint leaves out
   ``EventBridgeConfiguration`` after ``PutBucketNotificationConfiguration`` set it (moto's
   ``S3Response.get_bucket_notification`` serialises topics, queues and Lambda functions
   only, though moto keeps the setting and the endpoint does deliver the events). AWS
   answers ``<EventBridgeConfiguration/>``. So the deployer cannot see that a bucket sends
   its events to EventBridge, plans the bucket's notifications as "recorded, but missing on
   the target", and a second ``stepkit deploy`` of a stack whose state machines are started
   by uploads never says "nothing changed". The endpoint now answers as AWS does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stepkit.endpoint import LocalEndpoint

DEADLINE_S = 120.0
ROLE = "arn:aws:iam::123456789012:role/stepkit-test"


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalEndpoint]:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)  # as in a shell that never pointed boto3 anywhere
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # fail fast when the client goes to AWS
    local = LocalEndpoint(port=0, state_dir=tmp_path / "endpoint").start()
    try:
        yield local
    finally:
        local.stop()


def test_a_distributed_map_reads_and_writes_the_endpoints_own_s3(endpoint: LocalEndpoint) -> None:
    s3, sfn = endpoint.client("s3"), endpoint.client("stepfunctions")
    s3.create_bucket(Bucket="dmap-bug")
    s3.put_object(Bucket="dmap-bug", Key="in/rows.csv", Body=b"a,b\n1,2\n3,4\n5,6\n")
    definition = {"StartAt": "Rows", "States": {"Rows": {
        "Type": "Map", "End": True,
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                       "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
                       "Parameters": {"Bucket": "dmap-bug", "Key": "in/rows.csv"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                          "StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                         "Parameters": {"Bucket": "dmap-bug", "Prefix": "out"}}}}}
    machine = sfn.create_state_machine(name="dmap-bug", definition=json.dumps(definition),
                                       roleArn=ROLE)["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    deadline = time.monotonic() + DEADLINE_S
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(0.1)
    assert described["status"] == "SUCCEEDED", f"{described.get('error')}: {described.get('cause')}"
    written = s3.list_objects_v2(Bucket="dmap-bug", Prefix="out/")
    assert any(o["Key"].endswith("manifest.json") for o in written.get("Contents", []))


def test_a_buckets_eventbridge_setting_is_read_back(endpoint: LocalEndpoint) -> None:
    s3 = endpoint.client("s3")
    s3.create_bucket(Bucket="eventbridge-bug")
    s3.put_bucket_notification_configuration(Bucket="eventbridge-bug",
                                             NotificationConfiguration={"EventBridgeConfiguration": {}})
    config = s3.get_bucket_notification_configuration(Bucket="eventbridge-bug")
    assert config.get("EventBridgeConfiguration") == {}
