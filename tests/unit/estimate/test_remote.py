"""Which REPORT lines belong to an endpoint's execution (boto3 clients replaced by fakes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from stepkit.estimate.remote import fetch_execution
from stepkit.runtime.calls import AwsCall, calls_line
from stepkit.runtime.reports import report_line

ARN = "arn:aws:states:us-east-1:123456789012:execution:m:e"
FN = "arn:aws:lambda:us-east-1:123456789012:function:"
START = datetime(2026, 1, 1, tzinfo=UTC)


def _event(eid: int, kind: str, previous: int, **details: Any) -> dict:
    key = {"LambdaFunctionScheduled": "lambdaFunctionScheduledEventDetails",
           "TaskScheduled": "taskScheduledEventDetails", "TaskSucceeded": "taskSucceededEventDetails",
           "TaskStateEntered": "stateEnteredEventDetails"}.get(kind)
    event = {"id": eid, "previousEventId": previous, "type": kind, "timestamp": START}
    if key:
        event[key] = details
    return event


HISTORY = [
    _event(1, "ExecutionStarted", 0),
    _event(2, "TaskStateEntered", 1, name="Plain"),
    _event(3, "LambdaFunctionScheduled", 2, resource=f"{FN}plain"),
    _event(4, "TaskStateEntered", 3, name="Envelope"),
    _event(5, "TaskScheduled", 4, resourceType="lambda", resource="invoke",
           parameters=json.dumps({"FunctionName": "env", "Payload": {}})),
    _event(6, "TaskSucceeded", 5, output=json.dumps({"SdkHttpMetadata": {"HttpHeaders": {"x-amzn-RequestId": "mine"}}},
                                                    separators=(",", ":"))),
]


def _not_found(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "not found"}}, operation)


class _Client:
    def __init__(self, logs: dict[str, list[str]]) -> None:
        self.logs = logs

    def describe_execution(self, executionArn: str) -> dict:
        return {"status": "SUCCEEDED", "startDate": START, "stopDate": START}

    def describe_state_machine_for_execution(self, executionArn: str) -> dict:
        return {"definition": json.dumps({"StartAt": "Plain", "States": {}})}

    def list_map_runs(self, executionArn: str) -> dict:
        return {"mapRuns": []}

    def get_execution_history(self, **kwargs: Any) -> dict:
        if "nextToken" not in kwargs:
            return {"events": HISTORY[:3], "nextToken": "more"}
        return {"events": HISTORY[3:]}

    def get_function_configuration(self, FunctionName: str) -> dict:
        if FunctionName == "plain":
            return {"Architectures": ["arm64"]}
        raise _not_found("GetFunctionConfiguration")

    def filter_log_events(self, logGroupName: str, **kwargs: Any) -> dict:
        lines = self.logs.get(logGroupName.removeprefix("/aws/lambda/"))
        if lines is None:
            raise _not_found("FilterLogEvents")
        return {"events": [{"timestamp": i, "message": line} for i, line in enumerate(lines)]}


def _report(rid: str, memory: int = 256) -> str:
    return report_line(rid, duration_ms=10.0, memory_size=memory, max_memory_used_mb=20, init_duration_ms=None)


def test_the_request_id_a_result_names_wins_over_time_order() -> None:
    logs = {"plain": ["START RequestId: p1 Version: $LATEST", _report("p1", 512), _report("p2", 512)],
            "env": [_report("other"), _report("mine")]}
    client = _Client(logs)
    remote = fetch_execution(lambda service: client, ARN)
    assert [e["id"] for e in remote.events] == [1, 2, 3, 4, 5, 6]
    by_function = {i.function: i for i in remote.invocations}
    assert len(remote.invocations) == 2  # one scheduling each: the second report of plain is another run's
    assert by_function["env"].request_id == "mine"
    assert (by_function["plain"].request_id, by_function["plain"].memory_mb) == ("p1", 512)
    assert by_function["plain"].architecture == "arm64" and by_function["env"].architecture == "x86_64"


def test_a_function_without_a_log_group_contributes_nothing() -> None:
    remote = fetch_execution(lambda service: _Client({"env": [_report("mine")]}), ARN)
    assert [i.function for i in remote.invocations] == ["env"]


CHILD_ARN = "arn:aws:states:us-east-1:123456789012:execution:m/Fan:c1"
CHILD_HISTORY = [
    _event(1, "ExecutionStarted", 0),
    _event(2, "TaskStateEntered", 1, name="Work"),
    _event(3, "LambdaFunctionScheduled", 2, resource=f"{FN}child"),
]


class _Parent(_Client):
    """An execution whose Distributed Map ``Fan`` ran one STANDARD child and one EXPRESS child
    (whose history, as on AWS, cannot be read)."""

    def __init__(self, logs: dict[str, list[str]], express: bool) -> None:
        super().__init__(logs)
        self.express = express
        processor = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS" if express else "STANDARD"},
                     "StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": f"{FN}child", "End": True}}}
        self.definition = {"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "ItemProcessor": processor,
                                                                 "End": True}}}

    def describe_state_machine_for_execution(self, executionArn: str) -> dict:
        return {"definition": json.dumps(self.definition)}

    def list_map_runs(self, executionArn: str) -> dict:
        return {"mapRuns": [{"mapRunArn": "run-1"}]}

    def list_executions(self, mapRunArn: str) -> dict:
        return {"executions": [{"executionArn": CHILD_ARN, "startDate": START,
                                "stopDate": START.replace(second=2)}]}

    def get_execution_history(self, **kwargs: Any) -> dict:
        if kwargs["executionArn"] == CHILD_ARN:
            if self.express:
                raise ClientError({"Error": {"Code": "InvalidArn", "Message": "express"}}, "GetExecutionHistory")
            return {"events": CHILD_HISTORY}
        return {"events": [_event(1, "ExecutionStarted", 0),
                           dict(_event(2, "MapStateEntered", 1), stateEnteredEventDetails={"name": "Fan"}),
                           dict(_event(3, "MapRunStarted", 2), mapRunStartedEventDetails={"mapRunArn": "run-1"})]}


def test_distributed_map_children_come_with_their_type_history_and_lambda_reports() -> None:
    standard = fetch_execution(lambda service: _Parent({"child": [_report("c")]}, express=False), ARN)
    (child,) = standard.children
    assert not child.express and [e["id"] for e in child.events] == [1, 2, 3]
    assert json.loads(child.definition)["StartAt"] == "Work"
    assert [i.request_id for i in standard.invocations] == ["c"]  # scheduled by the child's history

    express = fetch_execution(lambda service: _Parent({}, express=True), ARN)
    (child,) = express.children
    assert child.express and child.events == [] and child.duration_seconds == 2.0


def test_each_report_takes_the_calls_line_of_its_request_id() -> None:
    put = (AwsCall(service="s3", operation="PutObject", requests=3, units=3),)
    logs = {"plain": ["START RequestId: p1 Version: $LATEST", _report("p1"), calls_line("p1", put).rstrip("\n")],
            "env": [_report("mine")]}  # no line: as Lambda on AWS writes it
    remote = fetch_execution(lambda service: _Client(logs), ARN)
    by_function = {i.function: i for i in remote.invocations}
    assert by_function["plain"].aws_calls == put
    assert by_function["env"].aws_calls is None
