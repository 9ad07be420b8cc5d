"""An endpoint's execution, for ``stepkit cost --execution``: its history (GetExecutionHistory),
its definition, its Distributed Maps' child executions, and the REPORT lines of the Lambda
invocations they made, read from CloudWatch Logs (``/aws/lambda/NAME``), each with the AWS
requests its code sent when a ``STEPKIT_AWS_CALLS`` line (``stepkit.runtime.calls``: the local
endpoint writes one after each REPORT line; Lambda on AWS does not) names its request id.

A report belongs to the execution when a ``lambda:invoke`` result of its history names the
report's request id; otherwise when it was written while the execution ran, up to the number
of invocations the history scheduled for that function (reports of other executions running
at the same time cannot be told apart from these by time alone).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from stepkit.estimate.usage import (
    ChildHistory,
    LambdaInvocation,
    is_express_processor,
    item_processor,
    lambda_request_ids,
    parse_report,
    scheduled_functions,
)
from stepkit.runtime.calls import AwsCall, parse_calls_line

ClientFactory = Callable[[str], Any]
"""Makes a boto3 client for a service name (``stepfunctions``, ``logs``, ``lambda``)."""


@dataclass(slots=True)
class RemoteExecution:
    arn: str
    status: str
    definition: str
    events: list[dict[str, Any]]
    invocations: list[LambdaInvocation]
    children: list[ChildHistory] = field(default_factory=list)


def _millis(value: Any) -> int:
    return int((value.timestamp() if isinstance(value, datetime) else float(value)) * 1000)


def _all(call: Callable[..., dict], key: str, token_name: str = "nextToken", **kwargs: Any) -> list[Any]:
    items: list[Any] = []
    while True:
        page = call(**kwargs)
        items.extend(page.get(key, []))
        token = page.get(token_name)
        if not token:
            return items
        kwargs[token_name] = token


def fetch_execution(client: ClientFactory, execution_arn: str) -> RemoteExecution:
    sfn = client("stepfunctions")
    described = sfn.describe_execution(executionArn=execution_arn)
    machine = sfn.describe_state_machine_for_execution(executionArn=execution_arn)
    events = _all(sfn.get_execution_history, "events", executionArn=execution_arn, maxResults=1000)
    start = _millis(described["startDate"])
    stop = _millis(described["stopDate"]) if described.get("stopDate") else None
    children = _children(sfn, execution_arn, events, json.loads(machine["definition"]))
    every = events + [e for child in children for e in child.events]
    invocations = _reports(client, every, start, stop)
    return RemoteExecution(execution_arn, described["status"], machine["definition"], events, invocations, children)


def _children(sfn: Any, execution_arn: str, events: list[dict[str, Any]], definition: Any) -> list[ChildHistory]:
    """The children of the execution's Distributed Maps (ListMapRuns, ListExecutions of each
    Map Run), with their histories. An Express child has no history on AWS: its dates give its
    duration."""
    from botocore.exceptions import ClientError

    from stepkit.viewer.history import map_state_of_run

    found: list[ChildHistory] = []
    for map_run in _all(sfn.list_map_runs, "mapRuns", executionArn=execution_arn):
        processor = item_processor(definition, map_state_of_run(events, map_run["mapRunArn"]) or "") or {}
        text, express = json.dumps(processor), is_express_processor(processor)
        for child in _all(sfn.list_executions, "executions", mapRunArn=map_run["mapRunArn"]):
            try:
                history = _all(sfn.get_execution_history, "events", executionArn=child["executionArn"],
                               maxResults=1000)
            except ClientError:
                history = []
            stop = child.get("stopDate")
            seconds = (_millis(stop) - _millis(child["startDate"])) / 1000 if stop is not None else None
            found.append(ChildHistory(history, text, express, seconds))
    return found


def _architecture(client: ClientFactory, function: str) -> str:
    from botocore.exceptions import ClientError

    try:
        config = client("lambda").get_function_configuration(FunctionName=function)
    except ClientError:  # deleted since: price it as Lambda's default
        return "x86_64"
    return (config.get("Architectures") or ["x86_64"])[0]


def _reports(
    client: ClientFactory, events: list[dict[str, Any]], start: int, stop: int | None
) -> list[LambdaInvocation]:
    from botocore.exceptions import ClientError

    logs = client("logs")
    known = lambda_request_ids(events)
    found: list[LambdaInvocation] = []
    for function, scheduled in scheduled_functions(events).items():
        architecture = _architecture(client, function)
        window: dict[str, Any] = {"startTime": start} | ({"endTime": stop + 1000} if stop is not None else {})
        try:
            lines = _all(logs.filter_log_events, "events", logGroupName=f"/aws/lambda/{function}", **window)
        except ClientError:  # no log group: the function never logged
            continue
        reports = _with_calls(function, architecture, sorted(lines, key=lambda e: e["timestamp"]))
        mine = [r for r in reports if r.request_id in known]
        others = [r for r in reports if r.request_id not in known]
        found.extend(mine + others[: max(0, scheduled - len(mine))])
    return found


def _with_calls(function: str, architecture: str, lines: list[dict[str, Any]]) -> list[LambdaInvocation]:
    """The REPORT lines' invocations, each with the calls of the ``STEPKIT_AWS_CALLS`` line of its
    request id (an Event invocation's attempts share one: taken in order)."""
    reports: list[LambdaInvocation] = []
    calls: dict[str, list[tuple[AwsCall, ...]]] = {}
    for event in lines:
        message = str(event.get("message", ""))
        report = parse_report(function, message, architecture)
        if report is not None:
            reports.append(report)
        elif (found := parse_calls_line(message)) is not None:
            calls.setdefault(found.request_id, []).append(found.calls)
    return [replace(r, aws_calls=calls[r.request_id].pop(0)) if calls.get(r.request_id) else r for r in reports]
