"""Names instead of ARNs (`stepkit start`, `executions`, `history MACHINE EXECUTION`), the
logs of every stream with --since and --filter, output that survives a pipe, and
`stepkit aws` (like awslocal) against a LocalEndpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from endpoint_helpers import create_function, create_machine, unique

from stepkit.endpoint import LocalEndpoint

BIN = Path(sys.executable).parent


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("COLUMNS",
                                                                                       "STEPKIT_ENDPOINT_URL")}
    return {**env, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, **extra}


def stepkit(*args: str, url: str, check: int | None = 0, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`stepkit ARGS` with the endpoint only in AWS_ENDPOINT_URL (the one rule) and stdout a pipe."""
    result = subprocess.run([str(BIN / "stepkit"), *args], env=_env(AWS_ENDPOINT_URL=url), capture_output=True,
                            text=True, timeout=300, cwd=cwd)
    if check is not None:
        assert result.returncode == check, (args, result.returncode, result.stdout, result.stderr)
    return result


def test_start_executions_and_history_by_name(endpoint: LocalEndpoint, sfn: Any, lam: Any) -> None:
    url = endpoint.url
    function = create_function(lam, "def handler(event, context):\n"
                                    "    if event.get('fail'):\n        raise ValueError('x' * 300 + ' END')\n"
                                    "    return {'hello': event['who']}\n")
    name = unique("named")
    create_machine(sfn, {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "OutputPath": "$.Payload",
        "Parameters": {"FunctionName": function, "Payload.$": "$"}, "End": True}}}, name=name)

    started = stepkit("start", name, "--input", '{"who": "you"}', "--name", "run-1", url=url)
    assert json.loads(started.stdout.splitlines()[-1]) == {"hello": "you"}
    assert f"stepkit history {name} run-1" in started.stderr  # what to paste next
    failed = stepkit("start", name, "--input", '{"fail": true}', "--name", "run-2", "--json", url=url, check=1)
    assert json.loads(failed.stdout)["status"] == "FAILED"

    table = stepkit("executions", name, url=url).stdout
    row = next(line for line in table.splitlines() if "run-1" in line)
    assert row.split()[:3] == [name, "run-1", "SUCCEEDED"]  # machine and execution paste into `history`

    history = stepkit("history", name, "run-1", url=url).stdout
    for kind in ("TaskScheduled", "TaskStarted", "TaskSucceeded"):  # the function, not "lambda:invoke"
        assert function in next(line for line in history.splitlines() if kind in line)
    assert '"you"' not in history
    assert '"you"' in stepkit("history", "run-1", "--data", url=url).stdout  # a unique name alone
    whole = stepkit("history", name, "run-2", url=url).stdout
    assert "x" * 300 + " END" in whole.replace("\n", "")  # the whole cause
    assert all(len(line) < 10_000 for line in whole.splitlines())
    assert max(len(line) for line in whole.splitlines()) > 300  # piped: not wrapped at 80 columns

    express = create_machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                             name=unique("express"), type="EXPRESS").rsplit(":", 1)[-1]
    synchronous = json.loads(stepkit("start", express, "--input", '{"n": 1}', "--json", url=url).stdout)
    assert synchronous["status"] == "SUCCEEDED" and json.loads(synchronous["output"]) == {"n": 1}

    missing = stepkit("history", name, "nope", "--json", url=url, check=1)
    assert json.loads(missing.stdout)["error"] == "ExecutionDoesNotExist"
    unknown = stepkit("start", "no-such-machine", "--json", url=url, check=1)
    assert json.loads(unknown.stdout)["error"] == "StateMachineDoesNotExist"


def _function_log_group(logs: Any, prefix: str) -> tuple[str, str]:
    function = unique(prefix)
    logs.create_log_group(logGroupName=f"/aws/lambda/{function}")
    return function, f"/aws/lambda/{function}"


def test_a_stacks_names_stand_for_the_deployed_ones(endpoint: LocalEndpoint, sfn: Any, tmp_path: Path) -> None:
    """In a project, `hello` is the stack's state machine as deployed for the stage
    (deploy/naming.py: <stack>-<stage>-hello), and `greet` its function."""
    from stepkit.templates import create_project

    stack = unique("proj")
    project = tmp_path / "project"
    create_project(project, name=stack)
    create_machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, name=f"{stack}-dev-hello")
    logs = endpoint.client("logs")
    logs.create_log_group(logGroupName=f"/aws/lambda/{stack}-dev-greet")
    _put(logs, f"/aws/lambda/{stack}-dev-greet", "s", [(int(time.time() * 1000), "greeted")])

    url = endpoint.url
    stepkit("start", "hello", "--name", "by-stack-name", url=url, cwd=project)
    table = stepkit("executions", "hello", url=url, cwd=project).stdout
    assert f"{stack}-dev-hello" in table and "by-stack-name" in table
    assert "ExecutionSucceeded" in stepkit("history", "hello", "by-stack-name", url=url, cwd=project).stdout
    assert "greeted" in stepkit("logs", "greet", url=url, cwd=project).stdout
    other = stepkit("executions", "hello", "--stage", "prod", "--json", url=url, cwd=project, check=1)
    assert f"{stack}-prod-hello" in json.loads(other.stdout)["message"]


def test_logs_follow_prints_new_events(endpoint: LocalEndpoint) -> None:
    logs = endpoint.client("logs")
    function, group = _function_log_group(logs, "followed")
    _put(logs, group, "a", [(int(time.time() * 1000), "before")])
    process = subprocess.Popen([str(BIN / "stepkit"), "logs", function, "--follow"], stdout=subprocess.PIPE,
                               env=_env(AWS_ENDPOINT_URL=endpoint.url), text=True)
    guard = threading.Timer(120, process.kill)  # a line that never comes fails the test, never hangs it
    guard.start()
    try:
        assert process.stdout is not None
        assert process.stdout.readline().rstrip().endswith("before")
        _put(logs, group, "b", [(int(time.time() * 1000), "after")])  # a new stream, as a new worker's
        assert process.stdout.readline().rstrip().endswith("b after")
        _put(logs, group, "c", [(int(time.time() * 1000) - 60_000, "late")])  # delivered after a newer event
        assert process.stdout.readline().rstrip().endswith("c late")
    finally:
        guard.cancel()
        process.send_signal(signal.SIGINT)
        assert process.wait(60) in (0, 130)


def _put(logs: Any, group: str, stream: str, events: list[tuple[int, str]]) -> None:
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": t, "message": m} for t, m in events])


def test_logs_show_every_stream_since_and_filtered(endpoint: LocalEndpoint) -> None:
    logs = endpoint.client("logs")
    function, group = _function_log_group(logs, "logged")
    now = int(time.time() * 1000)
    old = now - 2 * 3600 * 1000
    _put(logs, group, "2026/01/01/[$LATEST]first", [(old, "old line"), (now - 2000, "first stream ERROR boom")])
    _put(logs, group, "2026/01/01/[$LATEST]second", [(now - 1000, "second stream line")])  # its eventIds restart

    every = stepkit("logs", function, url=endpoint.url).stdout
    assert "old line" in every and "first stream ERROR boom" in every and "second stream line" in every
    recent = stepkit("logs", function, "--since", "1h", url=endpoint.url).stdout
    assert "old line" not in recent and "second stream line" in recent
    errors = stepkit("logs", function, "--filter", "ERROR", "--json", url=endpoint.url).stdout
    assert [json.loads(line)["message"] for line in errors.splitlines()] == ["first stream ERROR boom"]
    bad = stepkit("logs", function, "--since", "yesterday-ish", url=endpoint.url, check=2)
    assert "--since" in bad.stderr


def test_a_closed_pipe_ends_quietly(endpoint: LocalEndpoint) -> None:
    logs = endpoint.client("logs")
    function, group = _function_log_group(logs, "long")
    now = int(time.time() * 1000)
    _put(logs, group, "s", [(now, f"line {i} " + "y" * 200) for i in range(2000)])
    result = subprocess.run(["bash", "-c", f"'{BIN / 'stepkit'}' logs {function} | head -1; "
                                           "echo \"status=${PIPESTATUS[0]}\""],
                            env=_env(AWS_ENDPOINT_URL=endpoint.url), capture_output=True, text=True, timeout=300)
    assert result.stdout.splitlines()[0].endswith("y" * 200) and "line 0" in result.stdout
    assert result.stdout.splitlines()[-1] == "status=0"
    assert result.stderr == ""


def _aws(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    """`stepkit aws ARGS` with no credentials, region or endpoint in the environment."""
    result = subprocess.run([str(BIN / "stepkit"), "aws", "--endpoint-url", url, *args],
                            env=_env(AWS_PAGER=""), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (args, result.stderr)
    return result


def test_stepkit_aws_passes_through_with_the_endpoint(endpoint: LocalEndpoint, tmp_path: Path, lam: Any) -> None:
    pytest.importorskip("awscli", reason="the aws extra (awscli) is not installed")
    url = endpoint.url
    bucket = unique("awsl")
    _aws("s3", "mb", f"s3://{bucket}", url=url)
    (tmp_path / "f.txt").write_text("hi")
    _aws("s3", "cp", str(tmp_path / "f.txt"), f"s3://{bucket}/f.txt", url=url)
    assert "f.txt" in _aws("s3", "ls", f"s3://{bucket}", url=url).stdout

    queue = json.loads(_aws("sqs", "create-queue", "--queue-name", unique("q"), url=url).stdout)["QueueUrl"]
    assert queue.startswith(url)  # the endpoint's, not SQS's legacy global endpoint
    _aws("sqs", "send-message", "--queue-url", queue, "--message-body", "ping", url=url)
    received = json.loads(_aws("sqs", "receive-message", "--queue-url", queue, url=url).stdout)
    assert [m["Body"] for m in received["Messages"]] == ["ping"]

    function = create_function(lam, "def handler(event, context):\n    print('via aws')\n    return 1\n")
    listed = json.loads(_aws("lambda", "list-functions", url=url).stdout)
    assert function in [f["FunctionName"] for f in listed["Functions"]]
    _aws("lambda", "invoke", "--function-name", function, str(tmp_path / "out.json"), url=url)
    assert (tmp_path / "out.json").read_text() == "1"

    machines = json.loads(_aws("stepfunctions", "list-state-machines", url=url).stdout)
    assert "stateMachines" in machines
    groups = json.loads(_aws("logs", "describe-log-groups", "--log-group-name-prefix", "/aws/lambda/", url=url).stdout)
    assert f"/aws/lambda/{function}" in [g["logGroupName"] for g in groups["logGroups"]]

    via_env = subprocess.run([str(BIN / "stepkit"), "aws", "sqs", "list-queues"], capture_output=True, text=True,
                             env=_env(AWS_ENDPOINT_URL=url, AWS_PAGER=""), timeout=300)
    assert via_env.returncode == 0 and queue in via_env.stdout  # the rule: AWS_ENDPOINT_URL when no option
