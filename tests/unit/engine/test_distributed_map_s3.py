"""Distributed Map with S3: every ItemReader format, the ResultWriter layout and the failures
(States.ItemReaderFailed, States.ResultWriterFailed), against moto's S3 (``mock_aws``)."""

import gzip
import io
import json

import boto3
import pytest
from moto import mock_aws

from stepkit import StateMachine
from stepkit.asl.errors import StatesError
from stepkit.endpoint.map_runs import describe_map_run
from stepkit.engine.item_reader import ReaderSettings, S3ItemSource
from stepkit.integrations.registry import IntegrationRegistry

BUCKET = "stepkit-data"
OUT = "stepkit-results"
PASS = {"P": {"Type": "Pass", "End": True}}


@pytest.fixture
def s3(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.create_bucket(Bucket=OUT)
        yield client


def put(s3, key, body):
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode() if isinstance(body, str) else body)


def reader_map(config: dict | None, key: str = "data", *, resource="getObject", params=None, states=None, **fields):
    reader = {"Resource": f"arn:aws:states:::s3:{resource}", "Parameters": params or {"Bucket": BUCKET, "Key": key}}
    if config is not None:
        reader["ReaderConfig"] = config
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemReader": reader,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": next(iter(states or PASS)),
                    "States": states or PASS,
                },
                "End": True,
                **fields,
            }
        },
    }


def execute(definition, input=None, *, validate=True, registry=None):
    machine = StateMachine(definition, validate=validate, registry=registry, name="Batch")
    execution_run = machine.prepare({} if input is None else input, skip_waits=True)
    return execution_run, execution_run.start()


def output_of(definition, input=None, **kw):
    _, ex = execute(definition, input, **kw)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    return ex.output


# -- CSV ----------------------------------------------------------------------------------
def test_csv_first_row(s3):
    put(s3, "data", "Col1,Col2,Col3\nValue1,Value2,Value3\n,,,\n\"a,b\",\"line\nbreak\",\n   \n")
    assert output_of(reader_map({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"})) == [
        {"Col1": "Value1", "Col2": "Value2", "Col3": "Value3"},
        {"Col1": "", "Col2": "", "Col3": ""},  # the fourth field has no header: dropped
        {"Col1": "a,b", "Col2": "line\nbreak", "Col3": ""},
        {"Col1": "   ", "Col2": "", "Col3": ""},  # missing fields are empty strings
    ]


def test_csv_given_headers_and_the_default_header_location(s3):
    put(s3, "data", "1,2\n3,4\n")
    config = {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["a", "b"]}
    assert output_of(reader_map(config)) == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]
    assert output_of(reader_map({"InputType": "CSV"})) == [{"1": "3", "2": "4"}]


@pytest.mark.parametrize(("name", "char"), [("PIPE", "|"), ("SEMICOLON", ";"), ("SPACE", " "), ("TAB", "\t"),
                                            ("COMMA", ",")])
def test_csv_delimiters(s3, name, char):
    put(s3, "data", f"x{char}y\n1{char}2\n")
    config = {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "CSVDelimiter": name}
    assert output_of(reader_map(config)) == [{"x": "1", "y": "2"}]


def test_csv_bom_and_crlf(s3):
    put(s3, "data", "\ufeffa,b\r\n1,2\r\n".encode())
    assert output_of(reader_map({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"})) == [{"a": "1", "b": "2"}]


def test_max_items_and_max_items_path(s3):
    put(s3, "data", "a\n" + "".join(f"{i}\n" for i in range(10)))
    config = {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "MaxItems": 3}
    assert output_of(reader_map(config)) == [{"a": "0"}, {"a": "1"}, {"a": "2"}]
    config = {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "MaxItemsPath": "$.n"}
    assert len(output_of(reader_map(config), {"n": 2})) == 2
    assert len(output_of(reader_map({"InputType": "CSV", "MaxItems": 0}))) == 10  # 0: no limit


def test_csv_is_streamed_not_read_whole(s3):
    """MaxItems 2 of a 5 MB CSV reads a small prefix of the object."""
    put(s3, "data", "a,b\n" + "x,y\n" * 1_300_000)
    read = []

    class Counting:
        def __init__(self, body):
            self.body = body

        def read(self, n=-1):
            chunk = self.body.read(n)
            read.append(len(chunk))
            return chunk

        def close(self):
            self.body.close()

    class Client:
        def get_object(self, **params):
            response = s3.get_object(**params)
            response["Body"] = Counting(response["Body"])
            return response

    source = S3ItemSource(Client(), "getObject", {"Bucket": BUCKET, "Key": "data"},
                          ReaderSettings({"InputType": "CSV"}))
    items = source.items()
    assert [next(items), next(items)] == [{"a": "x", "b": "y"}] * 2
    assert sum(read) <= 256 * 1024


# -- JSON, JSONL, Parquet -------------------------------------------------------------------
def test_json_array(s3):
    put(s3, "data", json.dumps([{"verdict": "true"}, {"verdict": "false"}, 3]))
    assert output_of(reader_map({"InputType": "JSON"})) == [{"verdict": "true"}, {"verdict": "false"}, 3]
    assert output_of(reader_map(None)) == [{"verdict": "true"}, {"verdict": "false"}, 3]  # JSON by default


def test_json_items_pointer(s3):
    put(s3, "data", json.dumps({"data": {"rows": [{"a": 1}, {"a": 2}]}, "other": 1}))
    definition = reader_map({"InputType": "JSON", "ItemsPointer": "/data/rows"})
    assert output_of(definition) == [{"a": 1}, {"a": 2}]


def test_jsonl(s3):
    put(s3, "data", '{"a": 1}\n\n[1, 2]\n"s"\n')
    assert output_of(reader_map({"InputType": "JSONL"})) == [{"a": 1}, [1, 2], "s"]


def _parquet_bytes(rows):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer, row_group_size=2)
    return buffer.getvalue()


def test_parquet(s3):
    rows = [{"id": i, "name": f"n{i}", "score": i / 2, "ok": i % 2 == 0} for i in range(5)]
    put(s3, "data", _parquet_bytes(rows))
    assert output_of(reader_map({"InputType": "PARQUET"})) == rows


# -- S3 inventory, Athena manifests, listObjectsV2 --------------------------------------------
def test_s3_inventory_manifest(s3):
    rows = (
        '"src-bucket","a.csv","10","2024-01-01T00:00:00.000Z"\n'
        '"src-bucket","b.csv","20","2024-01-02T00:00:00.000Z"\n'
    )
    put(s3, "inventory/data/one.csv.gz", gzip.compress(rows.encode()))
    put(s3, "inventory/data/two.csv.gz", gzip.compress(b'"src-bucket","c.csv","30","2024-01-03T00:00:00.000Z"\n'))
    manifest = {
        "sourceBucket": "src-bucket",
        "destinationBucket": f"arn:aws:s3:::{BUCKET}",
        "version": "2016-11-30",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size, LastModifiedDate",
        "files": [{"key": "inventory/data/one.csv.gz", "size": 1, "MD5checksum": "x"},
                  {"key": "inventory/data/two.csv.gz", "size": 1, "MD5checksum": "y"}],
    }
    put(s3, "inventory/manifest.json", json.dumps(manifest))
    out = output_of(reader_map({"InputType": "MANIFEST"}, "inventory/manifest.json"))
    assert out == [
        {"Bucket": "src-bucket", "Key": "a.csv", "Size": "10", "LastModifiedDate": "2024-01-01T00:00:00.000Z"},
        {"Bucket": "src-bucket", "Key": "b.csv", "Size": "20", "LastModifiedDate": "2024-01-02T00:00:00.000Z"},
        {"Bucket": "src-bucket", "Key": "c.csv", "Size": "30", "LastModifiedDate": "2024-01-03T00:00:00.000Z"},
    ]


@pytest.mark.parametrize("input_type", ["CSV", "JSONL", "PARQUET"])
def test_athena_data_manifest(s3, input_type):
    parts = [[{"id": "1", "v": "a"}], [{"id": "2", "v": "b"}, {"id": "3", "v": "c"}]]
    keys = []
    for i, rows in enumerate(parts):
        key = f"athena/unload/part-{i}"
        if input_type == "CSV":
            body = "".join(f"{r['id']},{r['v']}\n" for r in rows)
        elif input_type == "JSONL":
            body = "".join(json.dumps(r) + "\n" for r in rows)
        else:
            body = _parquet_bytes(rows)
        put(s3, key, body)
        keys.append(f"s3://{BUCKET}/{key}")
    put(s3, "athena/unload-manifest.csv", "\n".join(keys) + "\n")
    config = {"InputType": input_type, "ManifestType": "ATHENA_DATA"}
    if input_type == "CSV":
        config.update(CSVHeaderLocation="GIVEN", CSVHeaders=["id", "v"])
    assert output_of(reader_map(config, "athena/unload-manifest.csv")) == [r for rows in parts for r in rows]


def test_list_objects_v2_with_prefix(s3):
    for i in range(3):
        put(s3, f"images/file_{i}.txt", f"{i}HelloWorld!")
    put(s3, "other/x.txt", "no")
    out = output_of(reader_map(None, resource="listObjectsV2", params={"Bucket": BUCKET, "Prefix": "images/"}))
    assert [o["Key"] for o in out] == [f"images/file_{i}.txt" for i in range(3)]
    first = out[0]
    assert list(first) == ["Etag", "Key", "LastModified", "Size", "StorageClass"]
    assert first["Etag"].startswith('"') and first["Size"] == 12 and first["StorageClass"] == "STANDARD"
    assert isinstance(first["LastModified"], int)


def test_list_objects_v2_pages_and_max_items(s3):
    for i in range(25):
        put(s3, f"many/{i:03}", "x")
    params = {"Bucket": BUCKET, "Prefix": "many/", "MaxKeys": 10}
    out = output_of(reader_map({"MaxItems": 22}, resource="listObjectsV2", params=params))
    assert [o["Key"] for o in out] == [f"many/{i:03}" for i in range(22)]


def test_list_objects_v2_load_and_flatten(s3):
    put(s3, "parts/a.jsonl", '{"x": 1}\n{"x": 2}\n')
    put(s3, "parts/b.jsonl", '{"x": 3}\n')
    definition = reader_map({"InputType": "JSONL", "Transformation": "LOAD_AND_FLATTEN"}, resource="listObjectsV2",
                            params={"Bucket": BUCKET, "Prefix": "parts/"})
    assert output_of(definition) == [{"x": 1}, {"x": 2}, {"x": 3}]


# -- JSONata ---------------------------------------------------------------------------------
def test_jsonata_arguments_for_reader_and_writer(s3):
    put(s3, "data", "k\n1\n2\n")
    definition = reader_map({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"})
    definition["QueryLanguage"] = "JSONata"
    state = definition["States"]["M"]
    state["ItemReader"].pop("Parameters")
    state["ItemReader"]["Arguments"] = {"Bucket": "{% $states.input.bucket %}", "Key": "{% $states.input.key %}"}
    state["ItemSelector"] = {"k": "{% $number($states.context.Map.Item.Value.k) %}"}
    state["ResultWriter"] = {"Resource": "arn:aws:states:::s3:putObject",
                             "Arguments": {"Bucket": OUT, "Prefix": "{% $states.input.prefix %}"}}
    out = output_of(definition, {"bucket": BUCKET, "key": "data", "prefix": "jsonata"})
    assert out["ResultWriterDetails"]["Key"].startswith("jsonata/")
    manifest = json.loads(s3.get_object(Bucket=OUT, Key=out["ResultWriterDetails"]["Key"])["Body"].read())
    records = json.loads(s3.get_object(Bucket=OUT, Key=manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])["Body"].read())
    assert [json.loads(r["Output"]) for r in records] == [{"k": 1}, {"k": 2}]


# -- ResultWriter ------------------------------------------------------------------------------
FAIL_ON_BAD = {
    "C": {"Type": "Choice", "Choices": [{"Variable": "$.v", "StringEquals": "bad", "Next": "Boom"}], "Default": "Ok"},
    "Boom": {"Type": "Fail", "Error": "BadRow", "Cause": "a bad row"},
    "Ok": {"Type": "Pass", "Parameters": {"done.$": "$.v"}, "End": True},
}


def writer(**config):
    out = {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": OUT, "Prefix": "results/run"}}
    if config:
        out["WriterConfig"] = config
    return out


def read_json(s3, key):
    return json.loads(s3.get_object(Bucket=OUT, Key=key)["Body"].read())


def test_result_writer_layout_and_records(s3):
    put(s3, "data", "v\nok1\nbad\nok2\n")
    definition = reader_map({"InputType": "CSV"}, states=FAIL_ON_BAD, ResultWriter=writer(), ToleratedFailureCount=1,
                            Label="Rows")
    execution_run, ex = execute(definition)
    assert ex.status == "SUCCEEDED"
    map_run = next(iter(execution_run.map_runs.values()))
    run_id = map_run.arn.rsplit(":", 1)[1]
    assert ex.output == {
        "MapRunArn": map_run.arn,
        "ResultWriterDetails": {"Bucket": OUT, "Key": f"results/run/{run_id}/manifest.json"},
    }
    manifest = read_json(s3, f"results/run/{run_id}/manifest.json")
    assert list(manifest) == ["DestinationBucket", "MapRunArn", "ResultFiles"]
    assert manifest["DestinationBucket"] == OUT and manifest["MapRunArn"] == map_run.arn
    files = manifest["ResultFiles"]
    assert list(files) == ["FAILED", "PENDING", "SUCCEEDED"] and files["PENDING"] == []
    assert [f["Key"] for f in files["SUCCEEDED"]] == [f"results/run/{run_id}/SUCCEEDED_0.json"]
    assert [f["Key"] for f in files["FAILED"]] == [f"results/run/{run_id}/FAILED_0.json"]
    for f in files["SUCCEEDED"] + files["FAILED"]:
        assert f["Size"] == s3.head_object(Bucket=OUT, Key=f["Key"])["ContentLength"]
    succeeded = read_json(s3, files["SUCCEEDED"][0]["Key"])
    assert [json.loads(r["Output"]) for r in succeeded] == [{"done": "ok1"}, {"done": "ok2"}]
    record = succeeded[0]
    assert list(record) == [
        "ExecutionArn", "Input", "InputDetails", "Name", "Output", "OutputDetails", "RedriveCount", "RedriveStatus",
        "RedriveStatusReason", "StartDate", "StateMachineArn", "Status", "StopDate",
    ]
    assert record["ExecutionArn"].startswith("arn:aws:states:us-east-1:123456789012:execution:Batch/Rows:")
    assert record["ExecutionArn"].endswith(":" + record["Name"])
    assert record["Input"] == '{"v":"ok1"}' and record["InputDetails"] == {"Included": True}
    assert record["StateMachineArn"] == "arn:aws:states:us-east-1:123456789012:stateMachine:Batch/Rows"
    assert record["Status"] == "SUCCEEDED" and record["RedriveStatus"] == "NOT_REDRIVABLE"
    assert record["StartDate"].endswith("Z") and len(record["StartDate"]) == 24
    (failed,) = read_json(s3, files["FAILED"][0]["Key"])
    assert failed["Status"] == "FAILED" and failed["Error"] == "BadRow" and failed["Cause"] == "a bad row"
    assert "Output" not in failed
    assert describe_map_run(map_run)["itemCounts"]["resultsWritten"] == 3


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"Transformation": "COMPACT", "OutputType": "JSON"}, [[1, 2], [3]]),
        ({"Transformation": "FLATTEN", "OutputType": "JSON"}, [1, 2, 3]),
        ({"Transformation": "FLATTEN", "OutputType": "JSONL"}, [1, 2, 3]),
    ],
)
def test_writer_config_transformations(s3, config, expected):
    put(s3, "data", json.dumps([1, 2, 3]))
    states = {"P": {"Type": "Pass", "InputPath": "$.Items", "End": True}}
    definition = reader_map({"InputType": "JSON"}, states=states, ItemBatcher={"MaxItemsPerBatch": 2},
                            ResultWriter=writer(**config))
    out = output_of(definition)
    manifest = read_json(s3, out["ResultWriterDetails"]["Key"])
    body = s3.get_object(Bucket=OUT, Key=manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])["Body"].read().decode()
    if config["OutputType"] == "JSONL":
        assert body.endswith("\n") and [json.loads(line) for line in body.splitlines()] == expected
    else:
        assert json.loads(body) == expected


def test_writer_config_alone_formats_the_state_output(s3):
    put(s3, "data", json.dumps([1, 2, 3]))
    states = {"P": {"Type": "Pass", "InputPath": "$.Items", "End": True}}
    definition = reader_map({"InputType": "JSON"}, states=states, ItemBatcher={"MaxItemsPerBatch": 2},
                            ResultWriter={"WriterConfig": {"Transformation": "FLATTEN", "OutputType": "JSON"}})
    assert output_of(definition) == [1, 2, 3]
    definition["States"]["M"]["ResultWriter"]["WriterConfig"]["Transformation"] = "NONE"
    records = output_of(definition)
    assert [json.loads(r["Output"]) for r in records] == [[1, 2], [3]]


def test_pending_results_when_the_map_run_fails(s3):
    put(s3, "data", "v\nbad\nok\nok\n")
    definition = reader_map({"InputType": "CSV"}, states=FAIL_ON_BAD, ResultWriter=writer(), MaxConcurrency=1)
    execution_run, ex = execute(definition)
    assert (ex.status, ex.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    map_run = next(iter(execution_run.map_runs.values()))
    run_id = map_run.arn.rsplit(":", 1)[1]
    files = read_json(s3, f"results/run/{run_id}/manifest.json")["ResultFiles"]
    assert files["SUCCEEDED"] == []
    assert len(read_json(s3, files["FAILED"][0]["Key"])) == 1
    pending = read_json(s3, files["PENDING"][0]["Key"])
    assert [json.loads(p["Input"]) for p in pending] == [{"v": "ok"}, {"v": "ok"}]


# -- failures ----------------------------------------------------------------------------------
def failure(definition, input=None, **kw):
    execution_run, ex = execute(definition, input, **kw)
    assert ex.status == "FAILED"
    return execution_run, ex


def test_missing_object(s3):
    _, ex = failure(reader_map({"InputType": "CSV"}, "nope.csv"))
    assert ex.error == "States.ItemReaderFailed"
    assert f"s3://{BUCKET}/nope.csv" in ex.cause and "NoSuchKey" in ex.cause
    assert ex.event_types[-4:] == ["MapRunStarted", "MapRunFailed", "MapStateFailed", "ExecutionFailed"]
    details = ex.events()[-3]["mapRunFailedEventDetails"]
    assert details["error"] == "States.ItemReaderFailed" and "nope.csv" in details["cause"]


def test_malformed_csv_row_names_the_object_and_line_and_keeps_what_ran(s3):
    rows = "".join(f"r{i}\n" for i in range(40)) + 'a,"b"c\n' + "after\n"
    put(s3, "data", "v\n" + rows)
    definition = reader_map({"InputType": "CSV"}, ResultWriter=writer(), MaxConcurrency=1)
    execution_run, ex = failure(definition)
    assert ex.error == "States.ItemReaderFailed"
    assert f"s3://{BUCKET}/data" in ex.cause and "line 42" in ex.cause
    map_run = next(iter(execution_run.map_runs.values()))
    assert len(map_run.executions("SUCCEEDED")) == 40
    run_id = map_run.arn.rsplit(":", 1)[1]
    files = read_json(s3, f"results/run/{run_id}/manifest.json")["ResultFiles"]
    assert len(read_json(s3, files["SUCCEEDED"][0]["Key"])) == 40


def test_not_parquet(s3):
    put(s3, "data", "this is not parquet")
    _, ex = failure(reader_map({"InputType": "PARQUET"}))
    assert ex.error == "States.ItemReaderFailed" and "not a valid Parquet file" in ex.cause
    assert f"s3://{BUCKET}/data" in ex.cause


def test_malformed_jsonl_and_json(s3):
    put(s3, "data", '{"a": 1}\n{"a": \n')
    _, ex = failure(reader_map({"InputType": "JSONL"}))
    assert ex.error == "States.ItemReaderFailed" and "line 2" in ex.cause
    put(s3, "data", json.dumps("Hello"))  # a JSON object is read as key-value pairs (test_map_object.py)
    _, ex = failure(reader_map({"InputType": "JSON"}))
    assert ex.error == "States.ItemReaderFailed" and "neither an array nor an object" in ex.cause


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"InputType": "JSON", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["a"]}, "only to InputType CSV"),
        ({"InputType": "CSV", "CSVHeaderLocation": "GIVEN"}, "CSVHeaders must be given"),
        ({"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["a", "a"]}, "duplicates"),
        ({"InputType": "JSON", "ManifestType": "ATHENA_DATA"}, "ATHENA_DATA needs InputType"),
        ({"InputType": "JSONL", "ItemsPointer": "/a"}, "ItemsPointer applies only"),
    ],
)
def test_reader_config_that_does_not_fit_the_format(s3, config, words):
    put(s3, "data", "a\n1\n")
    _, ex = failure(reader_map(config))
    assert ex.error == "States.ItemReaderFailed" and words in ex.cause


def test_duplicate_headers_in_the_first_row(s3):
    put(s3, "data", "a,a\n1,2\n")
    _, ex = failure(reader_map({"InputType": "CSV"}))
    assert ex.error == "States.ItemReaderFailed" and "duplicates" in ex.cause


def test_result_writer_failed(s3):
    put(s3, "data", json.dumps([1]))
    definition = reader_map({"InputType": "JSON"}, ResultWriter=writer())
    definition["States"]["M"]["ResultWriter"]["Parameters"]["Bucket"] = "no-such-bucket-here"
    execution_run, ex = failure(definition)
    assert ex.error == "States.ResultWriterFailed" and "s3://no-such-bucket-here/" in ex.cause
    assert ex.event_types[-4:] == ["MapRunStarted", "MapRunFailed", "MapStateFailed", "ExecutionFailed"]
    (map_run,) = execution_run.map_runs.values()
    assert map_run.status == "FAILED" and len(map_run.executions("SUCCEEDED")) == 1


def test_a_retry_on_item_reader_failed_reads_again(s3):
    definition = reader_map({"InputType": "JSON"}, "late.json")
    definition["States"]["M"]["Retry"] = [{"ErrorEquals": ["States.ItemReaderFailed"], "MaxAttempts": 1,
                                           "IntervalSeconds": 1}]
    calls = {"n": 0}
    registry = IntegrationRegistry()
    real = boto3.client("s3", region_name="us-east-1")

    class Late:
        def get_object(self, **params):
            calls["n"] += 1
            if calls["n"] == 1:
                return real.get_object(**params)  # NoSuchKey
            put(s3, "late.json", "[7]")
            return real.get_object(**params)

    registry.clients.set_factory(lambda service, region_name=None: Late())
    execution_run, ex = execute(definition, registry=registry)
    assert ex.status == "SUCCEEDED" and ex.output == [7]
    assert len(execution_run.map_runs) == 2  # each attempt is a Map Run of its own


# -- the registry's clients -----------------------------------------------------------------------
def test_registry_clients_are_made_once_per_service_and_region(s3, monkeypatch):
    registry = IntegrationRegistry()
    made = []
    registry.clients.set_factory(lambda service, region_name=None: made.append((service, region_name)) or object())
    a = registry.client("s3")
    assert registry.client("s3") is a and made == [("s3", "us-east-1")]
    registry.client("s3", region_name="eu-west-1")
    assert made[-1] == ("s3", "eu-west-1")
    registry.clients.set_factory(None)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    assert registry.client("s3").meta.region_name == "eu-central-1"


def test_reader_errors_are_states_errors():
    with pytest.raises(StatesError) as info:
        S3ItemSource(object(), "getObject", {"Bucket": "b", "Key": "k"}, ReaderSettings({})).items()
    assert info.value.error == "States.ItemReaderFailed"


SOURCE_SELECTOR = {"source.$": "$$.Map.Item.Source", "value.$": "$$.Map.Item.Value"}


def test_map_item_source_is_the_s3_uri_of_the_object_read(s3):
    # AWS's context object page: "For all the other input types, the value will be the Amazon
    # S3 URI. For example: S3://bucket-name/object-key".
    put(s3, "rows.csv", "a,b\n1,2\n")
    put(s3, "items.json", json.dumps([{"n": 1}]))
    csv = output_of(reader_map({"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"}, "rows.csv",
                             ItemSelector=SOURCE_SELECTOR))
    assert csv == [{"source": f"S3://{BUCKET}/rows.csv", "value": {"a": "1", "b": "2"}}]
    items = output_of(reader_map({"InputType": "JSON"}, "items.json", ItemSelector=SOURCE_SELECTOR))
    assert items == [{"source": f"S3://{BUCKET}/items.json", "value": {"n": 1}}]


def test_map_item_source_of_a_listing_is_the_bucket_uri(s3):
    # "For Amazon S3 LIST_OBJECTS_V2 with Transformation=NONE, the value will show the S3 URI
    # for the bucket. For example: S3://bucket-name."
    put(s3, "a.txt", "x")
    listed = output_of(reader_map(None, resource="listObjectsV2", params={"Bucket": BUCKET},
                                ItemSelector={"source.$": "$$.Map.Item.Source", "key.$": "$$.Map.Item.Value.Key"}))
    assert listed == [{"source": f"S3://{BUCKET}", "key": "a.txt"}]


def test_map_item_source_of_state_input_in_a_distributed_map(s3):
    definition = reader_map(None, ItemSelector=SOURCE_SELECTOR)
    del definition["States"]["M"]["ItemReader"]
    assert output_of(definition, [7]) == [{"source": "STATE_DATA", "value": 7}]
