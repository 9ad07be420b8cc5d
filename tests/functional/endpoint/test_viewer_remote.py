"""``stepkit ui --endpoint-url``: the viewer in its own process, for an endpoint elsewhere."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from endpoint_helpers import create_machine, wait_execution

from stepkit.endpoint import LocalEndpoint


@pytest.fixture
def ui(endpoint: LocalEndpoint, tmp_path: Path) -> Iterator[str]:
    command = [sys.executable, "-m", "stepkit.cli", "ui", "--endpoint-url", endpoint.url, "--port", "0"]
    with (tmp_path / "stderr").open("w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                   env={**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})
    try:
        line = process.stdout.readline() if process.stdout else ""
        match = re.search(r"on (http://127\.0\.0\.1:\d+)/_stepkit/ui/", line)
        assert match, (line, (tmp_path / "stderr").read_text())
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(timeout=60)


def _open(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_remote_viewer_reads_and_acts_through_boto3(ui: str, clients: Any):
    sfn = clients("stepfunctions")
    done = create_machine(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"x": 1}, "End": True}}})
    finished = sfn.start_execution(stateMachineArn=done)["executionArn"]
    assert wait_execution(sfn, finished)["status"] == "SUCCEEDED"

    status, page = _open(ui + "/")  # redirected to the page
    token = re.search(rb'name="stepkit-csrf" content="([^"]+)"', page)
    assert status == 200 and token is not None
    machines = json.loads(_open(ui + "/_stepkit/ui/api/machines")[1])["stateMachines"]
    assert next(m for m in machines if m["stateMachineArn"] == done)["counts"]["SUCCEEDED"] == 1
    data = json.loads(_open(f"{ui}/_stepkit/ui/api/execution?arn={finished}")[1])
    assert data["states"][0]["name"] == "P" and json.loads(data["states"][0]["output"]) == {"x": 1}
    assert [n["name"] for n in data["graph"]["nodes"]] == ["Start", "P", "End"]
    missing = finished.rsplit(":", 1)[0] + ":nope"
    status, body = _open(f"{ui}/_stepkit/ui/api/execution?arn={missing}")
    assert status == 404 and json.loads(body)["code"] == "ExecutionDoesNotExist"
    assert _open(ui + "/elsewhere")[0] == 404

    waiting = create_machine(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}})
    running = sfn.start_execution(stateMachineArn=waiting)["executionArn"]
    body = json.dumps({"arn": running}).encode()
    assert _open(ui + "/_stepkit/ui/api/stop", body)[0] == 403
    status, _ = _open(ui + "/_stepkit/ui/api/stop", body, {"X-Stepkit-Csrf": token.group(1).decode()})
    assert status == 200 and sfn.describe_execution(executionArn=running)["status"] == "ABORTED"
