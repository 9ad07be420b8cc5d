"""The rollout of issue 16 end to end on a local endpoint: the repository's stack deployed, a
first training run makes version 1 champion, a second one registers version 2 as challenger
and starts ``statemachines/rollout.asl.json``; traffic with feedback through the serving API
decides, step by step, whether it is promoted (the registry's champion alias moves) or rolled
back (a regression in accuracy). Waits are 1 s (the rollout's ``wait_seconds``) and the
rollout waits for enough feedback, so nothing depends on how fast this machine is: the test
sends traffic until the execution ends, within a generous deadline."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("aws_lambda_powertools")
pytest.importorskip("chalice")
pytest.importorskip("moto")


MODEL = "classifier"
DEADLINE_S = 600.0
#: short waits, few feedbacks per step: the rollout as a test drives it
ROLLOUT = {"wait_seconds": 1, "min_feedback": 4, "steps": [10, 50, 100], "max_checks": 100000}


def call(url: str, body: Any = None, method: str | None = None, **headers: str) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method or ("GET" if body is None else "POST"),
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def run_to_end(sfn: Any, arn: str, during: Any = None) -> dict[str, Any]:
    """Poll the execution until it ends, calling ``during()`` between polls."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            pytest.fail(f"{arn} did not end within {DEADLINE_S:.0f}s")
        if during is not None:
            during()
        else:
            time.sleep(0.25)


def train(sfn: Any, names: Any, **overrides: Any) -> dict[str, Any]:
    execution = sfn.start_execution(stateMachineArn=names.state_machine_arn("training"), input=json.dumps(
        {"dataset_key": "data/iris.csv", "grid": [{"id": "logreg", "family": "logistic_regression",
                                                  "params": {"C": 1.0}}], **overrides}))
    described = run_to_end(sfn, execution["executionArn"])
    assert described["status"] == "SUCCEEDED", described
    return json.loads(described["output"])  # type: ignore[no-any-return]


def traffic(api: str, record: dict[str, float], rewards: dict[str, float]) -> Any:
    """One round: a request pinned to each version, each given its feedback reward. API
    Gateway's 504 (its 29 s limit, which a cold start on a loaded machine can pass) only
    means this round did not count: the rollout waits for feedback, the next round comes."""

    def send() -> None:
        for version, reward in rewards.items():
            status, answer = call(f"{api}/predict", {"record": record}, **{"X-Model-Version": version})
            if status == 504:
                continue
            assert status == 200, answer
            status, answer = call(f"{api}/feedback", {"request_id": answer["request_id"], "reward": reward})
            assert status == 200, answer

    return send


def test_a_better_challenger_is_promoted_and_a_worse_one_rolled_back(deployed_stack: dict[str, Any],
                                                                      sample_datasets: ModuleType) -> None:
    endpoint, names, api = deployed_stack["endpoint"], deployed_stack["names"], deployed_stack["api"]
    bucket = deployed_stack["bucket"]
    sfn, s3 = endpoint.client("stepfunctions"), endpoint.client("s3")
    sample_datasets.upload_dataset(s3, bucket, "data/iris.csv", "iris")  # not under datasets/: no trigger
    features, rows, _ = sample_datasets.load("iris")
    record = dict(zip(features, map(float, rows[0]), strict=True))

    first = train(sfn, names)
    assert first["outcome"]["promoted"] is True and first["outcome"]["version"] == 1  # the first is champion
    second = train(sfn, names, margin=-1.0, rollout_input=ROLLOUT,
                   grid=[{"id": "rf", "family": "random_forest", "params": {"n_estimators": 10}}])
    assert second["outcome"]["alias"] == "challenger" and second["outcome"]["version"] == 2
    rollout_arn = second["outcome"]["rollout_execution_arn"]
    # Warm both functions outside API Gateway's 29 s limit (a cold start loads scikit-learn).
    for version in (1, 2):
        endpoint.client("lambda").invoke(FunctionName=names.function("predict"), Payload=json.dumps(
            {"action": "describe", "bucket": bucket, "model_name": MODEL, "version": version}).encode())

    # Both versions as good: every step is healthy, version 2 ends champion.
    promoted = run_to_end(sfn, rollout_arn, traffic(api, record, {"2": 1.0, "1": 1.0}))
    assert promoted["status"] == "SUCCEEDED", (promoted.get("error"), promoted.get("cause"))
    assert json.loads(promoted["output"])["finish"]["decision"]["action"] == "promoted"
    index = json.loads(s3.get_object(Bucket=bucket, Key=f"registry/{MODEL}/index.json")["Body"].read())
    assert index["aliases"]["champion"] == 2
    status, answer = call(f"{api}/predict", {"record": record})
    assert status == 200 and answer["model_version"] == "2" and answer["policy"] == "champion"
    status, log = call(f"{api}/models/{MODEL}/decisions")
    actions = [(d["action"], d.get("share"), d.get("verdict")) for d in log["decisions"]]
    assert actions == [("canary", 10, None), ("evaluate", 10, "promote"), ("shift", 50, None),
                       ("evaluate", 50, "promote"), ("shift", 100, None), ("evaluate", 100, "promote"),
                       ("promoted", None, None)], actions

    # Version 1 back as challenger, and its feedback is all wrong: rolled back at the canary.
    execution = sfn.start_execution(stateMachineArn=names.state_machine_arn("rollout"),
                                    input=json.dumps({"champion": 2, "challenger": 1, **ROLLOUT}))
    rolled_back = run_to_end(sfn, execution["executionArn"], traffic(api, record, {"1": 0.0, "2": 1.0}))
    assert rolled_back["status"] == "SUCCEEDED", (rolled_back.get("error"), rolled_back.get("cause"))
    decision = json.loads(rolled_back["output"])["finish"]["decision"]
    assert decision["action"] == "rolled_back" and "accuracy 0.000" in decision["reasons"][0], decision
    index = json.loads(s3.get_object(Bucket=bucket, Key=f"registry/{MODEL}/index.json")["Body"].read())
    assert index["aliases"]["champion"] == 2
    status, policy = call(f"{api}/models/{MODEL}/policy")
    assert policy["policy"] == {"kind": "champion"}
    status, log = call(f"{api}/models/{MODEL}/decisions")
    assert [d["action"] for d in log["decisions"]][-3:] == ["canary", "evaluate", "rolled_back"]
