"""The pieces of the LocalStack plugin that need no LocalStack: the helper process and its
protocol, the choice of interpreter, the plugin wheel, the environment and the stop by pid."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stepkit.localstack_plugin import helper, host

HANDLER = """
import json
import sys


def handler(event, context):
    if event.get("fail"):
        raise KeyError(event["fail"])
    try:
        import boto3
        boto = boto3.__name__
    except ImportError:
        boto = None
    try:
        import pydantic  # stepkit's, not Lambda's: only seen on the host's own Python
        extra = pydantic.__name__
    except ImportError:
        extra = None
    return {
        "event": event,
        "python": "%d.%d" % sys.version_info[:2],
        "boto3": boto,
        "pydantic": extra,
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "version": __import__("os").environ["AWS_LAMBDA_FUNCTION_VERSION"],
        "key": __import__("os").environ.get("AWS_ACCESS_KEY_ID"),
    }
"""


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "app.py").write_text(HANDLER)
    return folder


def _spec(code_dir: Path, env_id: str = "env1", runtime: str = "python3.11", **extra: Any) -> dict[str, Any]:
    return {
        "id": env_id,
        "function_name": "fn",
        "handler": "app.handler",
        "runtime": runtime,
        "memory_size": 128,
        "timeout": 3,
        "environment": {"GREETING": "hi"},
        "code_dir": str(code_dir),
        "region": "us-east-1",
        "account": "000000000000",
        "platform_env": {
            "AWS_ACCESS_KEY_ID": "ASIAROLE",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
            "LOCALSTACK_RUNTIME_ID": "not-passed",
        },
        **extra,
    }


class HelperProcess:
    def __init__(self) -> None:
        sdk = Path(helper.__file__).resolve().parents[2]
        env = {**os.environ, "PYTHONPATH": str(sdk)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "stepkit.localstack_plugin.helper"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.seq = 0

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        self.seq += 1
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write((json.dumps({"seq": self.seq, "op": op, **fields}) + "\n").encode())
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        assert answer["seq"] == self.seq
        return answer


@pytest.fixture
def helper_process() -> Iterator[HelperProcess]:
    proc = HelperProcess()
    try:
        yield proc
    finally:
        if proc.process.stdin:
            proc.process.stdin.close()
        proc.process.wait(timeout=30)


def test_helper_runs_an_environment_through_its_protocol(helper_process: HelperProcess, code_dir: Path) -> None:
    spec = _spec(code_dir)
    assert helper_process.call("start", env=spec)["ok"]
    arn = "arn:aws:lambda:us-east-1:000000000000:function:fn:$LATEST"
    answer = helper_process.call("invoke", env=spec, request_id="req-1", arn=arn, payload='{"rows": 1}')
    assert answer["ok"] and answer["error_type"] is None
    body = json.loads(base64.b64decode(answer["payload"]))
    assert body["event"] == {"rows": 1}
    assert (body["request_id"], body["arn"]) == ("req-1", arn)
    assert body["key"] == "ASIAROLE"  # the role's credentials from LocalStack
    assert "START RequestId: req-1" in answer["logs"] and "Init Duration" in answer["logs"]

    failed = helper_process.call("invoke", env=spec, request_id="req-2", arn=arn, payload='{"fail": "x"}')
    assert failed["error_type"] == "KeyError"
    assert json.loads(base64.b64decode(failed["payload"]))["errorMessage"] == "'x'"
    assert "REPORT RequestId: req-2" in helper_process.call("logs", id="env1")["logs"]

    empty = helper_process.call("invoke", env=spec, request_id="req-3", arn=arn, payload="")
    assert json.loads(base64.b64decode(empty["payload"]))["event"] == {}
    assert helper_process.call("stop", id="env1")["ok"]
    assert helper_process.call("nope")["ok"] is False


def test_helper_exits_with_its_workers_when_its_input_closes(helper_process: HelperProcess, code_dir: Path) -> None:
    spec = _spec(code_dir)
    helper_process.call("invoke", env=spec, request_id="r", arn="arn", payload="{}")
    workers = host.descendants(helper_process.process.pid)
    assert workers, "a warm worker after the first invocation"
    assert helper_process.process.stdin is not None
    helper_process.process.stdin.close()
    assert helper_process.process.wait(timeout=30) == 0
    deadline = time.monotonic() + 10
    while any(host.alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(host.alive(p) for p in workers)


def test_a_function_of_another_python_runs_on_that_python_with_only_lambdas_platform(
    code_dir: Path, tmp_path: Path
) -> None:
    other = "python3.12" if sys.version_info[:2] != (3, 12) else "python3.13"
    if helper.interpreter_for(other) is None:
        pytest.skip(f"no {other} on this machine")
    envs = helper.Environments(tmp_path / "cache")
    try:
        # A generous timeout: the first import of boto3 on that Python compiles it.
        answer = envs.invoke(_spec(code_dir, runtime=other, timeout=60), "r1", "arn", b"{}")
        body = json.loads(base64.b64decode(answer["payload"]))
        assert answer["error_type"] is None, body
        assert body["python"] == other.removeprefix("python")
        assert body["boto3"] == "boto3"  # Lambda's runtime provides boto3
        assert body["pydantic"] is None  # stepkit's own packages are not lent to another Python
        same = envs.invoke(_spec(code_dir, env_id="env2"), "r2", "arn", b"{}")
        assert json.loads(base64.b64decode(same["payload"]))["python"] == "{}.{}".format(*sys.version_info[:2])
    finally:
        envs.close()


def test_a_bundle_built_for_the_host_runs_on_the_host_python_with_its_packages(code_dir: Path, tmp_path: Path) -> None:
    # What `stepkit deploy --target localstack` uploads: the code, requirements.txt (which the
    # host satisfies) and the marker; declared python3.12 as for AWS. Even where this machine
    # has a python3.12, it runs here, with the host's packages (pydantic), as stepkit runs it.
    from stepkit.runtime import bundle

    (code_dir / "requirements.txt").write_text("pydantic>=2\n")
    (code_dir / bundle.MARKER).write_text(json.dumps({"platform": "host", "python": bundle.host_tag(), "vendored": []}))
    assert helper.bundle_platform(code_dir)["platform"] == "host"
    other = "python3.12" if sys.version_info[:2] != (3, 12) else "python3.13"
    envs = helper.Environments(tmp_path / "cache")
    try:
        answer = envs.invoke(_spec(code_dir, runtime=other, timeout=60), "r1", "arn", b"{}")
        body = json.loads(base64.b64decode(answer["payload"]))
        assert answer["error_type"] is None, body
        assert body["python"] == "{}.{}".format(*sys.version_info[:2])
        assert (body["boto3"], body["pydantic"]) == ("boto3", "pydantic")
    finally:
        envs.close()
    assert not list((tmp_path / "cache").glob("*/.complete"))  # nothing installed: the host has it all
    (code_dir / bundle.MARKER).write_text("not json")
    assert helper.bundle_platform(code_dir) == {}


def test_platform_variables_and_what_the_function_may_override() -> None:
    platform = {
        "AWS_ACCESS_KEY_ID": "role",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        "LOCALSTACK_RUNTIME_ID": "x",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": 128,
    }
    function_env = {"AWS_ENDPOINT_URL": "http://elsewhere", "AWS_ACCESS_KEY_ID": "mine"}
    assert helper.platform_overrides(platform, function_env) == {"AWS_ACCESS_KEY_ID": "role"}
    assert helper.platform_overrides(platform, {}) == {
        "AWS_ACCESS_KEY_ID": "role",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
    }


def test_a_package_with_vendored_dependencies_is_run_as_it_is(code_dir: Path) -> None:
    (code_dir / "requirements.txt").write_text("surely-not-installable==0\n")
    assert helper.function_config(_spec(code_dir)).deps_dir is None  # would be installed
    (code_dir / "surely_not_installable-0.dist-info").mkdir()
    assert helper.function_config(_spec(code_dir)).deps_dir == code_dir.resolve()
    malformed = helper.function_config(_spec(code_dir, handler="nodot"))
    assert malformed.handler == "nodot"  # left for the worker: Runtime.MalformedHandlerName


def test_the_plugin_wheel_declares_the_executor_and_its_shutdown_hook(tmp_path: Path) -> None:
    wheel = host.build_plugin_wheel(tmp_path, host.plugin_digest())
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.endswith("/entry_points.txt"))
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode()
        record = zf.read(f"{dist_info}/RECORD").decode().splitlines()
        for line in record:
            name, digest, size = line.rsplit(",", 2)
            if digest:
                data = zf.read(name)
                expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                assert (digest, int(size)) == (f"sha256={expected}", len(data))
    assert "stepkit_localstack/executor.py" in names
    assert "[localstack.lambda.runtime_executor]\nstepkit = stepkit_localstack:StepkitRuntimeExecutorPlugin" in (
        entry_points
    )
    assert "[localstack.hooks.on_infra_start]" in entry_points


def test_localstack_environment_binds_loopback_and_names_stepkit(tmp_path: Path) -> None:
    setup = host.Setup(state_dir=tmp_path, venv_dir=tmp_path / "venv")
    env = host.localstack_environment(setup, 4599)
    assert env["GATEWAY_LISTEN"] == "127.0.0.1:4599"
    assert env["GATEWAY_SERVER"] == "hypercorn"
    assert env["LAMBDA_RUNTIME_EXECUTOR"] == "stepkit"
    assert env["STEPKIT_LOCALSTACK_PYTHON"] == sys.executable
    assert env["FILESYSTEM_ROOT"].startswith(str(tmp_path))


def test_start_refuses_a_busy_port_and_a_missing_install(tmp_path: Path) -> None:
    import socket

    setup = host.Setup(state_dir=tmp_path, venv_dir=tmp_path / "venv")
    with pytest.raises(host.LocalStackUnavailable, match="not installed"):
        host.start(setup, host.free_port())
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").symlink_to(sys.executable)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(host.PortInUse, match="in use"):
            host.start(setup, busy.getsockname()[1])


def test_stop_ends_the_process_and_what_it_started(tmp_path: Path) -> None:
    # A stand-in whose command line names LocalStack's module and that starts a child.
    fake = tmp_path / "localstack" / "runtime"
    fake.mkdir(parents=True)
    (tmp_path / "localstack" / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "main.py").write_text(
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-m", "localstack.runtime.main"], cwd=tmp_path)
    deadline = time.monotonic() + 10
    while not host.descendants(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = host.descendants(process.pid)
    pid_file = tmp_path / "ls.json"
    instance = host.Instance(process.pid, 1, "http://127.0.0.1:1", str(tmp_path / "log"), str(pid_file))
    pid_file.write_text("{}")
    stopped = host.stop(instance, timeout=5)
    process.wait(timeout=5)
    assert set(stopped) >= {process.pid, *child}
    assert not any(host.alive(p) for p in stopped)
    assert not pid_file.exists()


S3_HANDLER = """
import boto3


def handler(event, context):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_object(Bucket=event["bucket"], Key="a.txt", Body=b"a")
    s3.put_object(Bucket=event["bucket"], Key="b.txt", Body=b"b")
    return [o["Key"] for o in s3.list_objects_v2(Bucket=event["bucket"])["Contents"]]
"""


def test_the_helpers_logs_carry_the_aws_requests_the_code_made(helper_process: HelperProcess, tmp_path: Path,
                                                              local_aws_env: None) -> None:
    """What LocalStack writes to CloudWatch Logs for an invocation ends with the stepkit line of
    the requests the code sent, as the local endpoint's logs do (``stepkit cost --execution``)."""
    from stepkit.endpoint import LocalEndpoint
    from stepkit.runtime.calls import parse_calls_line

    folder = tmp_path / "s3code"
    folder.mkdir()
    (folder / "app.py").write_text(S3_HANDLER)
    with LocalEndpoint(state_dir=tmp_path / "endpoint") as endpoint:
        endpoint.client("s3").create_bucket(Bucket="calls")
        spec = _spec(folder, env_id="s3env")
        spec["platform_env"] = {**spec["platform_env"], "AWS_ENDPOINT_URL": endpoint.url,
                                "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
        spec["timeout"] = 60
        arn = "arn:aws:lambda:us-east-1:000000000000:function:fn:$LATEST"
        answer = helper_process.call("invoke", env=spec, request_id="req-s3", arn=arn, payload='{"bucket": "calls"}')
        assert answer["ok"] and answer["error_type"] is None, answer
        assert json.loads(base64.b64decode(answer["payload"])) == ["a.txt", "b.txt"]
        lines = [parsed for line in answer["logs"].splitlines() if (parsed := parse_calls_line(line)) is not None]
        assert [line.request_id for line in lines] == ["req-s3"]
        counted = {(c.service, c.operation): c.requests for c in lines[0].calls}
        assert counted == {("s3", "PutObject"): 2, ("s3", "ListObjectsV2"): 1}
        assert helper_process.call("logs", id="s3env")["logs"] == answer["logs"]
        assert helper_process.call("stop", id="s3env")["ok"]
