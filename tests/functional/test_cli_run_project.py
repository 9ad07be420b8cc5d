"""``stepkit run NAME`` on a project: the stack's names and environment, ``--env-vars``, the
functions' AWS calls on a local endpoint (never AWS), and inputs that are not JSON."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

STACK = """\
name: shop
functions:
  store:
    timeout: 30
    environment:
      BUCKET: ${DataBucket}
      GREETING: hello
state_machines:
  save:
    definition: statemachines/save.asl.json
buckets:
  data: {}
"""

FUNCTION = '''\
import os

import boto3


def handler(event, context):
    s3 = boto3.client("s3")
    s3.put_object(Bucket=os.environ["BUCKET"], Key=event["key"], Body=os.environ["GREETING"].encode())
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=os.environ["BUCKET"])["Contents"]]
    return {"bucket": os.environ["BUCKET"], "keys": keys, "greeting": os.environ["GREETING"],
            "endpoint": os.environ["AWS_ENDPOINT_URL"]}
'''

DEFINITION = {
    "StartAt": "Store",
    "States": {"Store": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                         "Parameters": {"FunctionName": "${StoreFunctionArn}", "Payload.$": "$"},
                         "OutputPath": "$.Payload", "End": True}},
}


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    (root / "infra").mkdir(parents=True)
    (root / "infra" / "stack.yaml").write_text(STACK)
    (root / "functions" / "store").mkdir(parents=True)
    (root / "functions" / "store" / "app.py").write_text(FUNCTION)
    (root / "statemachines").mkdir()
    (root / "statemachines" / "save.asl.json").write_text(json.dumps(DEFINITION))
    return root


def stepkit(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # No credentials, no endpoint, no profile: a call that went to AWS would fail with
    # NoCredentialsError.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run([sys.executable, "-m", "stepkit.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300, check=False)


def test_run_by_name_uses_the_stacks_names_and_a_local_endpoint(shop: Path):
    done = stepkit("run", "save", "--input", '{"key": "a.txt"}', "--json", cwd=shop)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert ":execution:shop-dev-save:" in result["executionArn"]
    output = result["output"]
    assert output["bucket"] == "shop-dev-data" and output["keys"] == ["a.txt"] and output["greeting"] == "hello"
    assert output["endpoint"].startswith("http://127.0.0.1:")


def test_env_vars_file_as_sams(shop: Path):
    (shop / "env.json").write_text(json.dumps({"Parameters": {"GREETING": "hi"}, "store": {"GREETING": "hey"}}))
    done = stepkit("run", "save", "--input", '{"key": "b"}', "--env-vars", "env.json", "--json", cwd=shop)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"]["greeting"] == "hey"
    (shop / "env.json").write_text(json.dumps({"stor": {"GREETING": "hey"}}))
    done = stepkit("run", "save", "--env-vars", "env.json", cwd=shop)
    assert done.returncode == 2 and "stor is not a function of the stack (functions: store)" in done.stderr


def test_a_definition_file_gets_the_stacks_values_and_subs(shop: Path):
    (shop / "other.asl.json").write_text(json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "${DataBucket} ${Mine}", "End": True}}}))
    done = stepkit("run", "other.asl.json", "--sub", "Mine=x", "--json", cwd=shop)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"] == "shop-dev-data x"
    done = stepkit("run", "other.asl.json", cwd=shop)
    assert done.returncode == 2 and "${Mine}" in done.stderr and "Traceback" not in done.stderr


def test_neither_a_file_nor_a_state_machine(shop: Path):
    done = stepkit("run", "sav", cwd=shop)
    assert done.returncode == 2
    assert "sav: no such file, nor a state machine of the project's stack (state machines: save)" in done.stderr


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x00\x01binary\xff", "is a binary file, not JSON text"),
        (b'{"key": "\xff"}', "is not UTF-8 text"),
        (b"[" * 10_000 + b"]" * 10_000, "nested too deeply"),
    ],
)
def test_unreadable_input_and_definition_exit_two_in_one_line(tmp_path: Path, content: bytes, reason: str):
    (tmp_path / "bad").write_bytes(content)
    (tmp_path / "pass.asl.json").write_text('{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}')
    for args in (["pass.asl.json", "--input", "@bad"], ["pass.asl.json", "--input", "file://bad"]):
        done = stepkit("run", *args, cwd=tmp_path)
        assert done.returncode == 2 and reason in done.stderr and "Traceback" not in done.stderr
    # As a definition: bytes that are not text cannot be read (2); text that is not a valid
    # definition, too deep included, is an invalid definition (1).
    done = stepkit("run", "bad", cwd=tmp_path)
    assert done.returncode == (1 if "deep" in reason else 2), done.stderr
    assert reason in done.stderr and "Traceback" not in done.stderr


def test_a_json_string_is_an_input_and_file_url_works(tmp_path: Path):
    (tmp_path / "pass.asl.json").write_text('{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}')
    done = stepkit("run", "pass.asl.json", "--input", '"just text"', "--json", cwd=tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout)["output"] == "just text"
    (tmp_path / "in.json").write_text('{"a": [1]}')
    done = stepkit("run", "pass.asl.json", "--input", "file://in.json", "--json", cwd=tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout)["output"] == {"a": [1]}


def test_functions_use_the_endpoint_given(shop: Path):
    from stepkit.endpoint import LocalEndpoint

    with LocalEndpoint() as endpoint:
        s3 = endpoint.client("s3")
        s3.create_bucket(Bucket="shop-dev-data")  # as a deploy to that endpoint would have
        done = stepkit("run", "save", "--input", '{"key": "given.txt"}', "--endpoint-url", endpoint.url, "--json",
                       cwd=shop)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["output"]["endpoint"] == endpoint.url
        assert s3.get_object(Bucket="shop-dev-data", Key="given.txt")["Body"].read() == b"hello"
        env_given = subprocess.run(
            [sys.executable, "-m", "stepkit.cli", "run", "save", "--input", '{"key": "env.txt"}', "--json"],
            cwd=shop, capture_output=True, text=True, timeout=300, check=False,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, "AWS_ENDPOINT_URL": endpoint.url})
        assert env_given.returncode == 0, env_given.stderr
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="shop-dev-data")["Contents"]] == ["env.txt", "given.txt"]
        s3.delete_object(Bucket="shop-dev-data", Key="given.txt")
        s3.delete_object(Bucket="shop-dev-data", Key="env.txt")
        s3.delete_bucket(Bucket="shop-dev-data")
