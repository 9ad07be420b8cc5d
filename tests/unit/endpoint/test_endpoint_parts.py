"""Unit tests of the endpoint's parts: model-driven input checks and REST routing, the Java SDK
names of services and errors, batch-item-failure answers, and the store."""

from __future__ import annotations

import time

import pytest

from stepkit.endpoint.events import batch_item_failures
from stepkit.endpoint.protocol import AwsError, RestJsonService, check_input, service_model
from stepkit.endpoint.store import Store
from stepkit.engine.history import HistoryEvent
from stepkit.integrations.aws import botocore_service, operation_for, sdk_v2_name


def _input(service: str, operation: str):  # type: ignore[no-untyped-def]
    return service_model(service).operation_model(operation).input_shape


def test_required_members_in_aws_words() -> None:
    with pytest.raises(AwsError) as exc:
        check_input(_input("stepfunctions", "StartExecution"), {})
    assert exc.value.code == "ValidationException"
    assert exc.value.message == ("1 validation error detected: Value null at 'stateMachineArn' failed to satisfy "
                                 "constraint: Member must not be null")


def test_lengths_ranges_and_enums() -> None:
    with pytest.raises(AwsError) as exc:
        check_input(_input("stepfunctions", "CreateStateMachine"),
                    {"name": "x" * 81, "definition": "{}", "roleArn": "arn", "type": "BATCH"})
    message = exc.value.message
    assert message.startswith("2 validation errors detected: ")
    assert "Member must have length less than or equal to 80" in message
    assert "Member must satisfy enum value set: [STANDARD, EXPRESS]" in message
    with pytest.raises(AwsError) as exc:
        check_input(_input("stepfunctions", "ListStateMachines"), {"maxResults": -1})
    assert "Member must have value greater than or equal to 0" in exc.value.message


def test_wrong_types_are_serialization_errors() -> None:
    for params in ({"stateMachineArn": 5}, {"stateMachineArn": "a", "input": {"not": "text"}}, []):
        with pytest.raises(AwsError) as exc:
            check_input(_input("stepfunctions", "StartExecution"), params)
        assert exc.value.code == "SerializationException"


def test_rest_routes_come_from_the_model() -> None:
    service = RestJsonService("lambda", {})
    route, params = service.match("POST", "/2015-03-31/functions/my-fn/invocations", {})  # type: ignore[misc]
    assert (route.operation.name, params) == ("Invoke", {"FunctionName": "my-fn"})
    route, params = service.match("GET", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012"
                                         "%3Afunction%3Af/configuration", {})  # type: ignore[misc]
    assert route.operation.name == "GetFunctionConfiguration"
    assert params["FunctionName"] == "arn:aws:lambda:us-east-1:123456789012:function:f"
    route, _ = service.match("DELETE", "/2015-03-31/event-source-mappings/abc", {})  # type: ignore[misc]
    assert route.operation.name == "DeleteEventSourceMapping"
    assert service.match("GET", "/2015-03-31/nothing-here", {}) is None
    assert service.handles("/2015-03-31/functions") and not service.handles("/bucket/key")


@pytest.mark.parametrize(("service_id", "name"), [
    ("DynamoDB", "DynamoDb"), ("SFN", "Sfn"), ("S3", "S3"), ("Secrets Manager", "SecretsManager"),
    ("SQS", "Sqs"), ("EventBridge", "EventBridge"), ("CloudWatch Logs", "CloudWatchLogs"), ("EC2", "Ec2"),
    ("IAM", "Iam"), ("Lambda", "Lambda"),
])
def test_java_sdk_v2_service_names(service_id: str, name: str) -> None:
    assert sdk_v2_name(service_id) == name


def test_aws_sdk_resource_names_map_to_botocore() -> None:
    assert botocore_service("sfn") == "stepfunctions"
    assert botocore_service("eventbridge") == "events"
    assert botocore_service("s3") == "s3"
    assert botocore_service("secretsmanager") == "secretsmanager"
    assert operation_for(service_model("s3"), "listObjectsV2").name == "ListObjectsV2"
    with pytest.raises(KeyError):
        operation_for(service_model("s3"), "noSuchAction")


def testbatch_item_failures_follow_lambdas_rules() -> None:
    ids = {"a", "b", "c"}
    assert batch_item_failures(b"", ids) == set()
    assert batch_item_failures(b"null", ids) == set()
    assert batch_item_failures(b'{"batchItemFailures": []}', ids) == set()
    assert batch_item_failures(b'{"batchItemFailures": [{"itemIdentifier": "b"}]}', ids) == {"b"}
    # an identifier that names no message of the batch, or none at all: the whole batch failed
    assert batch_item_failures(b'{"batchItemFailures": [{"itemIdentifier": "zzz"}]}', ids) == ids
    assert batch_item_failures(b'{"batchItemFailures": [{"itemIdentifier": ""}]}', ids) == ids


def test_store_keeps_records_and_history(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store(tmp_path / "s.db")
    store.put("machine", "a", {"x": 1})
    store.put("machine", "a", {"x": 2})
    store.put("machine", "b", {"x": 3})
    events = [HistoryEvent(1, 0, "ExecutionStarted", 1.0, {"input": {}}),
              HistoryEvent(2, 1, "PassStateEntered", 2.0, {"name": "P", "input": {"k": "é"}})]
    store.add_events("arn", events)
    store.close()
    reopened = Store(tmp_path / "s.db")
    assert reopened.get("machine", "a") == {"x": 2}
    assert reopened.all("machine") == [{"x": 2}, {"x": 3}]
    got = reopened.events("arn")
    assert [(e.event_id, e.event_type, e.details) for e in got] == [(e.event_id, e.event_type, e.details)
                                                                     for e in events]
    reopened.delete("machine", "a")
    assert reopened.get("machine", "a") is None


def test_deliveries_retry_dead_letter_and_replay(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from stepkit.endpoint.events import Deliveries

    store = Store(tmp_path / "outbox.db")
    attempts: list[str] = []
    dead: list[tuple[str, str, dict]] = []

    def start_execution(params: dict, ctx: object) -> dict:
        attempts.append(params["name"])
        if params["stateMachineArn"].endswith(":gone"):
            raise AwsError("StateMachineDoesNotExist", "State Machine Does Not Exist")
        if attempts.count(params["name"]) < 3:
            raise AwsError("ServiceUnavailable", "busy", 503)
        return {}

    deliveries = Deliveries(store, start_execution, lambda arn, body: None,
                            lambda arn, body, attributes: dead.append((arn, body, attributes)), workers=2)
    deliveries.start()
    deliveries.submit("states", "arn:aws:states:us-east-1:123456789012:stateMachine:ok", {"n": 1}, name="once")
    deliveries.submit("states", "arn:aws:states:us-east-1:123456789012:stateMachine:gone", {"n": 2}, name="never",
                      dead_letter="arn:aws:sqs:us-east-1:123456789012:dlq")
    assert deliveries.wait_idle(30)
    deliveries.close()
    assert attempts.count("once") == 3  # two busy answers, then delivered
    assert attempts.count("never") == 1  # a final error is not retried
    assert [(arn, attrs["ERROR_CODE"]) for arn, _, attrs in dead] == [
        ("arn:aws:sqs:us-east-1:123456789012:dlq", "StateMachineDoesNotExist")]
    assert (deliveries.counts["delivered"], deliveries.counts["dead_lettered"]) == (1, 1)
    assert store.all("outbox") == []

    # a delivery still in the outbox when the process died is made at the next start
    store.put("outbox", "left", {"id": "left", "kind": "lambda", "target": "fn", "payload": {"k": 1}, "name": None,
                                 "dead_letter": None, "retries": 3, "max_age": 60.0, "attempts": 0,
                                 "created": time.time(), "source": {}})
    invoked: list[tuple[str, bytes]] = []
    again = Deliveries(store, start_execution, lambda arn, body: invoked.append((arn, body)), lambda *a: None)
    again.start()
    assert again.wait_idle(30)
    again.close()
    assert invoked == [("fn", b'{"k": 1}')]
    assert store.all("outbox") == []
