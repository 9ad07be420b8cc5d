"""Pieces of the worker that need no process: marshalling, error payloads, logs, context."""

import decimal
import io
import sys
import time

import pytest

from stepkit.runtime.worker import context, faults, logsink


def test_marshal_matches_the_lambda_runtime() -> None:
    assert faults.marshal({"a": [1, "é"]}) == b'{"a": [1, "\\u00e9"]}'
    assert faults.marshal({"n": decimal.Decimal("3"), "f": decimal.Decimal("0.5")}) == b'{"n": 3, "f": 0.5}'
    assert faults.marshal(b"raw") == b"raw"
    with pytest.raises(faults.Fault) as caught:
        faults.marshal({"s": {1}})
    assert caught.value.error_type == "Runtime.MarshalError"
    assert caught.value.message == "Unable to marshal response: Object of type set is not JSON serializable"


def test_error_payload_of_an_exception() -> None:
    def handler() -> None:
        raise ValueError("boom")

    try:
        handler()
    except ValueError as exc:
        error = faults.error_from_exception(exc, exc.__traceback__, "rid")
    assert list(error) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert (error["errorMessage"], error["errorType"], error["requestId"]) == ("boom", "ValueError", "rid")
    assert error["stackTrace"][-1].endswith('in handler\n    raise ValueError("boom")\n')


def test_error_log_is_indented_with_no_break_spaces(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    trace = ['  File "app.py", line 2, in handler\n    raise x\n']
    error = faults.make_error("boom", "ValueError", trace, "r")
    logsink.log_error(error, logsink.StandardLogSink())
    assert out.getvalue() == (
        "[ERROR] ValueError: boom\nTraceback (most recent call last):\n"
        '\u00a0\u00a0File "app.py", line 2, in handler\n\u00a0\u00a0\u00a0\u00a0raise x\n'
    )


def test_context_reads_lambdas_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "train")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    deadline = int(time.time() * 1000) + 60_000
    ctx = context.LambdaContext("rid", deadline, "arn:aws:lambda:us-east-1:123456789012:function:train")
    assert (ctx.function_name, ctx.memory_limit_in_mb, ctx.function_version) == ("train", "512", "$LATEST")
    assert ctx.aws_request_id == "rid" and ctx.identity.cognito_identity_id is None
    assert 0 < ctx.get_remaining_time_in_millis() <= 60_000
    past = context.LambdaContext("rid", 0, "arn")
    assert past.get_remaining_time_in_millis() == 0
    assert "aws_request_id=rid" in repr(ctx)
