"""The endpoint from the command line: the ``aws`` CLI against it, and ``stepkit up``,
``stepkit executions``, ``stepkit history`` and ``stepkit logs``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from endpoint_helpers import ROLE, create_function, create_machine, unique, wait_execution

from stepkit.endpoint import LocalEndpoint

BIN = Path(sys.executable).parent


def _aws() -> str:
    found = BIN / "aws"
    if found.exists():
        return str(found)
    path = shutil.which("aws")
    if path is None:
        pytest.skip("the aws CLI is not installed (pip install awscli, or the dev extra)")
    return path


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": url, "AWS_PAGER": "",
            "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


def _run(args: list[str], url: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, env=_env(url), capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}): {result.stderr}")
    return result


def test_aws_cli_drives_step_functions_lambda_and_s3(endpoint: LocalEndpoint, tmp_path: Path) -> None:
    aws = _aws()
    url = endpoint.url
    definition = tmp_path / "machine.json"
    definition.write_text(json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    name = unique("cli")
    created = json.loads(_run([aws, "--endpoint-url", url, "stepfunctions", "create-state-machine", "--name", name,
                               "--definition", f"file://{definition}", "--role-arn", ROLE], url).stdout)
    started = json.loads(_run([aws, "--endpoint-url", url, "stepfunctions", "start-execution",
                               "--state-machine-arn", created["stateMachineArn"], "--input", '{"from": "cli"}'],
                              url).stdout)
    described = json.loads(_run([aws, "stepfunctions", "describe-execution", "--execution-arn",
                                 started["executionArn"]], url).stdout)  # AWS_ENDPOINT_URL alone is enough
    assert described["status"] in ("RUNNING", "SUCCEEDED")
    history = json.loads(_run([aws, "stepfunctions", "get-execution-history", "--execution-arn",
                               started["executionArn"], "--reverse-order"], url).stdout)
    assert history["events"][-1]["type"] == "ExecutionStarted"

    missing = _run([aws, "stepfunctions", "describe-execution", "--execution-arn",
                    started["executionArn"] + "-nope"], url, check=False)
    assert missing.returncode != 0 and "ExecutionDoesNotExist" in missing.stderr

    bucket = unique("cli")
    _run([aws, "s3", "mb", f"s3://{bucket}"], url)
    upload = tmp_path / "data.csv"
    upload.write_text("a,b\n1,2\n")
    _run([aws, "s3", "cp", str(upload), f"s3://{bucket}/incoming/data.csv"], url)
    assert "incoming/data.csv" in _run([aws, "s3", "ls", f"s3://{bucket}", "--recursive"], url).stdout

    code = tmp_path / "fn.zip"
    import zipfile

    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return {'got': event}\n")
    function = unique("clifn")
    _run([aws, "lambda", "create-function", "--function-name", function, "--runtime", "python3.11", "--role", ROLE,
          "--handler", "app.handler", "--zip-file", f"fileb://{code}"], url)
    _run([aws, "lambda", "wait", "function-active-v2", "--function-name", function], url)
    out = tmp_path / "out.json"
    result = json.loads(_run([aws, "lambda", "invoke", "--function-name", function,
                              "--payload", '{"k": 1}', str(out)], url).stdout)
    assert result["StatusCode"] == 200
    assert json.loads(out.read_text()) == {"got": {"k": 1}}


def test_stepkit_executions_history_and_logs(endpoint: LocalEndpoint, sfn: Any, lam: Any) -> None:
    url = endpoint.url
    function = create_function(lam, "def handler(event, context):\n    print('hello from', event['who'])\n"
                                    "    return 'ok'\n")
    name = unique("listed")
    arn = create_machine(sfn, {"StartAt": "L", "States": {"L": {
        "Type": "Task", "Resource": f"arn:aws:lambda:us-east-1:123456789012:function:{function}", "End": True}}},
        name=name)
    execution = sfn.start_execution(stateMachineArn=arn, name="first", input='{"who": "stepkit"}')["executionArn"]
    wait_execution(sfn, execution)
    stepkit = str(BIN / "stepkit")

    listed = json.loads(_run([stepkit, "executions", name, "--json", "--endpoint-url", url], url).stdout)
    assert [(e["name"], e["status"]) for e in listed] == [("first", "SUCCEEDED")]
    table = _run([stepkit, "executions", name, "--endpoint-url", url], url).stdout
    assert "first" in table and "SUCCEEDED" in table

    history = json.loads(_run([stepkit, "history", execution, "--json"], url).stdout)
    assert [e["type"] for e in history][-1] == "ExecutionSucceeded"
    assert "LambdaFunctionSucceeded" in _run([stepkit, "history", execution], url).stdout

    assert "hello from stepkit" in _run([stepkit, "logs", function], url).stdout
    missing = _run([stepkit, "history", execution + "-nope"], url, check=False)
    assert missing.returncode == 1 and "ExecutionDoesNotExist" in missing.stderr
    nobody = _run([stepkit, "executions", "--endpoint-url", "http://127.0.0.1:9"], url, check=False)
    assert nobody.returncode == 2 and "no endpoint answers" in nobody.stderr


def test_stepkit_up_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([str(BIN / "stepkit"), "up", "--port", str(port), "--state-dir",
                                str(tmp_path / "state"), "--json"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert info["url"] == f"http://127.0.0.1:{port}"
        assert info["services"]["stepfunctions"] == "stepkit engine" and info["services"]["s3"] == "moto"
        from endpoint_helpers import make_client

        assert make_client(info["url"], "stepfunctions").list_state_machines()["stateMachines"] == []
        busy = subprocess.run([str(BIN / "stepkit"), "up", "--port", str(port), "--state-dir",
                               str(tmp_path / "other")], capture_output=True, text=True, timeout=60)
        assert busy.returncode != 0 and "in use" in busy.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    assert (tmp_path / "state" / "stepkit.db").exists()
