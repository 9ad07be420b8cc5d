"""The rollout's steps (functions/rollout) on moto's DynamoDB, and register_model's set_alias
that promotes a challenger."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from fn_kit import BUCKET, Kit, harness
from test_fn_serving import create_router_table

TABLE = "router"
MODEL = "iris"


@pytest.fixture
def rollout(s3: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ROUTER_TABLE", TABLE)
    create_router_table(boto3.client("dynamodb", region_name="us-east-1"))
    return harness.LocalFunction("rollout", environment={"ROUTER_TABLE": TABLE})


def state(rollout: Any) -> Any:
    return rollout.module.RouterState(TABLE)


def step(rollout: Any, action: str, **event: Any) -> Any:
    return rollout({"action": action, "model_name": MODEL, "champion": 1, "challenger": 2, **event})


def feed(router: Any, version: str, rewards: list[float]) -> None:
    for n, reward in enumerate(rewards):
        request_id = f"{version}-{n}-{reward}-{id(rewards)}"
        router.record_request(MODEL, version, 5.0, False)
        router.remember_prediction(request_id, MODEL, version, {"prediction": "a"})
        router.record_feedback(request_id, reward=reward)


def test_the_canary_resets_the_challenger_and_splits_the_traffic(rollout: Any) -> None:
    router = state(rollout)
    feed(router, "2", [1.0, 1.0])
    out = step(rollout, "route", share=10, step=0)
    policy, _ = router.policy(MODEL)
    assert policy.weights == {"1": 90.0, "2": 10.0} and policy.sticky
    assert out["baseline"] == 0 and "2" not in router.stats(MODEL)
    assert [d["action"] for d in router.decisions(MODEL)] == ["canary"]
    step(rollout, "route", share=100, step=2)
    assert router.policy(MODEL)[0].weights == {"2": 100.0}


def test_evaluate_waits_promotes_and_rolls_back(rollout: Any) -> None:
    router = state(rollout)
    step(rollout, "route", share=50, step=0)
    feed(router, "1", [1.0] * 10)
    feed(router, "2", [1.0] * 3)
    waiting = step(rollout, "evaluate", min_feedback=5)
    assert waiting["verdict"] == "wait" and "3 feedback(s)" in waiting["reasons"][0]
    feed(router, "2", [1.0] * 3)
    assert step(rollout, "evaluate", min_feedback=5)["verdict"] == "promote"
    assert step(rollout, "evaluate", min_feedback=5, baseline_feedbacks=6)["verdict"] == "wait"
    feed(router, "2", [0.0] * 6)
    worse = step(rollout, "evaluate", min_feedback=5)
    assert worse["verdict"] == "rollback" and "accuracy 0.500 < the champion's 1.000" in worse["reasons"][0]
    assert [d.get("verdict") for d in router.decisions(MODEL) if d["action"] == "evaluate"] == ["promote", "rollback"]


def test_errors_and_latency_roll_back_before_any_feedback(rollout: Any) -> None:
    router = state(rollout)
    router.record_request(MODEL, "2", 3000.0, True)
    out = step(rollout, "evaluate", max_error_rate=0.05, max_p99_ms=2000)
    assert out["verdict"] == "rollback" and len(out["reasons"]) == 2


def test_finish_routes_everything_to_the_champion(rollout: Any) -> None:
    router = state(rollout)
    step(rollout, "route", share=50, step=0)
    out = step(rollout, "finish", outcome="rolled_back", reasons=["worse"])
    assert router.policy(MODEL)[0].kind == "champion" and out["action"] == "rolled_back"
    with pytest.raises(Exception, match="finish needs outcome"):
        step(rollout, "finish")


def test_set_alias_moves_the_champion_to_a_registered_version(kit: Kit) -> None:
    pre = kit.preprocess()
    kit.register(kit.select(pre, [kit.train(pre, "logistic_regression", {"C": 1.0}, "a")]))
    kit.register(kit.select(pre, [kit.train(pre, "random_forest", {"n_estimators": 5}, "b")]),
                 alias="challenger", expected_champion_version="any")
    register = kit.fn("register_model")
    moved = register({"action": "set_alias", "model_name": MODEL, "alias": "champion", "version": 2,
                      "reason": "rollout r1"})
    index = kit.json(f"registry/{MODEL}/index.json")
    assert moved["previous"] == 1 and index["aliases"]["champion"] == 2
    last = index["history"][-1]
    assert (last["action"], last["previous"], last["reason"]) == ("set_alias", 1, "rollout r1")
    with pytest.raises(Exception) as missing:
        register({"action": "set_alias", "model_name": MODEL, "alias": "champion", "version": 9, "bucket": BUCKET})
    assert type(missing.value).__name__ == "ModelNotFoundError"
