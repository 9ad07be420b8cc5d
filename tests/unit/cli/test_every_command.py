"""Every command: --help works, and with --json an error is a JSON document on stdout with
the README's exit code (1 or 2), never a traceback or a usage banner."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from stepkit.cli import COMMAND_MODULES, main
from stepkit.cli.common import console, endpoint_url

NOBODY = "http://127.0.0.1:9"
#: For each command, arguments that make it fail (no endpoint answers, a missing file...).
FAILING: dict[str, list[str]] = {
    "build": ["--stack", "{tmp}/missing.yaml"],
    "compile": ["missing_module:flow"],
    "cost": ["--execution", "arn:aws:states:us-east-1:123456789012:execution:m:e", "--endpoint-url", NOBODY],
    "decompile": ["{tmp}/missing.asl.json"],
    "demo": ["--project", "{tmp}/missing"],
    "deploy": ["--stack", "{tmp}/missing.yaml"],
    "destroy": ["--stack", "{tmp}/missing.yaml", "--yes"],
    "executions": ["--endpoint-url", NOBODY],
    "graph": ["{tmp}/missing.asl.json"],
    "history": ["m", "e", "--endpoint-url", NOBODY],
    "init": ["{tmp}/a-file"],
    "invoke": ["nope", "--event", "{{not json"],
    "logs": ["fn", "--endpoint-url", NOBODY],
    "package": ["--stack", "{tmp}/missing.yaml"],
    "plan": ["--stack", "{tmp}/missing.yaml"],
    "run": ["{tmp}/missing.asl.json"],
    "serving": ["status", "--url", NOBODY],
    "simulate": ["{tmp}/missing.asl.json"],
    "start": ["m", "--endpoint-url", NOBODY],
    "status": ["--stack", "{tmp}/missing.yaml"],
    "ui": ["--endpoint-url", NOBODY],
    "up": ["--port", "{busy}", "--state-dir", "{tmp}/state"],
    "validate": ["{tmp}/missing.asl.json"],
}
#: `stepkit aws ARGS` hands ARGS (--json included) to the aws CLI, whose --output json is its own.
PASS_THROUGH = {"aws"}


@pytest.mark.parametrize("name", sorted(COMMAND_MODULES))
def test_every_command_has_help(name: str) -> None:
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert f" {name} [OPTIONS]" in result.stdout.splitlines()[0]


def test_every_command_but_the_pass_through_has_a_failing_case() -> None:
    assert set(FAILING) | PASS_THROUGH == set(COMMAND_MODULES)


@pytest.mark.parametrize("name", sorted(FAILING))
def test_json_errors_are_a_document_on_stdout(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("AWS_ENDPOINT_URL", "STEPKIT_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "a-file").write_text("not a folder")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        args = [a.format(tmp=tmp_path, busy=busy.getsockname()[1]) for a in FAILING[name]]
        result = CliRunner().invoke(main, [name, *args, "--json"])
    assert result.exit_code in (1, 2), result.output
    document = json.loads(result.stdout)
    assert document["error"] and document["message"], document
    assert "Traceback" not in result.output and "Usage:" not in result.output


def test_the_endpoint_rule_is_one_order() -> None:
    env = {"AWS_ENDPOINT_URL": "http://a", "STEPKIT_ENDPOINT_URL": "http://s"}
    assert endpoint_url("http://o", env) == "http://o"
    assert endpoint_url(None, env) == "http://a"
    assert endpoint_url(None, {"STEPKIT_ENDPOINT_URL": "http://s"}) == "http://s"
    assert endpoint_url(None, {}) == "http://127.0.0.1:4566"


def test_deploy_targets_follow_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    from stepkit.cli.deploy_cmd import target_environ

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4599")
    monkeypatch.setenv("STEPKIT_ENDPOINT_URL", "http://127.0.0.1:4566")
    assert target_environ("local", None)["STEPKIT_ENDPOINT_URL"] == "http://127.0.0.1:4599"
    assert target_environ("local", "http://127.0.0.1:1")["STEPKIT_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert target_environ("localstack", None)["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4599"


def test_consoles_do_not_wrap_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert console().width >= 10_000 and not console().is_terminal
    monkeypatch.setenv("COLUMNS", "50")
    assert console().width == 50


def test_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sklearn" else real(name, *a))
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 2
    assert result.stderr.strip() == ("Error: this command needs the 'ml' extra (sklearn is missing): "
                                     "pip install 'stepkit[ml]'")


def test_aws_errors_no_command_handled_are_one_line() -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError

    from stepkit.cli.common import aws_error

    refused = aws_error(ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetObject"))
    assert refused is not None and (refused.kind, refused.message, refused.exit_code) == (
        "AccessDenied", "AccessDenied: no", 1)
    unreachable = aws_error(EndpointConnectionError(endpoint_url="http://127.0.0.1:9"))
    assert unreachable is not None and unreachable.exit_code == 2 and "127.0.0.1:9" in unreachable.message
    assert aws_error(ValueError("a bug")) is None  # shows as what it is
