"""A real worker's environment under a hostile host: the runtime alone keeps none of the
host's AWS configuration; ``host_aws`` (``stepkit invoke``) gives the function the host's
AWS identity, resolved by boto3 in the worker as on the host; ``stepkit run`` sends the
functions to a local endpoint instead."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from stepkit.cli import main
from stepkit.runtime import FunctionConfig, LambdaRuntime

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "functions"


@pytest.fixture
def hostile_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A host whose AWS configuration points elsewhere: a named profile with its own keys in
    its own files, a session token, endpoint URLs and a CA bundle set for other purposes."""
    aws = tmp_path / "aws"
    aws.mkdir()
    (aws / "config").write_text("[profile elsewhere]\nregion = ap-south-1\n")
    (aws / "credentials").write_text("[elsewhere]\naws_access_key_id = AKIAHOSTPROFILE\n"
                                     "aws_secret_access_key = host-profile-secret\n")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_PROFILE", "elsewhere")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(aws / "credentials"))
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://s3.elsewhere.invalid:9000")
    monkeypatch.setenv("AWS_CA_BUNDLE", str(aws / "corp.pem"))
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    monkeypatch.setenv("STEPKIT_TEST_SECRET", "not for functions")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    return aws


@pytest.fixture
def runtimes(hostile_host: Path) -> Iterator[dict[str, LambdaRuntime]]:
    config = FunctionConfig(name="awsenv", code_dir=FIXTURES / "awsenv", environment={"OWN": "mine"})
    endpoint_like = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "test",
                     "AWS_SECRET_ACCESS_KEY": "test"}
    with (
        LambdaRuntime([config], env_overrides=endpoint_like) as isolated,
        LambdaRuntime([config], host_aws=True) as hosted,
    ):
        yield {"isolated": isolated, "hosted": hosted}


def _report(runtime: LambdaRuntime) -> dict:
    result = runtime.invoke("awsenv", b"{}")
    assert result.function_error is None, result.payload
    return json.loads(result.payload)


def test_a_worker_without_host_aws_gets_only_its_own_lambdas_and_the_overrides(
    runtimes: dict[str, LambdaRuntime],
) -> None:
    report = _report(runtimes["isolated"])
    env = report["env"]
    leaked = {"AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "AWS_CA_BUNDLE", "STEPKIT_TEST_SECRET", "HOME"} & set(env)
    assert not leaked
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    assert env["OWN"] == "mine" and env["OPENBLAS_NUM_THREADS"] == "1"
    assert env["AWS_REGION"] == "us-east-1"  # the runtime's, not the host's ap-south-1
    # boto3 in the function: the overrides' endpoint and keys, not the host's profile or S3 URL.
    assert "boto3_error" not in report
    assert report["access_key"] == "test" and report["token"] is None
    assert report["s3_endpoint"] == "http://127.0.0.1:9"


def test_host_aws_gives_the_function_the_hosts_aws_identity(runtimes: dict[str, LambdaRuntime]) -> None:
    report = _report(runtimes["hosted"])
    env = report["env"]
    assert env["AWS_PROFILE"] == "elsewhere" and env["AWS_ENDPOINT_URL_S3"] == "http://s3.elsewhere.invalid:9000"
    assert env["AWS_REGION"] == "us-east-1" and "STEPKIT_TEST_SECRET" not in env
    assert "boto3_error" not in report
    assert report["access_key"] == "AKIAHOSTPROFILE"  # resolved from the host's profile, in the worker
    assert report["s3_endpoint"] == "http://s3.elsewhere.invalid:9000"


@pytest.fixture
def project(hostile_host: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = tmp_path / "project"
    (project / "infra").mkdir(parents=True)
    shutil.copytree(FIXTURES / "awsenv", project / "functions" / "awsenv")
    (project / "infra" / "stack.yaml").write_text("functions:\n  awsenv: {}\n")
    monkeypatch.chdir(project)
    return project


def _assert_hosts_identity(report: dict) -> None:
    assert report["access_key"] == "AKIAHOSTPROFILE" and report["env"]["AWS_PROFILE"] == "elsewhere"
    assert "STEPKIT_TEST_SECRET" not in report["env"]


def test_stepkit_invoke_runs_functions_with_the_hosts_aws_identity(project: Path) -> None:
    result = CliRunner().invoke(main, ["invoke", "awsenv", "--json"])
    assert result.exit_code == 0, result.output
    _assert_hosts_identity(json.loads(result.stdout)["Payload"])


def test_stepkit_run_sends_functions_to_a_local_endpoint_never_the_hosts_aws(project: Path) -> None:
    """``stepkit run`` (issue 14): a function run locally talks to the local endpoint or moto,
    never to AWS by accident: its AWS calls go to an endpoint started for the run, with test
    credentials, whatever profile, keys or endpoint URLs the host has."""
    definition = project / "machine.json"
    definition.write_text(json.dumps({"StartAt": "Report", "States": {"Report": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:awsenv", "End": True}}}))
    result = CliRunner().invoke(main, ["run", str(definition), "--json"])
    assert result.exit_code == 0, result.output
    execution = json.loads(result.stdout)
    assert execution["status"] == "SUCCEEDED", execution
    report = execution["output"]
    assert report["access_key"] == "test" and report["s3_endpoint"].startswith("http://127.0.0.1:")
    assert "AWS_PROFILE" not in report["env"] and "AWS_ENDPOINT_URL_S3" not in report["env"]
    assert "STEPKIT_TEST_SECRET" not in report["env"]
