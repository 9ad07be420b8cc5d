"""The repository's ML pipeline as a user runs it: deployed with ``stepkit deploy --target
local`` to a local endpoint, started by uploads, destroyed with ``stepkit destroy``.

The test of issues 5 and 7 together: the stack in ``infra/stack.yaml``, the functions in
``functions/`` and the definitions in ``statemachines/`` exactly as they are in the
repository (copied to a temporary project, so this test's deploy record never mixes with a
developer's own in the checkout's ``.stepkit/``), on a ``LocalEndpoint`` that serves Step
Functions with the stepkit engine, Lambda with the stepkit runtime and S3/EventBridge with
moto, all on loopback:

1. ``stepkit deploy`` through the CLI (``STEPKIT_ENDPOINT_URL`` points at the endpoint);
2. a dataset uploaded under ``datasets/`` starts the training state machine (S3 ->
   EventBridge -> Step Functions); it succeeds and registers a model that learned;
3. a CSV uploaded under ``incoming/`` starts batch inference, which predicts every row
   with that model;
4. a second ``stepkit deploy`` changes nothing;
5. ``stepkit destroy --delete-data --yes`` leaves nothing of the stack on the endpoint.

Waits poll the executions with a generous deadline; nothing here asserts on time.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("sklearn")
pytest.importorskip("aws_lambda_powertools")
pytest.importorskip("chalice")  # the stack's serving API is a Chalice app
pytest.importorskip("moto")

from stepkit.cli import main
from stepkit.deploy import Deployment
from stepkit.endpoint import LocalEndpoint

ROOT = Path(__file__).resolve().parents[2]
STACK = "stepkit-ml"
PREFIX = f"{STACK}-dev-"
BUCKET = f"{PREFIX}artifacts"
MODEL = "classifier"  # the stack's ${ModelName}
DATASET = "iris"  # 150 rows, 3 classes: chance is 1/3
INFERENCE_ROWS = 45
#: How long an execution may take before the test gives up (a deadline, not an assertion).
DEADLINE_S = 600.0


@pytest.fixture
def endpoint(tmp_path: Path, project: Path, monkeypatch: pytest.MonkeyPatch,
             local_aws_env: None) -> Iterator[LocalEndpoint]:
    local = LocalEndpoint(port=0, state_dir=tmp_path / "endpoint").start()
    monkeypatch.setenv("STEPKIT_ENDPOINT_URL", local.url)
    monkeypatch.chdir(project)  # as a user runs stepkit: from the project's folder
    try:
        yield local
    finally:
        local.stop()


def stepkit(*args: str) -> str:
    """Run the ``stepkit`` command; its standard output."""
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, f"stepkit {' '.join(args)} exited {result.exit_code}:\n{result.output}" \
                                  f"{result.exception!r}"
    return result.stdout


def wait_for_execution(sfn: Any, machine_arn: str) -> dict[str, Any]:
    """The one execution of ``machine_arn`` (started by an upload), once it has ended."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        executions = sfn.list_executions(stateMachineArn=machine_arn)["executions"]
        assert len(executions) <= 1, executions  # one upload, one execution
        if executions and executions[0]["status"] != "RUNNING":
            return sfn.describe_execution(executionArn=executions[0]["executionArn"])  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            pytest.fail(f"no execution of {machine_arn} ended within {DEADLINE_S:.0f}s: {executions}")
        time.sleep(0.25)


def failure(execution: dict[str, Any], sfn: Any) -> str:
    """What went wrong, for an assertion message: the error, the cause, and the failed states."""
    events = sfn.get_execution_history(executionArn=execution["executionArn"], reverseOrder=True,
                                       maxResults=20)["events"]
    failed = [e for e in events if e["type"].endswith(("Failed", "TimedOut", "Aborted"))]
    return f"{execution['status']}: {execution.get('error')}: {execution.get('cause')}\n" + \
        "\n".join(json.dumps(e, default=str)[:600] for e in failed)


def _json(s3: Any, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def inventory(local: LocalEndpoint) -> dict[str, list[str]]:
    """What of this stack is on the endpoint, by kind."""
    lam, sfn, s3 = local.client("lambda"), local.client("stepfunctions"), local.client("s3")
    found = {
        "functions": [f["FunctionName"] for f in lam.list_functions()["Functions"]],
        "state_machines": [m["name"] for m in sfn.list_state_machines()["stateMachines"]],
        "rules": [r["Name"] for r in local.client("events").list_rules()["Rules"]],
        "buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]],
        "roles": [r["RoleName"] for r in local.client("iam").list_roles()["Roles"]],
        "log_groups": [g["logGroupName"] for g in local.client("logs").describe_log_groups()["logGroups"]],
        "apis": [a["name"] for a in local.client("apigateway").get_rest_apis()["items"]],
        "layers": [layer["LayerName"] for layer in lam.list_layers()["Layers"]],
    }
    return {kind: sorted(n for n in names if PREFIX in n) for kind, names in found.items()}


def check_training_cost(execution_arn: str, trained: int) -> None:
    """``stepkit cost`` of the training run prices the S3 requests its functions made (read back
    from their logs on the endpoint): Preprocess reads the dataset and writes its splits, each
    Train writes its artifact, metrics and lineage."""
    doc = json.loads(stepkit("cost", "--execution", execution_arn, "--json"))
    own = doc["function_requests"]
    assert doc["functions_requests_known"] is True and own["unknown_invocations"] == 0
    rows = {row["name"]: row["function_requests"]["s3"] for row in doc["states"]}
    assert rows["Preprocess"]["tier1"] >= 2 and rows["Preprocess"]["tier2"] >= 1
    assert rows["Train"]["tier1"] >= 3 * trained
    assert own["s3"]["tier1"] >= rows["Preprocess"]["tier1"] + rows["Train"]["tier1"] and own["s3"]["usd"] > 0
    assert own["calls"]["s3"]["PutObject"] >= 2 + 3 * trained


def test_deploy_the_repository_stack_train_on_upload_predict_on_upload_and_destroy(
        endpoint: LocalEndpoint, project: Path, sample_datasets: ModuleType, serving_api: Any) -> None:
    # 1. Deploy, as a user does.
    out = stepkit("deploy", "--target", "local", "--no-policies")
    assert "deployed" in out and "code for host" in out

    deployment = Deployment.open(project / "infra" / "stack.yaml", target="local")
    names = deployment.names
    assert names.bucket("artifacts") == BUCKET
    deployed = inventory(endpoint)
    assert deployed["functions"] == sorted(f"{PREFIX}{f}" for f in
                                           ("drift_check", "predict", "preprocess", "register_model",
                                            "retrain_on_drift", "rollout", "select_model", "serving", "train"))
    assert deployed["apis"] == [f"{PREFIX}serving"]
    assert deployed["layers"] == [f"{PREFIX}model"]  # the functions' shared code: a layer version they list
    assert deployed["state_machines"] == [f"{PREFIX}batch_inference", f"{PREFIX}rollout", f"{PREFIX}training"]
    # the nightly retraining schedule is deployed disabled in dev (enabled only in prod)
    assert deployed["rules"] == [f"{PREFIX}batch_inference-s3-0", f"{PREFIX}training-s3-0",
                                 f"{PREFIX}training-schedule-1"]
    assert deployed["buckets"] == [BUCKET]
    # (the router table's state is its TableStatus in lower case, as stepkit.deploy.tables reports it)
    assert all(row["state"] in ("Active", "ACTIVE", "active", "ENABLED", "present")
               or row["name"].endswith("schedule-1")
               for row in deployment.status()), \
        deployment.status()
    # Code for the host: the function's files, not 66 MB of another Python's wheels.
    train = endpoint.client("lambda").get_function_configuration(FunctionName=f"{PREFIX}train")
    assert train["Runtime"] == "python3.12" and train["CodeSize"] < 1024 * 1024

    sfn, s3 = endpoint.client("stepfunctions"), endpoint.client("s3")

    # The serving API answers before any model is registered: health, and predict's errors.
    api_id = endpoint.client("apigateway").get_rest_apis()["items"][0]["id"]
    api = f"{endpoint.url}/restapis/{api_id}/api/_user_request_"
    serving_api.check_untrained(api)

    # 2. A dataset under datasets/ starts the training pipeline.
    uploaded = sample_datasets.upload_dataset(s3, BUCKET, f"datasets/{DATASET}.csv", DATASET)
    training = wait_for_execution(sfn, names.state_machine_arn("training"))
    assert training["status"] == "SUCCEEDED", failure(training, sfn)
    report = json.loads(training["output"])
    assert report["rows"]["raw"] == uploaded["rows"] == 150  # the uploaded object is the one processed
    assert report["candidates"]["failed"] == 0 and report["candidates"]["succeeded"] >= 2
    assert report["outcome"]["registered"] is True and report["outcome"]["promoted"] is True

    # The registry holds the new champion, and it learned: far above the 1/3 of guessing.
    index = _json(s3, f"registry/{MODEL}/index.json")
    assert index["aliases"] == {"champion": 1} and list(index["versions"]) == ["1"]
    version = _json(s3, index["versions"]["1"]["version_key"])
    assert version["lineage"]["dataset"]["sha256"] == uploaded["sha256"]
    assert version["metrics"]["test"]["accuracy"] >= 0.8
    assert version["metrics"]["test"]["balanced_accuracy"] >= 0.8
    model = s3.head_object(Bucket=BUCKET, Key=version["artifact_key"])
    assert model["ContentLength"] > 0
    check_training_cost(training["executionArn"], report["candidates"]["succeeded"])

    # 3. A CSV under incoming/ starts batch inference with that champion.
    sample_datasets.upload_inference_file(s3, BUCKET, "incoming/batch-1.csv", DATASET, rows=INFERENCE_ROWS)
    inference = wait_for_execution(sfn, names.state_machine_arn("batch_inference"))
    assert inference["status"] == "SUCCEEDED", failure(inference, sfn)
    result = json.loads(inference["output"])
    assert result["model"]["version"] == 1
    assert result["summary"]["rows"] == INFERENCE_ROWS and result["summary"]["failed_rows"] == 0
    predictions_key = result["summary"]["predictions"]["key"]
    body = s3.get_object(Bucket=BUCKET, Key=predictions_key)["Body"].read().decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == INFERENCE_ROWS
    assert {r["prediction"] for r in rows} <= {"setosa", "versicolor", "virginica"}
    # The serving API predicts with the same champion.
    serving_api.check_champion(api, sample_datasets, DATASET, version=1)
    # No other run was started by what the pipelines wrote (runs/, registry/, predictions/).
    assert len(sfn.list_executions(stateMachineArn=names.state_machine_arn("training"))["executions"]) == 1

    # 4. Deploying again with nothing changed changes nothing.
    again = stepkit("deploy", "--target", "local")
    assert "nothing changed" in again

    # 5. Destroy: nothing of the stack is left (its layer versions neither).
    stepkit("destroy", "--target", "local", "--delete-data", "--yes")
    assert inventory(endpoint) == {kind: [] for kind in deployed}
    assert not (project / ".stepkit" / "deployments" / "dev.local.json").exists()
