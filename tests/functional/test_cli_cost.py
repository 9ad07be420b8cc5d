"""``stepkit cost`` of a local run: the project's functions in real workers, their measured
durations priced; exit codes 0, 1 and 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ECHO = "def handler(event, context):\n    return event\n"
FLAKY = """import os

def handler(event, context):
    marker = os.path.join(event["dir"], "flaky-ran")
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first call fails")
    return "ok"
"""
FN = "arn:aws:lambda:us-east-1:123456789012:function:"
DEFINITION = {
    "StartAt": "Flaky",
    "States": {
        "Flaky": {"Type": "Task", "Resource": f"{FN}flaky", "ResultPath": None, "Next": "Fan",
                  "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2}]},
        "Fan": {"Type": "Map", "ItemsPath": "$.items", "End": True,
                "ItemProcessor": {"StartAt": "Echo", "States": {"Echo": {
                    "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "echo", "Payload.$": "$"}, "End": True}}}},
    },
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name, code in (("echo", ECHO), ("flaky", FLAKY)):
        (tmp_path / "functions" / name).mkdir(parents=True)
        (tmp_path / "functions" / name / "app.py").write_text(code)
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "stack.yaml").write_text(
        "functions:\n  echo:\n    memory_size: 256\n    architecture: arm64\n  flaky: {}\n")
    (tmp_path / "machine.asl.json").write_text(json.dumps(DEFINITION))
    return tmp_path


def stepkit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stepkit.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_cost_json_prices_the_measured_invocations(project: Path) -> None:
    payload = json.dumps({"dir": str(project), "items": [1, 2, 3]})
    done = stepkit("cost", "machine.asl.json", "--input", payload, "--skip-waits", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["status"] == "SUCCEEDED"
    # Flaky entered once and retried once; Fan once; Echo in each of 3 iterations.
    assert doc["standard"]["transitions"] == 2 + 1 + 3
    rows = {row["name"]: row for row in doc["states"]}
    assert (rows["Flaky"]["retries"], rows["Flaky"]["lambda_requests"]) == (1, 2)
    assert rows["Echo"]["lambda_requests"] == 3
    assert doc["lambda"]["requests"] == 5
    assert doc["lambda"]["billed_ms"] >= 5  # every invocation bills at least 1 ms
    # GB-seconds are the configured memory times the billed time: 256 MB echo, 128 MB flaky.
    assert doc["lambda"]["gb_seconds"] == pytest.approx(sum(r["lambda_gb_seconds"] for r in doc["states"]))
    assert rows["Echo"]["lambda_gb_seconds"] > 0 and rows["Flaky"]["lambda_gb_seconds"] > 0
    assert doc["standard"]["usd"] == pytest.approx(6 * 0.025 / 1000)
    assert doc["express"]["usd"] > 0 and doc["lambda"]["usd"] > 0
    assert doc["express"]["billed_memory_mb"] == 64 and doc["express"]["requests"] == 1
    assert "free_tier" not in doc and doc["prices_checked"]


def test_cost_table_and_free_tier(project: Path) -> None:
    payload = json.dumps({"dir": str(project), "items": []})
    done = stepkit("cost", "machine.asl.json", "--input", payload, "--skip-waits", "--free-tier", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "STANDARD" in done.stdout and "EXPRESS" in done.stdout and "free tier" in done.stdout


def test_a_failed_run_is_priced_and_exits_one(project: Path) -> None:
    (project / "fail.asl.json").write_text(json.dumps({"StartAt": "F", "States": {"F": {"Type": "Fail"}}}))
    done = stepkit("cost", "fail.asl.json", "--json", cwd=project)
    assert done.returncode == 1
    doc = json.loads(done.stdout)
    assert doc["status"] == "FAILED" and doc["standard"]["transitions"] == 1


@pytest.mark.parametrize("args, message", [
    ((), "give a DEFINITION"),
    (("machine.asl.json", "--execution", "arn:aws:states:us-east-1:1:execution:m:e"), "one of them"),
    (("--execution", "nope"), "not an execution ARN"),
    (("machine.asl.json", "--region", "mars-1", "--input", '{"dir": ".", "items": []}'), "no prices for region"),
    (("machine.asl.json", "--input", "{nope"), "invalid JSON"),
])
def test_bad_usage_exits_two_without_a_traceback(project: Path, args: tuple, message: str) -> None:
    done = stepkit("cost", *args, cwd=project)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_help(project: Path) -> None:
    done = stepkit("cost", "--help", cwd=project)
    assert done.returncode == 0 and "--execution" in done.stdout and "--architecture" in done.stdout


WRITER_STACK = """\
name: acct
functions:
  writer:
    timeout: 60
    environment:
      BUCKET: ${DataBucket}
      QUEUE: ${JobsQueueUrl}
buckets:
  data: {}
queues:
  jobs: {}
"""
WRITER = '''\
import os

import boto3

s3 = boto3.client("s3")  # made while the module is imported: its calls count too


def handler(event, context):
    for i in range(3):
        s3.put_object(Bucket=os.environ["BUCKET"], Key=f"part-{i}", Body=b"x")
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=os.environ["QUEUE"], MessageBody="small")
    sqs.send_message(QueueUrl=os.environ["QUEUE"], MessageBody="x" * 70_000)  # two 64 KB chunks
    return "done"
'''
WRITER_DEFINITION = {"StartAt": "Write", "States": {
    "Write": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "ResultPath": None,
              "Parameters": {"FunctionName": "${WriterFunctionArn}", "Payload.$": "$"}, "Next": "Done"},
    "Done": {"Type": "Succeed"}}}


def test_the_s3_and_sqs_requests_the_functions_make_are_priced(tmp_path: Path) -> None:
    """A real worker puts 3 objects and sends 2 messages (one over 64 KB) through the local run's
    endpoint: exactly those requests, on the state that invoked it."""
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "stack.yaml").write_text(WRITER_STACK)
    (tmp_path / "functions" / "writer").mkdir(parents=True)
    (tmp_path / "functions" / "writer" / "app.py").write_text(WRITER)
    (tmp_path / "machine.asl.json").write_text(json.dumps(WRITER_DEFINITION))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # never AWS
    done = subprocess.run([sys.executable, "-m", "stepkit.cli", "cost", "machine.asl.json", "--json"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    own = doc["function_requests"]
    assert (own["s3"]["tier1"], own["s3"]["tier2"], own["s3"]["free"]) == (3, 0, 0)
    assert (own["sqs"]["standard"], own["sqs"]["fifo"]) == (3, 0)
    assert own["calls"] == {"s3": {"PutObject": 3}, "sqs": {"SendMessage": 2}}
    assert own["usd"] == pytest.approx(3 * 0.005 / 1000 + 3 * 0.40 / 1e6)
    assert doc["functions_requests_known"] is True
    rows = {row["name"]: row["function_requests"] for row in doc["states"]}
    assert (rows["Write"]["s3"]["tier1"], rows["Write"]["sqs"]["standard"]) == (3, 3)
    assert rows["Done"]["usd"] == 0.0
    # The definition calls the deployed name (acct-dev-writer), the runtime reports "writer": one function.
    assert [r["lambda_requests"] for r in doc["states"]] == [1, 0] and "unmatched" not in doc["lambda"]
    assert doc["requests"]["usd"] == 0.0  # the Task state's own integration is Lambda's, not S3's
    assert doc["total"]["standard"] == pytest.approx(doc["standard"]["usd"] + doc["lambda"]["usd"] + own["usd"])
    table = subprocess.run([sys.executable, "-m", "stepkit.cli", "cost", "machine.asl.json"],
                           capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert table.returncode == 0, table.stderr
    assert "Functions' own S3 requests: 3 PUT/COPY/POST/LIST, 0 GET and others" in table.stdout
    assert "SQS requests: 3 standard" in table.stdout


def test_a_state_machine_of_the_stack_is_priced_by_name(tmp_path: Path) -> None:
    """`stepkit cost NAME` runs the stack's state machine as `stepkit run NAME` does, and prices
    the definition that ran (a name is not a file to read)."""
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "stack.yaml").write_text(
        WRITER_STACK + "state_machines:\n  write: {definition: statemachines/write.asl.json}\n")
    (tmp_path / "functions" / "writer").mkdir(parents=True)
    (tmp_path / "functions" / "writer" / "app.py").write_text(WRITER)
    (tmp_path / "statemachines").mkdir()
    (tmp_path / "statemachines" / "write.asl.json").write_text(json.dumps(WRITER_DEFINITION))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # never AWS
    done = subprocess.run([sys.executable, "-m", "stepkit.cli", "cost", "write", "--json"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    assert (doc["status"], doc["standard"]["transitions"]) == ("SUCCEEDED", 2)
    assert doc["function_requests"]["calls"] == {"s3": {"PutObject": 3}, "sqs": {"SendMessage": 2}}
    unknown = subprocess.run([sys.executable, "-m", "stepkit.cli", "cost", "nowhere", "--json"],
                             capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    error = json.loads(unknown.stdout)  # --json: the error as JSON on stdout
    assert "nor a state machine of the project's stack (state machines: write)" in error["message"]
