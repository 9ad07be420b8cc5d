"""Invoking real worker processes: payloads, context, environment, logs, warm reuse, the API's
own errors and the life cycle of the runtime."""

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from stepkit.runtime import (
    FunctionConfig,
    FunctionNotFound,
    InvalidParameterValue,
    InvalidRequestContent,
    LambdaRuntime,
    RequestTooLarge,
    RuntimeClosed,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "functions"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:echo"


@pytest.fixture
def runtime() -> Iterator[LambdaRuntime]:
    echo = FunctionConfig(name="echo", code_dir=FIXTURES / "echo", memory_size=256,
                          environment={"GREETING": "hello"})
    with LambdaRuntime([echo], env_overrides={"GREETING": "overridden"}) as rt:
        yield rt


def _body(result) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(result.payload)


def test_handler_gets_event_context_and_lambda_environment(runtime: LambdaRuntime) -> None:
    result = runtime.invoke("echo", b'{"rows": 3}')
    assert (result.status_code, result.function_error, result.executed_version) == (200, None, "$LATEST")
    body = _body(result)
    assert body["event"] == {"rows": 3}
    ctx = body["context"]
    assert ctx["function_name"] == "echo" and ctx["memory_limit_in_mb"] == "256"
    assert ctx["aws_request_id"] == result.request_id and ctx["invoked_function_arn"] == ARN
    assert ctx["log_group_name"] == "/aws/lambda/echo" and "[$LATEST]" in ctx["log_stream_name"]
    assert 0 < ctx["remaining_ms"] <= 3000
    env = body["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "echo" and env["AWS_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11" and env["_HANDLER"] == "app.handler"
    assert env["LAMBDA_TASK_ROOT"] == str(FIXTURES / "echo") and env["TZ"] == ":UTC"
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert env["GREETING"] == "overridden"  # the runtime's overrides win over the function's own
    assert body["sys_path_head"][0] == str(FIXTURES / "echo")
    assert body["runtime_modules_leaked"] == []  # neither stepkit nor its pydantic in the function


def test_warm_worker_is_reused_and_only_the_cold_start_reports_init(runtime: LambdaRuntime) -> None:
    first = runtime.invoke("echo", b"{}")
    second = runtime.invoke("echo", b"{}")
    assert _body(first)["cold"] and not _body(second)["cold"]
    assert _body(first)["pid"] == _body(second)["pid"]
    assert first.init_duration_ms is not None and second.init_duration_ms is None
    assert "Init Duration:" in first.logs and "Init Duration:" not in second.logs
    assert runtime.worker_counts("echo") == (1, 1)


def test_log_has_start_output_end_and_report(runtime: LambdaRuntime) -> None:
    result = runtime.invoke("echo", b'{"a": 1}', log_type="Tail")
    rid = result.request_id
    lines = result.logs.splitlines()
    assert lines[0] == f"START RequestId: {rid} Version: $LATEST"
    assert lines[1] == "echo {'a': 1}"
    assert lines[2].startswith("[WARNING]\t") and lines[2].endswith(f"Z\t{rid}\twarned")
    assert "not shown" not in result.logs  # the root logger stays at WARNING, as in Lambda
    assert lines[3] == f"END RequestId: {rid}"
    assert lines[4].startswith(f"REPORT RequestId: {rid}\tDuration: ")
    assert "\tMemory Size: 256 MB\tMax Memory Used: " in lines[4]
    assert base64.b64decode(result.log_result or "").decode() == result.logs
    assert runtime.invoke("echo", b"{}").log_result is None


def test_no_payload_is_an_empty_event(runtime: LambdaRuntime) -> None:
    assert _body(runtime.invoke("echo"))["event"] == {}


def test_every_form_of_the_function_name(runtime: LambdaRuntime) -> None:
    for ref in ("echo", "echo:$LATEST", "123456789012:function:echo", ARN):
        assert runtime.invoke(ref, b"{}").status_code == 200
    assert runtime.invoke("echo", b"{}", qualifier="$LATEST").status_code == 200


def test_unknown_function_is_lambdas_resource_not_found(runtime: LambdaRuntime) -> None:
    with pytest.raises(FunctionNotFound) as caught:
        runtime.invoke("nope", b"{}")
    assert str(caught.value) == "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope"
    assert caught.value.error_code == "ResourceNotFoundException" and caught.value.status_code == 404
    with pytest.raises(FunctionNotFound, match="function:echo:7"):
        runtime.invoke("echo", b"{}", qualifier="7")


def test_bad_requests_are_refused_before_any_worker_runs(runtime: LambdaRuntime) -> None:
    with pytest.raises(InvalidRequestContent, match="Could not parse request body into json"):
        runtime.invoke("echo", b"{not json")
    with pytest.raises(RequestTooLarge, match="Request must be smaller than 6291456 bytes"):
        runtime.invoke("echo", b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    with pytest.raises(RequestTooLarge, match="Request must be smaller than 262144 bytes"):
        runtime.invoke("echo", b'"' + b"x" * (256 * 1024) + b'"', invocation_type="Event")
    with pytest.raises(InvalidParameterValue, match="invocationType"):
        runtime.invoke("echo", b"{}", invocation_type="Sometimes")
    with pytest.raises(InvalidParameterValue, match="logType"):
        runtime.invoke("echo", b"{}", log_type="All")
    assert runtime.worker_counts("echo") == (0, 0)


def test_dry_run_checks_without_running(runtime: LambdaRuntime) -> None:
    result = runtime.invoke("echo", b"{}", invocation_type="DryRun")
    assert (result.status_code, result.payload) == (204, b"")
    assert runtime.worker_counts("echo") == (0, 0)


def test_functions_can_be_added_replaced_and_removed(runtime: LambdaRuntime) -> None:
    pid = _body(runtime.invoke("echo", b"{}"))["pid"]
    runtime.add_function(FunctionConfig(name="echo2", code_dir=FIXTURES / "echo", handler="app.direct"))
    assert runtime.function_names() == ["echo", "echo2"]
    assert runtime.invoke("echo2", b"[1, 2]").payload == b"[1, 2]"
    runtime.add_function(FunctionConfig(name="echo", code_dir=FIXTURES / "echo", memory_size=512))
    assert not _alive(pid)  # replacing a function stops its old workers
    assert _body(runtime.invoke("echo", b"{}"))["context"]["memory_limit_in_mb"] == "512"
    runtime.remove_function("echo2")
    assert runtime.function_names() == ["echo"]
    with pytest.raises(FunctionNotFound):
        runtime.invoke("echo2", b"{}")
    with pytest.raises(FunctionNotFound):
        runtime.remove_function("echo2")


def test_close_stops_every_worker() -> None:
    rt = LambdaRuntime([FunctionConfig(name="echo", code_dir=FIXTURES / "echo")])
    pid = _body(rt.invoke("echo", b"{}"))["pid"]
    rt.close()
    assert not _alive(pid)
    with pytest.raises(RuntimeClosed):
        rt.invoke("echo", b"{}")


def test_from_stack_reads_the_project(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "functions").mkdir()
    os.symlink(FIXTURES / "echo", tmp_path / "functions" / "echo")
    (tmp_path / "infra" / "stack.yaml").write_text(
        "functions:\n  echo:\n    memory_size: 1024\n    environment: {GREETING: from-stack}\n"
    )
    with LambdaRuntime.from_stack(tmp_path / "infra" / "stack.yaml", region="eu-west-1") as rt:
        body = _body(rt.invoke("echo", b"{}"))
    assert body["context"]["memory_limit_in_mb"] == "1024"
    assert body["env"]["GREETING"] == "from-stack" and body["env"]["AWS_REGION"] == "eu-west-1"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
