"""A Map over a JSON object: one iteration per key-value pair.

Evidence (no AWS recording in ../shared/conformance covers a successful Map over an object):

- docs.aws.amazon.com/step-functions/latest/dg/input-output-itemspath.html: "If the input to
  the Map state is a JSON object, it runs an iteration for each key-value pair in the object,
  passing the pair to the iteration as input"; "that path must evaluate to a JSON array or
  object"; the example sets ``"ItemsPath": "$.servers.web"`` over
  ``{"server1": {"port": 80, ...}, "server2": {...}}``.
- docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html: ``Map.Item``
  has ``"Key": "String", // Only valid for JSON objects`` beside Index, Value and Source.
- docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html: ItemsPath selects
  "an array of items or an object with key-value pairs"; "In Distributed mode, you specify
  this field only when you use a JSON array or object from a previous step".
- github.com/floci-io/floci/pull/1588 (observed on AWS, ItemReader s3:getObject InputType JSON
  whose top-level value is an object): "Each Map iteration receives an item shaped like
  {"Key": "a", "Value": {"x": 1}}" and ``$$.Map.Item.Key``, ``Index`` and ``Value`` work in
  the ItemSelector; floci's test of it expects ``$$.Map.Item.Value`` to be the member's value.

JSONata ``Items`` that evaluate to an object still fail with States.QueryEvaluationError, as
the AWS recordings in ../shared/conformance/cases/scenarios/test_map_state_items_*_object.json
show (recorded 2024-11-19, before the documentation above).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

import stepkit
from stepkit import StateMachine

SERVERS = {
    "environment": "production",
    "servers": {
        "web": {"server1": {"port": 80, "status": "active"}, "server2": {"port": 8080, "status": "inactive"}},
        "database": {
            "primary": {"host": "db1.example.com", "port": 5432},
            "replica": {"host": "db2.example.com", "port": 5432},
        },
    },
}
ECHO = {"StartAt": "CheckServer", "States": {"CheckServer": {"Type": "Pass", "End": True}}}
SELECTOR = {"key.$": "$$.Map.Item.Key", "index.$": "$$.Map.Item.Index", "value.$": "$$.Map.Item.Value"}


def web_servers(mode: str = "INLINE", **fields: Any) -> dict:
    processor: dict[str, Any] = dict(ECHO)
    if mode == "DISTRIBUTED":
        processor["ProcessorConfig"] = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    state = {"Type": "Map", "ItemsPath": "$.servers.web", "ItemProcessor": processor, "End": True, **fields}
    return {"StartAt": "ProcessWebServers", "States": {"ProcessWebServers": state}}


@pytest.mark.parametrize("mode", ["INLINE", "DISTRIBUTED"])
def test_the_documented_example_passes_each_pair_to_its_iteration(mode: str) -> None:
    """input-output-itemspath.html's example (ItemsPath ``$.servers.web``): one iteration per
    server, each given the pair (shaped as floci#1588 observed on AWS), in the object's order."""
    execution = stepkit.run(web_servers(mode), SERVERS)
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == [
        {"Key": "server1", "Value": {"port": 80, "status": "active"}},
        {"Key": "server2", "Value": {"port": 8080, "status": "inactive"}},
    ]


@pytest.mark.parametrize("mode", ["INLINE", "DISTRIBUTED"])
def test_the_item_selector_sees_key_index_and_value(mode: str) -> None:
    """Context object page: ``Map.Item.Key`` "Only valid for JSON objects"; floci#1588: Key,
    Index and Value resolve in the ItemSelector, Value being the member's value."""
    output = stepkit.run(web_servers(mode, ItemSelector=SELECTOR), SERVERS).output
    assert output == [
        {"key": "server1", "index": 0, "value": {"port": 80, "status": "active"}},
        {"key": "server2", "index": 1, "value": {"port": 8080, "status": "inactive"}},
    ]


def test_an_array_has_no_map_item_key() -> None:
    """Key is "Only valid for JSON objects": over an array the context has no Key."""
    definition = web_servers(ItemsPath="$.items", ItemSelector={"item.$": "$$.Map.Item"})
    output = stepkit.run(definition, {"items": ["a"]}).output
    assert output == [{"item": {"Index": 0, "Value": "a", "Source": "STATE_DATA"}}]


def test_the_history_counts_the_pairs() -> None:
    """An object Map records the events an array Map does, its length the number of pairs."""
    execution = stepkit.run(web_servers(), SERVERS)
    started = [e.details for e in execution.history if e.event_type == "MapStateStarted"]
    assert started == [{"length": 2}]
    iterations = [e.details["index"] for e in execution.history if e.event_type == "MapIterationStarted"]
    assert iterations == [0, 1]


def test_an_empty_object_runs_no_iteration() -> None:
    execution = stepkit.run(web_servers(), {"servers": {"web": {}}})
    assert execution.status == "SUCCEEDED" and execution.output == []


def test_a_scalar_still_fails_the_map() -> None:
    execution = stepkit.run(web_servers(), {"servers": {"web": 7}})
    assert execution.error == "States.Runtime"
    assert "Map state input must be an array but was: 7" in execution.cause


@pytest.mark.parametrize("items", ["{% {'foo': 'bar'} %}", "{% $states.input %}"])
def test_jsonata_items_over_an_object_still_fail_as_recorded(items: str) -> None:
    """conformance cases test_map_state_items_eval_jsonata_fail[object] (AWS, 2024-11-19)."""
    definition = {"QueryLanguage": "JSONata", "StartAt": "M", "States": {"M": {
        "Type": "Map", "Items": items, "ItemProcessor": ECHO, "End": True}}}
    execution = stepkit.run(definition, {"foo": "bar"})
    assert execution.error == "States.QueryEvaluationError"
    assert "Expected 'array', but was 'object'" in execution.cause


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="data")
        yield client


def _reader_map(config: dict, **fields: Any) -> dict:
    reader = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": config,
              "Parameters": {"Bucket": "data", "Key": "workers.json"}}
    processor = {**ECHO, "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}}
    state = {"Type": "Map", "ItemReader": reader, "ItemProcessor": processor, "End": True, **fields}
    return {"StartAt": "M", "States": {"M": state}}


def _run(definition: dict) -> Any:
    return StateMachine(definition, name="Reader").prepare({}, skip_waits=True).start()


def test_an_item_reader_json_object_gives_key_value_items(s3: Any) -> None:
    """floci#1588, observed on AWS: "A top-level JSON object is accepted", "Each Map iteration
    receives an item shaped like {"Key": "a", "Value": {"x": 1}}"; with ItemsPointer too
    (floci's test itemsPointerSelectsObjectDataset)."""
    s3.put_object(Bucket="data", Key="workers.json", Body=json.dumps({"records": {"a": {"x": 1}, "b": {"x": 2}}}))
    execution = _run(_reader_map({"InputType": "JSON", "ItemsPointer": "/records"}, ItemSelector=SELECTOR))
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == [
        {"key": "a", "index": 0, "value": {"x": 1}},
        {"key": "b", "index": 1, "value": {"x": 2}},
    ]
    s3.put_object(Bucket="data", Key="workers.json", Body=json.dumps({"a": 1, "b": [2]}))
    execution = _run(_reader_map({"InputType": "JSON", "MaxItems": 1}))
    assert execution.output == [{"Key": "a", "Value": 1}]


def test_a_jsonata_item_selector_reads_the_key_from_states_context(s3: Any) -> None:
    """The context object page's JSONata form, ``$states.context.Map.Item``, with the Key of
    an ItemReader JSON object's member."""
    s3.put_object(Bucket="data", Key="workers.json", Body=json.dumps({"a": {"x": 1}}))
    definition = _reader_map({"InputType": "JSON"}, QueryLanguage="JSONata", ItemSelector={
        "key": "{% $states.context.Map.Item.Key %}", "value": "{% $states.context.Map.Item.Value %}"})
    reader = definition["States"]["M"]["ItemReader"]
    reader["Arguments"] = reader.pop("Parameters")
    execution = _run(definition)
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == [{"key": "a", "value": {"x": 1}}]
