"""Every way a function can fail gives Lambda's error for that invocation, and the next
invocation is served as if nothing happened."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from stepkit.runtime import FunctionConfig, InvokeResult, LambdaRuntime

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "functions"


def _fault(handler: str, **settings: object) -> FunctionConfig:
    return FunctionConfig(name=handler, code_dir=FIXTURES / "faults", handler=f"app.{handler}", **settings)


@pytest.fixture
def runtime() -> Iterator[LambdaRuntime]:
    configs = [
        _fault("raise_error"), _fault("exit_process"), _fault("sys_exit"), _fault("segfault"),
        _fault("hang", timeout=0.5), _fault("allocate", memory_size=128), _fault("unserialisable"),
        _fault("big_response", memory_size=512), _fault("raw_bytes"), _fault("decimals"), _fault("whoami"),
        FunctionConfig(name="broken_import", code_dir=FIXTURES / "broken_import"),
        FunctionConfig(name="init_fails", code_dir=FIXTURES / "init_fails"),
        FunctionConfig(name="no_handler", code_dir=FIXTURES / "echo", handler="app.missing"),
    ]
    with LambdaRuntime(configs) as rt:
        yield rt


def _error(result: InvokeResult) -> dict:
    assert result.status_code == 200 and result.function_error == "Unhandled"
    error = json.loads(result.payload)
    assert result.error_type == error["errorType"]
    return error


def _report(result: InvokeResult) -> str:
    return result.logs.splitlines()[-1]


def test_handler_exception_is_lambdas_error_payload(runtime: LambdaRuntime) -> None:
    result = runtime.invoke("raise_error", b'{"x": 7}')
    error = _error(result)
    assert error["errorMessage"] == "bad input: 7" and error["errorType"] == "ValueError"
    assert error["requestId"] == result.request_id
    assert len(error["stackTrace"]) == 1  # the runtime's own frames are not shown
    assert error["stackTrace"][0].startswith(f'  File "{FIXTURES / "faults" / "app.py"}", line ')
    expected_log = "about to fail\n[ERROR] ValueError: bad input: 7\nTraceback (most recent call last):\n"
    assert expected_log in result.logs
    assert "Status:" not in _report(result)
    assert runtime.worker_counts("raise_error") == (1, 1)  # an exception does not cost the worker


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        ("exit_process", "Runtime exited with error: exit status 1"),
        ("segfault", "Runtime exited with error: signal: segmentation fault"),
        ("sys_exit", "Runtime exited without providing a reason"),
    ],
)
def test_a_worker_that_dies_is_replaced(runtime: LambdaRuntime, handler: str, reason: str) -> None:
    result = runtime.invoke(handler, b"{}")
    rid = result.request_id
    assert json.loads(result.payload) == {
        "errorType": "Runtime.ExitError", "errorMessage": f"RequestId: {rid} Error: {reason}",
    }
    assert f"RequestId: {rid} Error: {reason}\nRuntime.ExitError\nEND RequestId: {rid}\n" in result.logs
    assert _report(result).endswith("Status: error\tError Type: Runtime.ExitError\t")
    assert runtime.worker_counts(handler) == (0, 0)
    # The same function is served again by a fresh worker.
    assert runtime.invoke(handler, b"{}").error_type == "Runtime.ExitError"


def test_output_before_a_crash_is_kept(runtime: LambdaRuntime) -> None:
    assert "exiting\n" in runtime.invoke("exit_process", b"{}").logs


def test_timeout_stops_the_worker_with_lambdas_error(runtime: LambdaRuntime) -> None:
    result = runtime.invoke("hang", b"{}")
    rid = result.request_id
    assert json.loads(result.payload) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {rid} Error: Task timed out after 0.50 seconds",
    }
    assert "hanging\n" in result.logs
    assert f" {rid} Task timed out after 0.50 seconds\nEND RequestId: {rid}\n" in result.logs
    assert _report(result).endswith("Status: timeout\t")
    assert runtime.worker_counts("hang") == (0, 0)


def test_memory_over_the_limit_is_lambdas_out_of_memory(runtime: LambdaRuntime) -> None:
    result = runtime.invoke("allocate", b'{"mb": 300}')
    rid = result.request_id
    assert json.loads(result.payload) == {
        "errorType": "Runtime.OutOfMemory",
        "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: signal: killed",
    }
    assert "Max Memory Used: 128 MB" in _report(result)
    assert _report(result).endswith("Status: error\tError Type: Runtime.OutOfMemory\t")
    assert json.loads(runtime.invoke("allocate", b'{"mb": 10}').payload) == {"held_mb": 10}


def test_a_leak_across_warm_invocations_ends_in_out_of_memory(runtime: LambdaRuntime) -> None:
    errors = []
    while "Runtime.OutOfMemory" not in errors and len(errors) < 6:
        errors.append(runtime.invoke("allocate", b'{"mb": 30}').error_type)
    assert errors[:2] == [None, None] and errors[-1] == "Runtime.OutOfMemory"  # 128 MB: 3 or 4 calls
    assert runtime.invoke("allocate", b'{"mb": 1}').payload == b'{"held_mb": 1}'  # a new worker


def test_unserialisable_result_is_a_marshal_error(runtime: LambdaRuntime) -> None:
    error = _error(runtime.invoke("unserialisable", b"{}"))
    assert error["errorType"] == "Runtime.MarshalError"
    assert error["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable"
    assert error["stackTrace"] == []


def test_response_over_6_mb_is_refused(runtime: LambdaRuntime) -> None:
    result = runtime.invoke("big_response", b'{"mb": 7}')
    assert json.loads(result.payload) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }
    assert len(runtime.invoke("big_response", b'{"mb": 5}').payload) == (5 << 20) + 2


def test_bytes_and_decimals_are_returned_as_the_python_runtime_does(runtime: LambdaRuntime) -> None:
    assert runtime.invoke("raw_bytes", b"{}").payload == b"not json at all"
    assert json.loads(runtime.invoke("decimals", b"{}").payload) == {"int": 3, "frac": 0.5}


def test_missing_module_is_an_import_error(runtime: LambdaRuntime) -> None:
    result = runtime.invoke("broken_import", b"{}")
    assert _error(result) == {
        "errorMessage": "Unable to import module 'app': No module named 'module_that_is_not_installed'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }
    assert result.logs.startswith("[ERROR] Runtime.ImportModuleError: Unable to import module 'app'")
    assert _report(result).endswith("Status: error\tError Type: Runtime.ImportModuleError\t")
    assert runtime.invoke("broken_import", b"{}").error_type == "Runtime.ImportModuleError"  # init again


def test_missing_handler_is_handler_not_found(runtime: LambdaRuntime) -> None:
    error = _error(runtime.invoke("no_handler", b"{}"))
    assert (error["errorType"], error["errorMessage"]) == (
        "Runtime.HandlerNotFound", "Handler 'missing' missing on module 'app'",
    )


def test_exception_while_importing_is_reported_with_its_own_type(runtime: LambdaRuntime) -> None:
    result = runtime.invoke("init_fails", b"{}")
    error = _error(result)
    assert (error["errorType"], error["errorMessage"]) == ("KeyError", "'MODEL_BUCKET'")
    assert error["stackTrace"][-1].endswith('line 4, in <module>\n    raise KeyError("MODEL_BUCKET")\n')
    assert result.logs.startswith("initialising\n[ERROR] KeyError: 'MODEL_BUCKET'\n")


def test_syntax_error_is_user_code_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context)\n    return event\n")
    with LambdaRuntime([FunctionConfig(name="syntax", code_dir=tmp_path)]) as rt:
        error = _error(rt.invoke("syntax", b"{}"))
    assert error["errorType"] == "Runtime.UserCodeSyntaxError"
    assert error["errorMessage"] == "Syntax error in module 'app': expected ':' (app.py, line 1)"
    source = tmp_path / "app.py"
    assert error["stackTrace"] == [f'  File "{source}" Line 1\n    def handler(event, context)\n']


def test_the_runtime_goes_on_after_every_fault(runtime: LambdaRuntime) -> None:
    for name in ("exit_process", "segfault", "hang", "broken_import", "unserialisable"):
        runtime.invoke(name, b"{}")
    assert runtime.invoke("whoami", b"{}").function_error is None
    assert runtime.invoke("raise_error", b"{}").error_type == "ValueError"
