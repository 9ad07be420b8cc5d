"""Each kind of bad input gets one clear message naming what to fix, and nothing on the
target is touched (checked against the moto server's inventory)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from stepkit.cli import main


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def _edit(root: Path, old: str, new: str, file: str = "infra/stack.yaml") -> None:
    path = root / file
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def _untouched(aws) -> None:
    assert all(not v for v in aws.inventory().values())


def test_an_invalid_stack_file_names_file_line_and_field(endpoint, pipeline, aws) -> None:
    _edit(pipeline, "    memory_size: 512\n", "    memory_size: lots\n")
    result = invoke("deploy")
    assert result.exit_code == 2
    assert "infra/stack.yaml:24: functions.train.memory_size: Input should be a valid integer" in result.output
    _untouched(aws)


def test_a_substitution_that_names_nothing_is_located_in_the_definition(endpoint, pipeline, aws) -> None:
    _edit(pipeline, "${TrainFunctionArn}", "${TrainFunctonArn}", "statemachines/training.asl.json")
    result = invoke("deploy")
    assert result.exit_code == 2
    assert "statemachines/training.asl.json:9: ${TrainFunctonArn} names nothing in the stack; " \
           "did you mean ${TrainFunctionArn}?" in result.output
    _untouched(aws)
    as_json = json.loads(invoke("plan", "--json").stdout)
    assert as_json["error"] == "InvalidInput" and "TrainFunctonArn" in as_json["messages"][0]


def test_a_trigger_pointing_at_an_undeclared_resource(endpoint, pipeline, aws) -> None:
    _edit(pipeline, "- s3: {bucket: data, prefix: training/}", "- s3: {bucket: dataset, prefix: training/}")
    _edit(pipeline, "- sqs: {queue: jobs, batch_size: 5}", "- sqs: {queue: job, batch_size: 5}")
    result = invoke("deploy")
    assert result.exit_code == 2
    assert "functions.worker.triggers.0.sqs.queue: queue 'job' is not declared under `queues:` " \
           "(declared: jobs)" in result.output
    assert "state_machines.training.triggers.0.s3.bucket: bucket 'dataset' is not declared under `buckets:` " \
           "(declared: artifacts, data)" in result.output
    _untouched(aws)


def test_missing_credentials_for_aws(endpoint, pipeline, aws, monkeypatch: pytest.MonkeyPatch,
                                     tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    result = invoke("deploy", "--target", "aws")
    assert result.exit_code == 2
    assert "no AWS credentials found for --target aws" in result.output and "--profile" in result.output
    unknown_profile = invoke("deploy", "--target", "aws", "--profile", "nope")
    assert unknown_profile.exit_code == 2 and "nope" in unknown_profile.output
    _untouched(aws)


def test_an_unreachable_endpoint(endpoint, pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPKIT_ENDPOINT_URL", "http://127.0.0.1:9")
    result = invoke("deploy")
    assert result.exit_code == 2
    assert "cannot reach the local endpoint at http://127.0.0.1:9: start it with `stepkit up`" in result.output
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    assert "cannot reach LocalStack at http://127.0.0.1:9" in invoke("plan", "--target", "localstack").output


def test_one_endpoint_rule_for_deploy(endpoint, pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    """--endpoint-url, then AWS_ENDPOINT_URL, then STEPKIT_ENDPOINT_URL: `stepkit up --port 4599` with
    AWS_ENDPOINT_URL pointing at it is where `stepkit deploy` goes."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # STEPKIT_ENDPOINT_URL: the working one
    result = invoke("plan", "--json")
    assert result.exit_code == 2 and "http://127.0.0.1:9" in json.loads(result.stdout)["message"]
    assert invoke("plan", "--endpoint-url", endpoint).exit_code == 0


def test_stack_problems_are_reported_before_the_endpoint_is_needed(endpoint, pipeline,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPKIT_ENDPOINT_URL", "http://127.0.0.1:9")
    _edit(pipeline, "${ArtifactsBucket}\"}", "${ArtifactBucket}\"}", "statemachines/training.asl.json")
    result = invoke("plan")
    assert result.exit_code == 2 and "${ArtifactBucket} names nothing" in result.output


def test_an_unset_secret_a_secret_file_and_an_invalid_definition(endpoint, pipeline, aws,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIPE_API_TOKEN")
    (pipeline / "functions" / "train" / ".env").write_text("API_TOKEN=abc\n")
    _edit(pipeline, '"End": true', '"Next": "Nowhere"', "statemachines/training.asl.json")
    result = invoke("deploy")
    assert result.exit_code == 2
    assert "${env:PIPE_API_TOKEN} reads the environment variable PIPE_API_TOKEN, which is not set" in result.output
    assert "functions/train/.env: looks like a secret and would be uploaded in the bundle" in result.output
    assert "statemachines/training.asl.json: invalid definition: MISSING_TRANSITION_TARGET" in result.output
    assert "Missing 'Next' target: Nowhere" in result.output
    _untouched(aws)


def test_a_resource_of_the_same_name_not_created_by_the_stack(endpoint, pipeline, aws) -> None:
    aws("sqs").create_queue(QueueName="pipe-dev-jobs")
    result = invoke("deploy")
    assert result.exit_code == 2
    assert "queue pipe-dev-jobs already exists on the target and was not created by this stack" in result.output
    assert aws.inventory()["queues"] == ["pipe-dev-jobs"]  # nothing else was created, it was not touched


def test_a_queue_shorter_than_its_function_and_overlapping_prefixes(endpoint, pipeline, aws) -> None:
    _edit(pipeline, "visibility_timeout: 120", "visibility_timeout: 10")
    _edit(pipeline, "  train:\n    runtime: python3.12\n    memory_size: 512\n",
          "  train:\n    triggers:\n      - s3: {bucket: data, prefix: uploads/csv/}\n"
          "    runtime: python3.12\n    memory_size: 512\n")
    result = invoke("plan")
    assert result.exit_code == 2
    assert "queue 'jobs' has a visibility_timeout of 10s, shorter than the function's timeout of 20s" in result.output
    assert "prefix 'uploads/csv/' overlaps the trigger of ingest" in result.output


def test_no_stack_file(endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("plan")
    assert result.exit_code == 2 and "no infra/stack.yaml found" in result.output and "stepkit init" in result.output
