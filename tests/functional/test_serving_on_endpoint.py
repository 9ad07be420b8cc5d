"""The serving API as deployed by the repository's stack on a local endpoint (API Gateway → the
Chalice app → ``predict``; the router table in the endpoint's DynamoDB), and ``stepkit
serving`` talking to it: bad input through the real API, pinning, runtime policy changes,
feedback, the per-version metrics (in the API, in the CLI, and as EMF lines in the function's
CloudWatch logs). Waits poll with generous deadlines; nothing asserts on time."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("sklearn")
pytest.importorskip("aws_lambda_powertools")
pytest.importorskip("chalice")
pytest.importorskip("moto")

from stepkit.cli import main

MODEL = "classifier"
DEADLINE_S = 600.0


def call(url: str, body: Any = None, method: str | None = None,
         **headers: str) -> tuple[int, Any, dict[str, str]]:
    data = None if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method or ("GET" if body is None else "POST"),
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), dict(err.headers)


def train(sfn: Any, names: Any, **overrides: Any) -> dict[str, Any]:
    arn = sfn.start_execution(stateMachineArn=names.state_machine_arn("training"), input=json.dumps(
        {"dataset_key": "data/iris.csv", "grid": [{"id": "logreg", "family": "logistic_regression",
                                                  "params": {"C": 1.0}}], **overrides}))["executionArn"]
    deadline = time.monotonic() + DEADLINE_S
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "training did not end"
        time.sleep(0.25)
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    return json.loads(described["output"])  # type: ignore[no-any-return]


def stepkit(*args: str) -> Any:
    # A wide terminal: the status table has eleven columns (another test may have left COLUMNS narrow).
    result = CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, f"stepkit {' '.join(args)}: {result.exit_code}\n{result.output}"
    return result.stdout


def test_the_deployed_api_routes_counts_and_refuses_bad_input(deployed_stack: dict[str, Any],
                                                              sample_datasets: ModuleType,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STEPKIT_SERVING_URL", raising=False)
    endpoint, names, api = deployed_stack["endpoint"], deployed_stack["names"], deployed_stack["api"]
    bucket = deployed_stack["bucket"]
    sfn, s3 = endpoint.client("stepfunctions"), endpoint.client("s3")
    features, rows, _ = sample_datasets.load("iris")
    record = dict(zip(features, map(float, rows[0]), strict=True))

    status, body, _ = call(f"{api}/predict", {"record": record})
    assert status == 503 and "no model registered" in body["error"], (status, body)  # nothing registered yet
    sample_datasets.upload_dataset(s3, bucket, "data/iris.csv", "iris")
    train(sfn, names)
    # A second version: registered as challenger; its rollout is stopped at the canary.
    second = train(sfn, names, margin=-1.0, rollout_input={"wait_seconds": 3600},
                   grid=[{"id": "rf", "family": "random_forest", "params": {"n_estimators": 5}}])
    rollout = second["outcome"]["rollout_execution_arn"]
    deadline = time.monotonic() + DEADLINE_S
    while not any(e["type"] == "WaitStateEntered"
                  for e in sfn.get_execution_history(executionArn=rollout)["events"]):
        assert time.monotonic() < deadline, "the rollout never reached its Wait"
        time.sleep(0.25)
    sfn.stop_execution(executionArn=rollout)

    status, body, headers = call(f"{api}/predict", {"record": record}, **{"X-Model-Version": "2"})
    assert status == 200 and body["model_version"] == "2" and headers["X-Model-Version"] == "2", body
    assert call(f"{api}/predict", b"{oops")[0] == 400
    status, body, _ = call(f"{api}/predict", {"record": {**record, "colour": 1}})
    assert status == 422 and "extra features 'colour'" in body["error"]
    assert call(f"{api}/predict", {"record": record}, **{"X-Model-Version": "7"})[0] == 404
    assert call(f"{api}/feedback", {"request_id": "unknown", "label": "setosa"})[0] == 404

    out = json.loads(stepkit("serving", "policy", "set", MODEL, "--weighted", "1=50,2=50", "--url", api, "--json"))
    assert out["policy"]["weights"] == {"1": 50.0, "2": 50.0}
    for n in range(20):
        status, body, headers = call(f"{api}/predict", {"record": record, "caller": f"user-{n}"})
        assert status == 200 and headers["X-Model-Version"] == body["model_version"]
        assert call(f"{api}/feedback", {"request_id": body["request_id"], "label": "setosa"})[0] == 200

    # Without --url, the API is the one the stack's deploy record names.
    deployed = ("--stack", str(deployed_stack["stack"]), "--endpoint-url", endpoint.url)
    status_doc = json.loads(stepkit("serving", "status", *deployed, "--json"))
    by_version = {v["version"]: v for v in status_doc["versions"]}
    assert by_version["1"]["share"] == 50.0 and by_version["2"]["share"] == 50.0
    assert sum(v["metrics"]["feedbacks"] for v in by_version.values()) == 20
    assert by_version["1"]["metrics"]["requests"] + by_version["2"]["metrics"]["requests"] == 21
    assert status_doc == json.loads(stepkit("serving", "status", "--url", api, "--json"))
    missing = CliRunner().invoke(main, ["serving", "status", *deployed, "--stage", "prod", "--json"])
    assert missing.exit_code == 2 and json.loads(missing.stdout)["error"] == "NoServingApi", missing.output
    table = stepkit("serving", "status", "--url", api)
    assert "p99 ms" in table and "accuracy" in table
    decisions = json.loads(stepkit("serving", "decisions", MODEL, "--url", api, "--json"))["decisions"]
    assert [d["action"] for d in decisions] == ["canary"]

    # Per-version metrics in CloudWatch's embedded format, in the serving function's log group.
    logs = endpoint.client("logs")
    group = names.function_log_group("serving")
    deadline = time.monotonic() + DEADLINE_S
    while True:
        messages = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
        metrics = [json.loads(m) for m in messages if m.startswith("{") and '"_aws"' in m]
        if any(m.get("Requests") and m.get("version") == "2" for m in metrics):
            break
        assert time.monotonic() < deadline, messages[-5:]
        time.sleep(0.25)
    served = next(m for m in metrics if m.get("Requests"))
    assert served["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "StepkitML"
    assert any("request_id" in m for m in (json.loads(x) for x in messages if x.startswith("{")))
