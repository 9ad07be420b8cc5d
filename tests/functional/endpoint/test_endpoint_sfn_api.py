"""The Step Functions API of the endpoint, through boto3: state machines, executions, history,
callbacks, redrive, TestState and tags."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import ROLE, create_machine, eventually, run_machine, unique, wait_execution

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"a": 1}, "End": True}}}
WAIT = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}}


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def test_create_describe_update_list_delete_state_machine(sfn: Any) -> None:
    name = unique("crud")
    created = sfn.create_state_machine(name=name, definition=json.dumps(PASS), roleArn=ROLE)
    arn = created["stateMachineArn"]
    assert arn == f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}"

    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert (described["name"], described["status"], described["type"]) == (name, "ACTIVE", "STANDARD")
    assert json.loads(described["definition"]) == PASS
    assert described["roleArn"] == ROLE

    # the same definition again is idempotent; a different one is a conflict
    assert sfn.create_state_machine(name=name, definition=json.dumps(PASS), roleArn=ROLE)["stateMachineArn"] == arn
    with pytest.raises(ClientError) as exc:
        sfn.create_state_machine(name=name, definition=json.dumps(WAIT), roleArn=ROLE)
    assert _code(exc) == "StateMachineAlreadyExists"

    updated = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(WAIT))
    assert updated["revisionId"] != described["revisionId"]
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == WAIT

    listed = [m["stateMachineArn"] for page in sfn.get_paginator("list_state_machines").paginate(
        PaginationConfig={"PageSize": 2}) for m in page["stateMachines"]]
    assert arn in listed

    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(ClientError) as exc:
        sfn.describe_state_machine(stateMachineArn=arn)
    assert _code(exc) == "StateMachineDoesNotExist"


def test_validate_state_machine_definition_gives_aws_diagnostics(sfn: Any) -> None:
    ok = sfn.validate_state_machine_definition(definition=json.dumps(PASS))
    assert (ok["result"], ok["diagnostics"]) == ("OK", [])
    bad = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}
    result = sfn.validate_state_machine_definition(definition=json.dumps(bad))
    assert result["result"] == "FAIL"
    assert result["diagnostics"][0]["severity"] == "ERROR"
    assert result["diagnostics"][0]["code"] == "MISSING_TRANSITION_TARGET"
    assert result["diagnostics"][0]["location"] == "/States/A/Next"


def test_execution_runs_to_its_output_with_aws_shapes(sfn: Any) -> None:
    described = run_machine(sfn, PASS, {"in": True})
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"a": 1}
    assert json.loads(described["input"]) == {"in": True}
    assert described["inputDetails"] == {"included": True}
    assert described["redriveStatus"] == "NOT_REDRIVABLE"
    assert described["stopDate"] >= described["startDate"]


def test_failed_execution_has_error_and_cause_and_is_redrivable(sfn: Any) -> None:
    definition = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "it broke"}}}
    described = run_machine(sfn, definition)
    assert (described["status"], described["error"], described["cause"]) == ("FAILED", "Boom", "it broke")
    assert described["redriveStatus"] == "REDRIVABLE"


def test_start_execution_name_rules(sfn: Any) -> None:
    arn = create_machine(sfn, WAIT)
    first = sfn.start_execution(stateMachineArn=arn, name="once", input="{}")
    # the same name and input while running: the same execution (AWS's idempotency)
    again = sfn.start_execution(stateMachineArn=arn, name="once", input="{}")
    assert again["executionArn"] == first["executionArn"]
    with pytest.raises(ClientError) as exc:
        sfn.start_execution(stateMachineArn=arn, name="once", input='{"other": 1}')
    assert _code(exc) == "ExecutionAlreadyExists"
    with pytest.raises(ClientError) as exc:
        sfn.start_execution(stateMachineArn=arn, name="bad name", input="{}")
    assert _code(exc) == "InvalidName"
    with pytest.raises(ClientError) as exc:
        sfn.start_execution(stateMachineArn=arn, input="{not json")
    assert _code(exc) == "InvalidExecutionInput"
    sfn.stop_execution(executionArn=first["executionArn"])


def test_stop_execution_aborts_a_waiting_execution(sfn: Any) -> None:
    arn = create_machine(sfn, WAIT)
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    stopped = sfn.stop_execution(executionArn=execution, error="Halt", cause="by the test")
    assert "stopDate" in stopped
    described = sfn.describe_execution(executionArn=execution)
    assert (described["status"], described["error"], described["cause"]) == ("ABORTED", "Halt", "by the test")
    events = sfn.get_execution_history(executionArn=execution)["events"]
    assert events[-1]["type"] == "ExecutionAborted"


def test_list_executions_filters_and_pages(sfn: Any) -> None:
    arn = create_machine(sfn, {"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [
        {"Variable": "$.ok", "BooleanEquals": True, "Next": "S"}], "Default": "F"},
        "S": {"Type": "Succeed"}, "F": {"Type": "Fail", "Error": "E"}}})
    arns = [sfn.start_execution(stateMachineArn=arn, name=f"e{i}", input=json.dumps({"ok": i % 2 == 0}))
            ["executionArn"] for i in range(5)]
    for a in arns:
        wait_execution(sfn, a)
    pages = list(sfn.get_paginator("list_executions").paginate(stateMachineArn=arn,
                                                                 PaginationConfig={"PageSize": 2}))
    assert [len(p["executions"]) for p in pages] == [2, 2, 1]
    assert sorted(e["executionArn"] for p in pages for e in p["executions"]) == sorted(arns)
    failed = sfn.list_executions(stateMachineArn=arn, statusFilter="FAILED")["executions"]
    assert sorted(e["name"] for e in failed) == ["e1", "e3"]
    with pytest.raises(ClientError) as exc:
        sfn.list_executions(stateMachineArn=arn, nextToken="garbage")
    assert _code(exc) == "InvalidToken"


def test_history_pages_reverse_order_and_execution_data(sfn: Any) -> None:
    definition = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "C"}, "C": {"Type": "Pass", "End": True}}}
    execution = run_machine(sfn, definition, {"secret": 42})["executionArn"]
    everything = sfn.get_execution_history(executionArn=execution)["events"]
    types = [e["type"] for e in everything]
    assert types == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "PassStateEntered",
                     "PassStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    assert [e["id"] for e in everything] == list(range(1, 9))
    assert everything[1]["previousEventId"] == 1

    pages = list(sfn.get_paginator("get_execution_history").paginate(
        executionArn=execution, reverseOrder=True, PaginationConfig={"PageSize": 3}))
    assert [len(p["events"]) for p in pages] == [3, 3, 2]
    assert [e["id"] for p in pages for e in p["events"]] == list(range(8, 0, -1))

    bare = sfn.get_execution_history(executionArn=execution, includeExecutionData=False)["events"]
    assert "input" not in bare[0]["executionStartedEventDetails"]
    assert json.loads(everything[0]["executionStartedEventDetails"]["input"]) == {"secret": 42}


def test_describe_state_machine_for_execution_keeps_the_definition_it_ran(sfn: Any) -> None:
    arn = create_machine(sfn, PASS)
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    wait_execution(sfn, execution)
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(WAIT))
    described = sfn.describe_state_machine_for_execution(executionArn=execution)
    assert json.loads(described["definition"]) == PASS
    assert described["stateMachineArn"] == arn


def test_express_start_sync_execution(sfn: Any) -> None:
    arn = create_machine(sfn, PASS, type="EXPRESS")
    result = sfn.start_sync_execution(stateMachineArn=arn, input='{"x": 1}')
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"a": 1}
    assert ":express:" in result["executionArn"]
    assert result["billingDetails"]["billedDurationInMilliseconds"] >= 100
    failing = create_machine(sfn, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "X", "Cause": "y"}}},
                             type="EXPRESS")
    result = sfn.start_sync_execution(stateMachineArn=failing)
    assert (result["status"], result["error"], result["cause"]) == ("FAILED", "X", "y")
    standard = create_machine(sfn, PASS)
    with pytest.raises(ClientError) as exc:
        sfn.start_sync_execution(stateMachineArn=standard)
    assert _code(exc) == "StateMachineTypeNotSupported"


def test_callback_with_send_task_success_and_failure(sfn: Any, clients: Any) -> None:
    sqs = clients("sqs")
    queue = sqs.create_queue(QueueName=unique("cb"))["QueueUrl"]
    definition = {"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token", "n.$": "$.n"}},
        "End": True}}}
    arn = create_machine(sfn, definition)
    ok = sfn.start_execution(stateMachineArn=arn, input='{"n": 1}')["executionArn"]
    bad = sfn.start_execution(stateMachineArn=arn, input='{"n": 2}')["executionArn"]
    seen: dict[int, str] = {}
    deadline = time.monotonic() + 30
    while len(seen) < 2 and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            body = json.loads(message["Body"])
            seen[body["n"]] = body["token"]
    sfn.send_task_heartbeat(taskToken=seen[1])
    sfn.send_task_success(taskToken=seen[1], output='{"answer": 42}')
    sfn.send_task_failure(taskToken=seen[2], error="Nope", cause="declined")
    assert json.loads(wait_execution(sfn, ok)["output"]) == {"answer": 42}
    failed = wait_execution(sfn, bad)
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "Nope", "declined")
    with pytest.raises(ClientError) as exc:
        sfn.send_task_success(taskToken=seen[1], output="{}")
    assert _code(exc) == "TaskDoesNotExist"
    with pytest.raises(ClientError) as exc:
        sfn.send_task_success(taskToken="NoSuchTaskToken", output="{}")
    assert _code(exc) == "InvalidToken"
    with pytest.raises(ClientError) as exc:
        sfn.send_task_success(taskToken="a" * 64, output="{not json")
    assert _code(exc) == "InvalidOutput"


def test_redrive_runs_again_from_the_failed_state(sfn: Any, clients: Any) -> None:
    # The first run fails on a missing table; once the table exists, the redrive succeeds
    # from the failed state, keeping what the states before it produced.
    ddb = clients("dynamodb")
    table = unique("redrive")
    definition = {"StartAt": "Before", "States": {
        "Before": {"Type": "Pass", "Result": "kept", "ResultPath": "$.before", "Next": "Put"},
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": table, "Item": {"id": {"S": "1"}}}, "ResultPath": None, "End": True}}}
    execution = run_machine(sfn, definition, {"x": 1})
    assert (execution["status"], execution["error"]) == ("FAILED", "DynamoDB.ResourceNotFoundException")
    ddb.create_table(TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    arn = execution["executionArn"]
    assert "redriveDate" in sfn.redrive_execution(executionArn=arn)
    described = wait_execution(sfn, arn)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"x": 1, "before": "kept"}
    assert described["redriveCount"] == 1
    types = [e["type"] for e in sfn.get_execution_history(executionArn=arn)["events"]]
    assert types.count("ExecutionFailed") == 1 and types[-1] == "ExecutionSucceeded"
    assert "ExecutionRedriven" in types
    assert [e["id"] for e in sfn.get_execution_history(executionArn=arn)["events"]] == list(range(1, len(types) + 1))
    with pytest.raises(ClientError) as exc:
        sfn.redrive_execution(executionArn=arn)
    assert _code(exc) == "ExecutionNotRedrivable"


def test_test_state_runs_one_state(sfn: Any) -> None:
    state = {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.a, $.b)"}, "Next": "Later"}
    result = sfn.test_state(definition=json.dumps(state), roleArn=ROLE, input='{"a": 1, "b": 2}')
    assert (result["status"], result["nextState"]) == ("SUCCEEDED", "Later")
    assert json.loads(result["output"]) == {"sum": 3}
    fail = sfn.test_state(definition=json.dumps({"Type": "Fail", "Error": "E", "Cause": "c"}), roleArn=ROLE)
    assert (fail["status"], fail["error"], fail["cause"]) == ("FAILED", "E", "c")
    with pytest.raises(ClientError) as exc:
        sfn.test_state(definition=json.dumps({"Type": "Pass", "Nonsense": 1, "End": True}), roleArn=ROLE)
    assert _code(exc) == "InvalidDefinition"


def test_tags(sfn: Any) -> None:
    arn = sfn.create_state_machine(name=unique("tags"), definition=json.dumps(PASS), roleArn=ROLE,
                                   tags=[{"key": "team", "value": "ml"}])["stateMachineArn"]
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "stage", "value": "dev"}])
    assert sorted((t["key"], t["value"]) for t in sfn.list_tags_for_resource(resourceArn=arn)["tags"]) == [
        ("stage", "dev"), ("team", "ml")]
    sfn.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "stage", "value": "dev"}]
    with pytest.raises(ClientError) as exc:
        sfn.list_tags_for_resource(resourceArn=arn + "x")
    assert _code(exc) == "ResourceNotFound"


def test_many_executions_at_once(sfn: Any) -> None:
    arn = create_machine(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 0, "Next": "P"},
                                                          "P": {"Type": "Pass", "End": True}}})
    arns: list[str] = []
    lock = threading.Lock()

    def start(i: int) -> None:
        a = sfn.start_execution(stateMachineArn=arn, name=f"n{i}", input=json.dumps({"i": i}))["executionArn"]
        with lock:
            arns.append(a)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outputs = sorted(json.loads(wait_execution(sfn, a)["output"])["i"] for a in arns)
    assert outputs == list(range(40))


def test_distributed_map_runs_and_child_executions(sfn: Any) -> None:
    definition = {"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "ItemsPath": "$.items", "Label": "fan", "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "Add", "States": {"Add": {
                              "Type": "Pass", "Parameters": {"v.$": "States.MathAdd($.n, 1)"}, "End": True}}}}}}
    described = run_machine(sfn, definition, {"items": [{"n": 1}, {"n": 2}, {"n": 3}]})
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == [{"v": 2}, {"v": 3}, {"v": 4}]
    map_runs = sfn.list_map_runs(executionArn=described["executionArn"])["mapRuns"]
    assert len(map_runs) == 1
    map_run = sfn.describe_map_run(mapRunArn=map_runs[0]["mapRunArn"])
    assert map_run["status"] == "SUCCEEDED"
    assert (map_run["executionCounts"]["succeeded"], map_run["itemCounts"]["total"]) == (3, 3)
    children = sfn.list_executions(mapRunArn=map_run["mapRunArn"])["executions"]
    assert len(children) == 3 and all(c["status"] == "SUCCEEDED" for c in children)
    child = sfn.describe_execution(executionArn=children[0]["executionArn"])
    assert child["mapRunArn"] == map_run["mapRunArn"]
    assert "/fan:" in child["executionArn"]
    events = sfn.get_execution_history(executionArn=children[0]["executionArn"])["events"]
    assert (events[0]["type"], events[-1]["type"]) == ("ExecutionStarted", "ExecutionSucceeded")
    with pytest.raises(ClientError) as exc:
        sfn.describe_map_run(mapRunArn=map_run["mapRunArn"] + "x")
    assert _code(exc) == "ResourceNotFound"


def test_test_state_calls_integrations_and_reports_caught_and_retriable_errors(sfn: Any) -> None:
    task = {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:listBuckets", "Parameters": {}, "End": True}
    result = sfn.test_state(definition=json.dumps(task), roleArn=ROLE, inspectionLevel="DEBUG")
    assert result["status"] == "SUCCEEDED"
    assert "Buckets" in json.loads(result["inspectionData"]["result"])
    missing = {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
               "Parameters": {"Bucket": unique("none"), "Key": "k"}}
    caught = sfn.test_state(definition=json.dumps({**missing, "End": True, "Catch": [
        {"ErrorEquals": ["States.ALL"], "Next": "Handler"}]}), roleArn=ROLE)
    assert (caught["status"], caught["nextState"], caught["error"]) == (
        "CAUGHT_ERROR", "Handler", "S3.NoSuchBucketException")
    retriable = sfn.test_state(definition=json.dumps({**missing, "End": True, "Retry": [
        {"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}]}), roleArn=ROLE)
    assert (retriable["status"], retriable["error"]) == ("RETRIABLE", "S3.NoSuchBucketException")


def test_express_start_execution_runs_asynchronously(sfn: Any) -> None:
    arn = create_machine(sfn, PASS, type="EXPRESS")
    started = sfn.start_execution(stateMachineArn=arn, input="{}")
    assert ":express:" in started["executionArn"]
    assert json.loads(wait_execution(sfn, started["executionArn"])["output"]) == {"a": 1}
    with pytest.raises(ClientError) as exc:  # AWS keeps no list of Express executions
        sfn.list_executions(stateMachineArn=arn)
    assert _code(exc) == "StateMachineTypeNotSupported"


def test_stop_execution_releases_a_task_waiting_for_its_callback(sfn: Any, clients: Any) -> None:
    queue = clients("sqs").create_queue(QueueName=unique("held"))["QueueUrl"]
    arn = create_machine(sfn, {"StartAt": "Hold", "States": {"Hold": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue, "MessageBody": {"t.$": "$$.Task.Token"}}, "End": True}}})
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    token = json.loads(eventually(lambda: clients("sqs").receive_message(QueueUrl=queue).get("Messages"))[0]
                       ["Body"])["t"]
    sfn.stop_execution(executionArn=execution)
    assert sfn.describe_execution(executionArn=execution)["status"] == "ABORTED"
    with pytest.raises(ClientError) as exc:  # the waiting task was released, not left to wait for ever
        sfn.send_task_success(taskToken=token, output="{}")
    assert _code(exc) == "TaskDoesNotExist"
