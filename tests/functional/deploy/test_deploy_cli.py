"""stepkit plan / deploy / status / destroy through the real CLI, against a moto server
standing in for the target's endpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from stepkit.cli import main

FUNCTIONS = ["pipe-dev-ingest", "pipe-dev-train", "pipe-dev-worker"]


def run(*args: str, expect: int | None = 0):
    result = CliRunner().invoke(main, list(args))
    if expect is not None:
        assert result.exit_code == expect, result.output + repr(result.exception)
    return result


def test_plan_shows_every_resource_and_the_policies_and_changes_nothing(endpoint, pipeline, aws) -> None:
    result = run("plan")
    out = result.stdout
    assert "21 to create" in out
    for name in [*FUNCTIONS, "pipe-dev-training", "pipe-dev-data", "pipe-dev-jobs-dlq", "pipe-dev-training-s3-0"]:
        assert name in out
    assert '"lambda:InvokeFunction"' in out and "function:pipe-dev-train" in out  # the training role's policy
    assert "tok-not-for-logs-4711" not in result.output
    assert aws.inventory()["functions"] == []
    as_json = json.loads(run("plan", "--json").stdout)
    assert as_json["counts"]["create"] == 21 and as_json["stage"] == "dev"
    roles = {a["name"]: a["policy"] for a in as_json["actions"] if a["kind"] == "role"}
    assert set(roles) == {"pipe-dev-ingest-fn", "pipe-dev-train-fn", "pipe-dev-worker-fn", "pipe-dev-training-sm",
                          "pipe-dev-training-events"}


def test_deploy_creates_wires_and_a_second_deploy_changes_nothing(endpoint, pipeline, aws) -> None:
    first = run("deploy")
    assert "deployed" in first.stdout and "21 to create" in first.stdout
    assert "tok-not-for-logs-4711" not in first.output
    found = aws.inventory()
    assert found["functions"] == FUNCTIONS
    assert found["state_machines"] == ["pipe-dev-training"]
    assert found["buckets"] == ["pipe-dev-artifacts", "pipe-dev-data"]
    assert found["queues"] == ["pipe-dev-jobs", "pipe-dev-jobs-dlq"]
    assert found["rules"] == ["pipe-dev-training-s3-0"] and len(found["mappings"]) == 1

    lam = aws("lambda")
    ingest = lam.get_function_configuration(FunctionName="pipe-dev-ingest")
    assert ingest["State"] == "Active"
    env = ingest["Environment"]["Variables"]
    assert env["API_TOKEN"] == "tok-not-for-logs-4711"  # read from the shell at deploy time
    assert env["JOBS_QUEUE_URL"].endswith("/123456789012/pipe-dev-jobs")
    assert env["TRAINING_STATE_MACHINE"] == "arn:aws:states:us-east-1:123456789012:stateMachine:pipe-dev-training"
    assert lam.get_function_configuration(FunctionName="pipe-dev-train")["MemorySize"] == 512

    # S3 prefix -> function: a notification and the permission for S3 to invoke it.
    config = aws("s3").get_bucket_notification_configuration(Bucket="pipe-dev-data")
    (notification,) = config["LambdaFunctionConfigurations"]
    assert notification["LambdaFunctionArn"].endswith(":function:pipe-dev-ingest")
    assert notification["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "uploads/"}]
    policy = json.loads(lam.get_policy(FunctionName="pipe-dev-ingest")["Policy"])
    assert policy["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    # S3 prefix -> state machine through EventBridge, with a role allowed to start only it.
    events = aws("events")
    pattern = json.loads(events.describe_rule(Name="pipe-dev-training-s3-0")["EventPattern"])
    assert pattern["detail"] == {"bucket": {"name": ["pipe-dev-data"]}, "object": {"key": [{"prefix": "training/"}]}}
    (target,) = events.list_targets_by_rule(Rule="pipe-dev-training-s3-0")["Targets"]
    assert target["Arn"].endswith(":stateMachine:pipe-dev-training")
    assert target["RoleArn"].endswith(":role/pipe-dev-training-events")
    # SQS -> function, reporting partial failures; the queue redrives to its dead-letter queue.
    (mapping,) = lam.list_event_source_mappings(FunctionName="pipe-dev-worker")["EventSourceMappings"]
    assert mapping["BatchSize"] == 5 and mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    sqs = aws("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName="pipe-dev-jobs")["QueueUrl"],
                                     AttributeNames=["All"])["Attributes"]
    assert json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"].endswith(":pipe-dev-jobs-dlq")
    # The state machine's definition has its substitutions made.
    definition = aws("stepfunctions").describe_state_machine(
        stateMachineArn="arn:aws:states:us-east-1:123456789012:stateMachine:pipe-dev-training")["definition"]
    assert "arn:aws:lambda:us-east-1:123456789012:function:pipe-dev-train" in definition and "${" not in definition

    record = (pipeline / ".stepkit" / "deployments" / "dev.local.json").read_text()
    assert "tok-not-for-logs-4711" not in record

    again = run("deploy")
    assert "nothing changed" in again.stdout and "21 resources are up to date" in again.stdout
    again_json = json.loads(run("deploy", "--json").stdout)
    assert again_json["changed"] is False and again_json["counts"]["unchanged"] == 21


def test_a_change_is_planned_as_an_update_and_deployed(endpoint, pipeline, aws) -> None:
    run("deploy")
    stack = pipeline / "infra" / "stack.yaml"
    stack.write_text(stack.read_text().replace("memory_size: 512", "memory_size: 1024"))
    (pipeline / "functions" / "worker" / "app.py").write_text("def handler(event, context):\n    return 2\n")
    plan = json.loads(run("plan", "--json").stdout)
    changed = {(a["op"], a["name"]) for a in plan["actions"] if a["op"] != "unchanged"}
    assert changed == {("update", "pipe-dev-train"), ("update", "pipe-dev-worker")}
    train = next(a for a in plan["actions"] if a["name"] == "pipe-dev-train")
    assert train["changes"] == [{"field": "memory_size", "old": 512, "new": 1024}]
    before = aws("lambda").get_function_configuration(FunctionName="pipe-dev-worker")["CodeSha256"]
    result = run("deploy")
    assert "2 to update" in result.stdout and "built bundles: worker" in result.stdout
    lam = aws("lambda")
    assert lam.get_function_configuration(FunctionName="pipe-dev-train")["MemorySize"] == 1024
    assert lam.get_function_configuration(FunctionName="pipe-dev-worker")["CodeSha256"] != before


def test_a_removed_resource_is_deleted_and_nothing_else(endpoint, pipeline, aws) -> None:
    run("deploy")
    aws("sqs").create_queue(QueueName="someone-elses-queue")
    stack = pipeline / "infra" / "stack.yaml"
    text = stack.read_text()
    text = text.replace("      - sqs: {queue: jobs, batch_size: 5}\n", "      []\n").replace(
        "    triggers:\n      []\n", "")
    stack.write_text(text)
    plan = json.loads(run("plan", "--json").stdout)
    # The worker's role loses the queue's receive actions; the mapping goes.
    assert [(a["op"], a["name"]) for a in plan["actions"] if a["op"] != "unchanged"] == [
        ("update", "pipe-dev-worker-fn"), ("delete", "pipe-dev-worker<-pipe-dev-jobs")]
    role = next(a for a in plan["actions"] if a["name"] == "pipe-dev-worker-fn")
    assert "sqs:ReceiveMessage" not in json.dumps(role["policy"])
    run("deploy")
    found = aws.inventory()
    assert found["mappings"] == [] and "someone-elses-queue" in found["queues"]


def test_destroy_deletes_what_the_stack_created_and_nothing_else(endpoint, pipeline, aws) -> None:
    aws("s3").create_bucket(Bucket="not-ours")
    run("deploy")
    aws("s3").put_object(Bucket="pipe-dev-data", Key="training/data.csv", Body=b"x,y\n1,2\n")
    refused = run("destroy", "--yes", expect=2)
    assert "pipe-dev-data still holds objects" in refused.output and "--delete-data" in refused.output
    assert aws.inventory()["functions"] == FUNCTIONS  # nothing was deleted
    assert "destroy would delete" in run("destroy", expect=2).output  # no --yes, no terminal
    run("destroy", "--yes", "--delete-data")
    found = aws.inventory()
    assert found["buckets"] == ["not-ours"]
    assert all(not v for k, v in found.items() if k != "buckets"), found
    assert not (pipeline / ".stepkit" / "deployments" / "dev.local.json").exists()
    assert "nothing to destroy" in run("destroy", "--yes").stdout


def test_status_reports_each_resource_and_a_missing_one(endpoint, pipeline, aws) -> None:
    assert "no deploy of stage dev" in run("status").stdout
    run("deploy")
    rows = json.loads(run("status", "--json").stdout)["resources"]
    states = {r["name"]: r["state"] for r in rows}
    assert states["pipe-dev-train"] == "Active" and states["pipe-dev-training"] == "ACTIVE"
    aws("lambda").delete_function(FunctionName="pipe-dev-train")
    missing = run("status", expect=1)
    assert "missing" in missing.stdout
    plan = json.loads(run("plan", "--json").stdout)
    train = next(a for a in plan["actions"] if a["name"] == "pipe-dev-train")
    assert train["op"] == "create" and "missing on the target" in train["reason"]
    run("deploy")
    assert run("status").exit_code == 0


def test_stages_are_separate_deployments_with_their_overrides(endpoint, pipeline, aws) -> None:
    run("deploy", "--stage", "dev")
    run("deploy", "--stage", "prod")
    lam = aws("lambda")
    assert lam.get_function_configuration(FunctionName="pipe-dev-train")["MemorySize"] == 512
    assert lam.get_function_configuration(FunctionName="pipe-prod-train")["MemorySize"] == 2048
    run("destroy", "--stage", "prod", "--yes")
    assert aws.inventory()["functions"] == FUNCTIONS
    unknown = run("plan", "--stage", "qa", expect=2)
    assert "unknown stage 'qa'; the stack declares: dev, prod" in unknown.output


def test_aws_target_uses_the_boto3_chain_and_aws_shaped_arns(endpoint, pipeline, aws,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # boto3's own setting: the chain, not a stepkit branch
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    result = json.loads(run("deploy", "--target", "aws", "--json").stdout)
    assert result["target"] == "aws" and result["region"] == "eu-west-1" and result["endpoint"] is None
    record = json.loads((pipeline / ".stepkit" / "deployments" / "dev.aws.json").read_text())
    assert record["resources"]["function:train"]["outputs"]["arn"] == \
        "arn:aws:lambda:eu-west-1:123456789012:function:pipe-dev-train"
    wrong_region = run("plan", "--target", "aws", "--region", "us-west-2", expect=2)
    assert "recorded in region eu-west-1" in wrong_region.output
    run("destroy", "--target", "aws", "--yes", "--delete-data")


def test_help_of_every_command() -> None:
    for command in ("deploy", "plan", "destroy", "status", "package", "init"):
        result = run(command, "--help")
        assert "Usage:" in result.stdout


def test_output_names_no_secret_file(endpoint, pipeline: Path) -> None:
    deployments = pipeline / ".stepkit" / "deployments"
    run("deploy")
    for file in deployments.iterdir():
        assert "tok-not-for-logs-4711" not in file.read_text(errors="replace")
