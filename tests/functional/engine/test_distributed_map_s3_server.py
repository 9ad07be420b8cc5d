"""Distributed Map against a real S3 endpoint on loopback (moto's threaded server): the
reader and writer reach it through boto3's own configuration (AWS_ENDPOINT_URL) or the
registry's client factory, as the local endpoint and a deployed stack do."""

import contextlib
import io
import json

import boto3
import pytest
from moto.server import ThreadedMotoServer

from stepkit import StateMachine
from stepkit.endpoint.map_runs import describe_map_run
from stepkit.integrations.registry import IntegrationRegistry

BUCKET = "sweep-data"


@pytest.fixture(scope="module")
def endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint)
    for bucket in (BUCKET, "sweep-results"):
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=bucket)
    return client


def definition(reader: dict, **fields) -> dict:
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemReader": reader,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "Score",
                    "States": {"Score": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                         "Parameters": {"FunctionName": "score", "Payload.$": "$"},
                                         "OutputPath": "$.Payload", "End": True}},
                },
                "End": True,
                **fields,
            }
        },
    }


def score(event):
    return {"n": len(event["Items"]), "total": sum(int(row["x"]) for row in event["Items"])}


def test_batched_csv_with_result_writer_through_aws_endpoint_url(s3):
    rows = 5_000
    body = "x,y\n" + "".join(f"{i},{i % 7}\n" for i in range(rows))
    s3.put_object(Bucket=BUCKET, Key="rows.csv", Body=body.encode())
    spec = definition(
        {"Resource": "arn:aws:states:::s3:getObject",
         "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
         "Parameters": {"Bucket": BUCKET, "Key": "rows.csv"}},
        ItemBatcher={"MaxItemsPerBatch": 250},
        MaxConcurrency=8,
        ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                      "Parameters": {"Bucket": "sweep-results", "Prefix": "inference"},
                      "WriterConfig": {"Transformation": "COMPACT", "OutputType": "JSONL"}},
        Label="Inference",
    )
    machine = StateMachine(spec, functions={"score": score}, name="Pipeline")
    execution_run = machine.prepare({})
    ex = execution_run.start()
    assert ex.status == "SUCCEEDED", ex.cause
    details = ex.output["ResultWriterDetails"]
    manifest = json.loads(s3.get_object(Bucket=details["Bucket"], Key=details["Key"])["Body"].read())
    lines = []
    for f in manifest["ResultFiles"]["SUCCEEDED"]:
        lines += s3.get_object(Bucket="sweep-results", Key=f["Key"])["Body"].read().decode().splitlines()
    results = [json.loads(line) for line in lines]
    assert len(results) == rows // 250
    assert sum(r["n"] for r in results) == rows and sum(r["total"] for r in results) == sum(range(rows))
    (map_run,) = execution_run.map_runs.values()
    counts = describe_map_run(map_run)
    assert counts["itemCounts"]["succeeded"] == rows and counts["executionCounts"]["succeeded"] == rows // 250
    assert all(":express:Pipeline/Inference:" in c.arn for c in map_run.executions())


def test_parquet_and_listing_through_a_client_factory(endpoint, s3):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([{"x": i} for i in range(100)]), buffer, row_group_size=30)
    s3.put_object(Bucket=BUCKET, Key="parquet/part-0.parquet", Body=buffer.getvalue())
    registry = IntegrationRegistry()
    made = []

    def factory(service, region_name=None):
        made.append(service)
        return boto3.client(service, region_name=region_name, endpoint_url=endpoint)

    registry.set_client_factory(factory)
    registry.register_function("score", score)
    spec = definition({"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "PARQUET"},
                       "Parameters": {"Bucket": BUCKET, "Key": "parquet/part-0.parquet"}},
                      ItemBatcher={"MaxItemsPerBatch": 40})
    ex = StateMachine(spec, registry=registry).run({})
    assert ex.status == "SUCCEEDED", ex.cause
    assert [r["n"] for r in ex.output] == [40, 40, 20] and sum(r["total"] for r in ex.output) == sum(range(100))
    listing = definition({"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": BUCKET,
                                                                                            "Prefix": "parquet/"}})
    listing["States"]["M"]["ItemProcessor"]["States"] = {"Score": {"Type": "Pass", "End": True}}
    out = StateMachine(listing, registry=registry).run({})
    assert [o["Key"] for o in out.output] == ["parquet/part-0.parquet"]
    assert made == ["s3"]
