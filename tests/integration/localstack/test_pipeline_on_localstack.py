"""The repository's ML pipeline on a real LocalStack started on the host (issue 8).

LocalStack 4.9.2 runs S3, EventBridge, IAM, CloudWatch Logs and Step Functions itself; its
Lambda service runs the handlers through stepkit's runtime executor (``LAMBDA_RUNTIME_EXECUTOR=
stepkit``), on this machine's Python with its packages, as the host bundles expect. The stack,
functions and definitions are the repository's, copied to a project of their own (so this
deploy's record, in that copy's ``.stepkit/deployments``, never meets a developer's):

1. ``stepkit deploy --target localstack --stage localstack`` (the stage that leaves out batch
   inference, whose ``ItemBatcher`` LocalStack 4.9.2 cannot parse; see localstack/README.md);
2. iris uploaded under ``datasets/`` starts the training state machine (S3 -> EventBridge ->
   Step Functions -> Lambda): the execution succeeds in LocalStack's Step Functions and the S3
   registry holds a model version that learned;
3. ``stepkit destroy --delete-data --yes`` leaves nothing of the stack in LocalStack, and no
   process the stack's functions ran in (LocalStack itself is stopped by the ``localstack``
   fixture, which fails if any process of its tree is left).

A second test runs the training definition with stand-in functions through every way its
candidates can end (all succeed, some fail, too many fail, all fail), which on LocalStack
depends on ``SortResults`` never evaluating a JSONPath filter that matches nothing.

Waits poll with a generous deadline; nothing here asserts on time.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner

from stepkit.cli import main
from stepkit.deploy import Deployment
from stepkit.localstack_plugin import host

pytestmark = pytest.mark.localstack

pytest.importorskip("sklearn")  # the host bundles use this machine's scikit-learn, numpy, powertools
pytest.importorskip("aws_lambda_powertools")
pytest.importorskip("chalice")  # the stack's serving API is a Chalice app

ROOT = Path(__file__).resolve().parents[3]
STAGE = "localstack"
STACK = "stepkit-ml"
PREFIX = f"{STACK}-{STAGE}-"
BUCKET = f"{PREFIX}artifacts"
MODEL = "classifier"  # the stack's ${ModelName}
DATASET = "iris"  # 150 rows, 3 classes: chance is 1/3
#: How long an execution may take before the test gives up (a deadline, not an assertion).
DEADLINE_S = 900.0
HELPER_MODULE = b"stepkit.localstack_plugin.helper"


@pytest.fixture
def on_localstack(localstack: host.Instance, project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``stepkit`` pointed at the LocalStack of this session, run from the project's folder."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "STEPKIT_TARGET", "STEPKIT_STAGE",
                 "STEPKIT_CODE_PLATFORM", "STEPKIT_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", localstack.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", localstack.region)
    monkeypatch.chdir(project)  # as a user runs stepkit: from the project's folder
    yield project


def stepkit(*args: str) -> str:
    """Run the ``stepkit`` command; its standard output."""
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, (
        f"stepkit {' '.join(args)} exited {result.exit_code}:\n{result.output}{result.exception!r}"
    )
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
        time.sleep(0.5)


def wait_ended(sfn: Any, execution_arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE_S
    while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        if time.monotonic() > deadline:
            pytest.fail(f"{execution_arn} did not end within {DEADLINE_S:.0f}s")
        time.sleep(0.25)
    return described  # type: ignore[no-any-return]


def failure(execution: dict[str, Any], sfn: Any, localstack: host.Instance) -> str:
    """What went wrong, for an assertion message: the error, the cause, the failed states, the log."""
    events = sfn.get_execution_history(executionArn=execution["executionArn"], reverseOrder=True,
                                       maxResults=20)["events"]
    failed = [e for e in events if e["type"].endswith(("Failed", "TimedOut", "Aborted"))]
    return (f"{execution['status']}: {execution.get('error')}: {execution.get('cause')}\n"
            + "\n".join(json.dumps(e, default=str)[:600] for e in failed)
            + f"\nLocalStack log:\n{localstack.log_tail(60)}")


def inventory(client: Callable[[str], Any]) -> dict[str, list[str]]:
    """What of this stack is in LocalStack, by kind."""
    found = {
        "functions": [f["FunctionName"] for f in client("lambda").list_functions()["Functions"]],
        "state_machines": [m["name"] for m in client("stepfunctions").list_state_machines()["stateMachines"]],
        "rules": [r["Name"] for r in client("events").list_rules()["Rules"]],
        "buckets": [b["Name"] for b in client("s3").list_buckets()["Buckets"]],
        "roles": [r["RoleName"] for r in client("iam").list_roles()["Roles"]],
        "log_groups": [g["logGroupName"] for g in client("logs").describe_log_groups()["logGroups"]],
        "apis": [a["name"] for a in client("apigateway").get_rest_apis()["items"]],
        # ListLayers of LocalStack 4.9.2 fails (500, "list index out of range") once a layer's last
        # version is deleted (localstack/localstack#10506): the stack's layer is asked for by name.
        "layers": [name for name in [f"{PREFIX}model"]
                   if client("lambda").list_layer_versions(LayerName=name)["LayerVersions"]],
    }
    return {kind: sorted(n for n in names if PREFIX in n) for kind, names in found.items()}


def function_processes(localstack: host.Instance) -> set[int]:
    """LocalStack's processes other than the stepkit helper: the workers of functions."""
    found = set()
    for pid in host.descendants(localstack.pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if HELPER_MODULE not in cmdline:
            found.add(pid)
    return found


def test_deploy_the_repository_stack_to_localstack_train_on_upload_and_destroy(
        on_localstack: Path, localstack: host.Instance, aws: Callable[[str], Any], sample_datasets: ModuleType,
        serving_api: Any) -> None:
    project = on_localstack
    before = function_processes(localstack)

    # 1. Deploy, as a user does, the stage LocalStack can run.
    out = stepkit("deploy", "--target", "localstack", "--stage", STAGE, "--no-policies")
    assert "deployed" in out and "code for host" in out, out
    record = project / ".stepkit" / "deployments" / f"{STAGE}.localstack.json"
    assert record.is_file()
    deployment = Deployment.open(project / "infra" / "stack.yaml", stage=STAGE, target="localstack")
    names = deployment.names
    assert names.bucket("artifacts") == BUCKET
    deployed = inventory(aws)
    assert deployed["functions"] == sorted(f"{PREFIX}{f}" for f in
                                           ("drift_check", "predict", "preprocess", "register_model",
                                            "retrain_on_drift", "select_model", "serving",
                                            "train"))
    assert deployed["apis"] == [f"{PREFIX}serving"]
    assert deployed["state_machines"] == [f"{PREFIX}training"]  # batch inference: not on LocalStack 4.9.2
    # the nightly retraining schedule is deployed disabled outside prod
    assert deployed["rules"] == [f"{PREFIX}training-s3-0", f"{PREFIX}training-schedule-1"]
    assert deployed["buckets"] == [BUCKET]
    assert all(row["state"] in ("Active", "ACTIVE", "ENABLED", "present") or row["name"].endswith("schedule-1")
               for row in deployment.status()), \
        deployment.status()
    # Code for the host: the function's files, run by stepkit with this machine's packages.
    train = aws("lambda").get_function_configuration(FunctionName=f"{PREFIX}train")
    assert train["Runtime"] == "python3.12" and train["CodeSize"] < 1024 * 1024
    assert train["State"] == "Active"
    # The shared code is a layer version LocalStack stores and stepkit's executor applies.
    assert deployed["layers"] == [f"{PREFIX}model"]
    assert [layer["Arn"].rsplit(":", 2)[1] for layer in train["Layers"]] == [f"{PREFIX}model"]

    sfn, s3 = aws("stepfunctions"), aws("s3")

    # The serving API, served by LocalStack's own API Gateway: health, and predict's errors.
    api_id = aws("apigateway").get_rest_apis()["items"][0]["id"]
    api = f"{localstack.endpoint_url}/restapis/{api_id}/api/_user_request_"
    serving_api.check_untrained(api)

    # 2. A dataset under datasets/ starts the training pipeline in LocalStack's Step Functions.
    uploaded = sample_datasets.upload_dataset(s3, BUCKET, f"datasets/{DATASET}.csv", DATASET)
    training = wait_for_execution(sfn, names.state_machine_arn("training"))
    assert training["status"] == "SUCCEEDED", failure(training, sfn, localstack)
    report = json.loads(training["output"])
    assert report["rows"]["raw"] == uploaded["rows"] == 150  # the uploaded object is the one processed
    assert report["candidates"]["failed"] == 0 and report["candidates"]["succeeded"] >= 2
    assert report["failures"] == []
    assert report["outcome"]["registered"] is True and report["outcome"]["promoted"] is True

    # The S3 registry holds the new champion, version 1, and it learned: far above the 1/3 of guessing.
    index = json.loads(s3.get_object(Bucket=BUCKET, Key=f"registry/{MODEL}/index.json")["Body"].read())
    assert index["aliases"] == {"champion": 1} and list(index["versions"]) == ["1"]
    version = json.loads(s3.get_object(Bucket=BUCKET, Key=index["versions"]["1"]["version_key"])["Body"].read())
    assert version["lineage"]["dataset"]["sha256"] == uploaded["sha256"]
    assert version["metrics"]["test"]["balanced_accuracy"] >= 0.8
    assert s3.head_object(Bucket=BUCKET, Key=version["artifact_key"])["ContentLength"] > 0
    # The serving API predicts with that champion.
    serving_api.check_champion(api, sample_datasets, DATASET, version=1)
    # What the pipeline wrote (runs/, registry/) started no other run.
    assert len(sfn.list_executions(stateMachineArn=names.state_machine_arn("training"))["executions"]) == 1

    # 3. Destroy: nothing of the stack is left, nor any process its functions ran in.
    stepkit("destroy", "--target", "localstack", "--stage", STAGE, "--delete-data", "--yes")
    assert inventory(aws) == {kind: [] for kind in deployed}
    assert not record.exists()
    deadline = time.monotonic() + 60
    while (left := function_processes(localstack) - before) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"processes of the deleted functions still run: {sorted(left)}"


# -- the training definition's candidate outcomes, on LocalStack's Step Functions ------------------

STAND_INS = '''
class InvalidHyperparametersError(Exception):
    pass


def preprocess(event, context):
    return {"manifest_key": "runs/r/processed/manifest.json", "dataset": {"key": event["dataset_key"]},
            "rows": {"raw": 3}, "classes": ["a", "b"], "n_features": 2}


def train(event, context):
    candidate = event["candidate"]
    if candidate["family"] == "broken":
        raise InvalidHyperparametersError("cannot train " + candidate["id"])
    return {"status": "SUCCEEDED", "candidate_id": candidate["id"], "family": candidate["family"],
            "params": candidate["params"], "artifact_key": "a", "artifact_sha256": "s", "metrics_key": "m",
            "lineage_key": "l", "validation": {"balanced_accuracy": 0.9}, "train_seconds": 0.1}


def select_model(event, context):
    best = next(c for c in event["candidates"] if c["status"] == "SUCCEEDED")
    return {"metric": "balanced_accuracy", "ranking": [], "best": best, "best_test_score": 0.9,
            "has_champion": False, "champion_comparable": False, "champion_version": None,
            "champion_test_score": None, "champion": None, "improvement": None, "selection_key": "k"}


def register_model(event, context):
    return {"promoted": True, "reason": "first", "version": 1, "alias": "champion", "previous_champion": None,
            "version_key": "v", "artifact_key": "a"}
'''


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_the_training_definition_sorts_candidates_on_localstack_whatever_fails(aws: Callable[[str], Any]) -> None:
    # A JSONPath filter that matches nothing is [] on AWS and stepkit but an error in LocalStack
    # 4.9.2: every mix of outcomes must get to the same end as on AWS.
    lam, sfn = aws("lambda"), aws("stepfunctions")
    tag = uuid.uuid4().hex[:8]
    role = "arn:aws:iam::000000000000:role/stand-ins"
    code = _zip({"app.py": STAND_INS})
    arns = {}
    for name in ("preprocess", "train", "select_model", "register_model"):
        arns[name] = lam.create_function(FunctionName=f"{name}-{tag}", Runtime="python3.12", Role=role,
                                         Handler=f"app.{name}", Code={"ZipFile": code}, Timeout=30)["FunctionArn"]
    text = (ROOT / "statemachines" / "training.asl.json").read_text(encoding="utf-8")
    for key, value in {"PreprocessFunctionArn": arns["preprocess"], "TrainFunctionArn": arns["train"],
                       "SelectModelFunctionArn": arns["select_model"],
                       "RegisterModelFunctionArn": arns["register_model"], "ArtifactsBucket": "stand-in",
                       "ModelName": MODEL}.items():
        text = text.replace(f"${{{key}}}", value)
    machine = sfn.create_state_machine(name=f"training-{tag}", definition=text, roleArn=role)["stateMachineArn"]
    try:
        for arn in arns.values():
            deadline = time.monotonic() + 60
            while lam.get_function_configuration(FunctionName=arn)["State"] == "Pending":
                assert time.monotonic() < deadline, f"{arn} stays Pending"
                time.sleep(0.2)

        def ok(i: int) -> dict[str, Any]:
            return {"id": f"ok-{i}", "family": "logistic_regression", "params": {"C": 1.0}}

        def broken(i: int) -> dict[str, Any]:
            return {"id": f"broken-{i}", "family": "broken", "params": {}}

        grids = {
            "all-succeed": [ok(1), ok(2)],
            "one-fails": [ok(1), broken(2), ok(3)],
            "too-many-fail": [broken(1), ok(2), broken(3), broken(4)],
            "all-fail": [broken(1)],
        }
        started = {name: sfn.start_execution(stateMachineArn=machine, name=f"{name}-{tag}",
                                             input=json.dumps({"dataset_key": "datasets/x.csv", "grid": grid}))
                   for name, grid in grids.items()}
        ended = {name: wait_ended(sfn, s["executionArn"]) for name, s in started.items()}

        for name, counts in {"all-succeed": (2, 2, 0), "one-fails": (3, 2, 1)}.items():
            assert ended[name]["status"] == "SUCCEEDED", (name, ended[name].get("error"), ended[name].get("cause"))
            report = json.loads(ended[name]["output"])
            assert report["candidates"] == dict(zip(("total", "succeeded", "failed"), counts, strict=True))
            assert [f["candidate"]["id"] for f in report["failures"]] == (["broken-2"] if counts[2] else [])
            assert report["outcome"]["promoted"] is True
        for name, cause in {"too-many-fail": "3 of 4 candidates failed (at most 2 tolerated). First failure: "
                                             "InvalidHyperparametersError: ",
                            "all-fail": "1 of 1 candidates failed (at most 2 tolerated). First failure: "
                                        "InvalidHyperparametersError: "}.items():
            assert (ended[name]["status"], ended[name].get("error")) == ("FAILED", "TooManyCandidatesFailed"), \
                (name, ended[name].get("error"), ended[name].get("cause"))
            assert ended[name]["cause"].startswith(cause), ended[name]["cause"]
            assert "cannot train broken-1" in ended[name]["cause"]
    finally:
        sfn.delete_state_machine(stateMachineArn=machine)
        for arn in arns.values():
            lam.delete_function(FunctionName=arn)
