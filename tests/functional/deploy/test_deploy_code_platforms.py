"""Where the target runs the code decides what deploy uploads: a small zip for stepkit's
runtime on this host, Lambda-platform wheels for AWS, and a zip too big for the request
itself through the stack's deployment bucket. Against a moto server standing in for the
target, as the other tests of this folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from stepkit.cli import main
from stepkit.runtime import bundle as bundle_module

DEPLOY_BUCKET = "pipe-dev-deploy-123456789012"


def run(*args: str, expect: int | None = 0):
    result = CliRunner().invoke(main, list(args))
    if expect is not None:
        assert result.exit_code == expect, result.output + repr(result.exception)
    return result


def _aws_target(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # boto3's own setting: AWS, as far as stepkit knows


def test_the_local_endpoint_gets_host_bundles_and_no_deployment_bucket(endpoint, pipeline: Path, aws) -> None:
    plan = json.loads(run("plan", "--json").stdout)
    assert plan["code_platform"] == "host"
    assert not any(a["kind"] == "deployment_bucket" for a in plan["actions"])
    run("deploy")
    assert (pipeline / ".stepkit" / "build" / "host" / "train.zip").is_file()
    assert not (pipeline / ".stepkit" / "build" / "train.zip").exists()
    assert DEPLOY_BUCKET not in aws.inventory()["buckets"]


def test_switching_the_code_platform_redeploys_the_code_only(endpoint, pipeline: Path, aws,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    run("deploy")
    monkeypatch.setenv("STEPKIT_CODE_PLATFORM", "lambda")
    plan = json.loads(run("plan", "--json").stdout)
    changed = {(a["op"], a["kind"], a["name"]) for a in plan["actions"] if a["op"] != "unchanged"}
    assert changed == {("create", "deployment_bucket", DEPLOY_BUCKET),
                       *{("update", "function", f"pipe-dev-{f}") for f in ("ingest", "train", "worker")}}
    for action in plan["actions"]:
        if action["kind"] == "function":
            assert [c["field"] for c in action["changes"]] == ["code_digest"]


def test_a_zip_over_the_direct_upload_limit_goes_up_through_the_deployment_bucket(
        endpoint, pipeline: Path, aws, monkeypatch: pytest.MonkeyPatch) -> None:
    _aws_target(monkeypatch, endpoint)
    monkeypatch.setattr(bundle_module, "MAX_ZIPPED_BYTES", 1)  # every zip is "too big" to send directly
    plan = json.loads(run("plan", "--target", "aws", "--json").stdout)
    assert plan["code_platform"] == "lambda"
    assert (plan["actions"][0]["kind"], plan["actions"][0]["name"]) == ("deployment_bucket", DEPLOY_BUCKET)

    run("deploy", "--target", "aws")
    s3, lam = aws("s3"), aws("lambda")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=DEPLOY_BUCKET)["Contents"])
    assert [k.rsplit("/", 1)[0] for k in keys] == ["functions/ingest", "functions/train", "functions/worker"]
    uploaded = s3.get_object(Bucket=DEPLOY_BUCKET, Key=next(k for k in keys if "/worker/" in k))["Body"].read()
    assert uploaded == (pipeline / ".stepkit" / "build" / "worker.zip").read_bytes()
    assert lam.get_function_configuration(FunctionName="pipe-dev-worker")["CodeSize"] == len(uploaded)
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=DEPLOY_BUCKET)["TagSet"]}
    assert tags == {"stepkit:stack": "pipe", "stepkit:stage": "dev"}

    # New code: a new zip goes up, the function's older one goes away.
    (pipeline / "functions" / "worker" / "app.py").write_text("def handler(event, context):\n    return 2\n")
    run("deploy", "--target", "aws")
    worker_keys = [o["Key"] for o in s3.list_objects_v2(Bucket=DEPLOY_BUCKET, Prefix="functions/worker/")["Contents"]]
    assert len(worker_keys) == 1 and worker_keys[0] not in keys
    assert "nothing changed" in run("deploy", "--target", "aws").stdout

    # The deployment bucket is deploy's own: destroy empties and deletes it, with or without
    # --delete-data (which is about the stack's data buckets).
    aws("s3").put_object(Bucket="pipe-dev-data", Key="keep.csv", Body=b"x\n")
    refused = run("destroy", "--target", "aws", "--yes", expect=2)
    assert "pipe-dev-data still holds objects" in refused.output and DEPLOY_BUCKET not in refused.output
    run("destroy", "--target", "aws", "--yes", "--delete-data")
    assert DEPLOY_BUCKET not in aws.inventory()["buckets"]


def test_aws_is_warned_about_a_runtime_it_no_longer_creates(endpoint, pipeline: Path, aws,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _aws_target(monkeypatch, endpoint)
    stack = pipeline / "infra" / "stack.yaml"
    stack.write_text(stack.read_text().replace("  worker:\n    runtime: python3.12\n", "  worker:\n"))
    warnings = json.loads(run("plan", "--target", "aws", "--json").stdout)["warnings"]
    assert any("functions.worker: AWS Lambda no longer creates python3.11 functions" in w for w in warnings)
    local = json.loads(run("plan", "--json").stdout)["warnings"]
    # Locally python3.11 is the host's own Python (the python3.12 functions are warned about
    # only on a machine without a Python 3.12).
    assert not [w for w in local if "worker" in w or "no longer creates" in w]
