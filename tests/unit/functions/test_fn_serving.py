"""The serving API (functions/serving, a Chalice app) through Chalice's test client: routing,
pinning, feedback, /models, policy changes and every bad input the issue lists, against moto's
S3 (the registry) and DynamoDB (the router's table), with ``predict`` called in-process."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest

pytest.importorskip("chalice")
from chalice.test import Client
from fn_kit import BUCKET, ROOT, Kit, harness

MODEL = "iris"
TABLE = "router"
IRIS_RECORD = {"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, "petal_length_cm": 1.4, "petal_width_cm": 0.2}


def _load_app() -> ModuleType:
    serving = ROOT / "functions" / "serving"
    for folder in (serving, ROOT / "functions" / "layers" / "model" / "python"):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    for name in [m for m in sys.modules if m.split(".")[0] == "chalicelib"]:
        del sys.modules[name]
    spec = importlib.util.spec_from_file_location("stepkit_serving_app", serving / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["stepkit_serving_app"] = module
    spec.loader.exec_module(module)
    return module


def create_router_table(client: Any, name: str = TABLE) -> None:
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                              {"AttributeName": "sk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "sk", "KeyType": "RANGE"}])


class Serving:
    """The app, its backend and what its predict calls saw."""

    def __init__(self, kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ROUTER_TABLE", TABLE)
        create_router_table(boto3.client("dynamodb", region_name="us-east-1"))
        self.predict_fn = harness.LocalFunction("predict", environment={"ARTIFACTS_BUCKET": BUCKET,
                                                                        "ROUTER_TABLE": TABLE})
        self.app = _load_app()
        backend_module = sys.modules["chalicelib.backend"]
        self.calls: list[tuple[dict[str, Any], bool]] = []
        self.backend = backend_module.Backend(model_name=MODEL, bucket=BUCKET, registry_prefix="registry",
                                              state=backend_module.RouterState(TABLE), invoke=self.invoke)
        self.app.use_backend(self.backend)
        self.kit = kit

    def invoke(self, payload: dict[str, Any], asynchronous: bool) -> tuple[str | None, Any]:
        self.calls.append((payload, asynchronous))
        try:
            return None, self.predict_fn(payload)
        except Exception as exc:  # as Lambda reports a handler's exception
            return type(exc).__name__, str(exc)

    def client(self) -> Client:
        return Client(self.app.app)


def post(client: Client, path: str, body: Any, **headers: str) -> Any:
    raw = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.http.post(path, body=raw, headers={"Content-Type": "application/json", **headers})


@pytest.fixture
def serving(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> Iterator[Serving]:
    yield Serving(kit, monkeypatch)


@pytest.fixture
def two_versions(serving: Serving) -> Serving:
    """Model ``iris``: version 1 (champion, logistic regression) and 2 (challenger, a forest)."""
    kit = serving.kit
    pre = kit.preprocess()
    first = kit.train(pre, "logistic_regression", {"C": 1.0}, "logreg")
    kit.register(kit.select(pre, [first]))
    second = kit.train(pre, "random_forest", {"n_estimators": 10, "max_depth": 3}, "rf")
    kit.register(kit.select(pre, [second]), alias="challenger", expected_champion_version="any")
    return serving


def test_health_answers_without_a_registry(serving: Serving) -> None:
    with serving.client() as client:
        response = client.http.get("/health")
    assert response.status_code == 200 and response.json_body == {"status": "ok"}


def test_predict_without_a_model_is_503_saying_so(serving: Serving) -> None:
    with serving.client() as client:
        response = post(client, "/predict", {"record": IRIS_RECORD})
    assert response.status_code == 503
    assert "no model registered" in response.json_body["error"]


def test_predict_answers_with_the_champion_and_says_which(two_versions: Serving) -> None:
    with two_versions.client() as client:
        response = post(client, "/predict", {"record": IRIS_RECORD})
    assert response.status_code == 200, response.body
    body = response.json_body
    assert body["model_version"] == "1" and response.headers["X-Model-Version"] == "1"
    assert len(body["request_id"]) == 32 and body["policy"] == "champion"
    assert body["predictions"][0]["prediction"] == "setosa"
    assert two_versions.calls[0][0]["strict_features"] is True


def test_a_batch_is_answered_in_order(two_versions: Serving) -> None:
    rows = [IRIS_RECORD, {**IRIS_RECORD, "petal_length_cm": 6.0, "petal_width_cm": 2.4}]
    with two_versions.client() as client:
        body = post(client, "/predict", {"records": rows}).json_body
    assert body["count"] == 2 and [p["prediction"] for p in body["predictions"]] == ["setosa", "virginica"]


@pytest.mark.parametrize(("raw", "status", "says"), [
    (b"{not json", 400, "not valid JSON"),
    ({"rows": []}, 400, '"records"'),
    ({"records": []}, 400, "non-empty"),
    ({"records": [1, 2]}, 400, "each record"),
    ({"record": IRIS_RECORD, "extra": 1}, 400, "'extra'"),
    ({"record": {"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, "petal_length_cm": 1.4, "colour": "red"}}, 422,
     "missing features 'petal_width_cm'; extra features 'colour'"),
    ({"record": {**IRIS_RECORD, "petal_width_cm": "wide"}}, 422, "not a number"),
])
def test_bad_predict_bodies_are_refused_and_change_nothing(two_versions: Serving, raw: Any, status: int,
                                                           says: str) -> None:
    with two_versions.client() as client:
        response = post(client, "/predict", raw)
    assert response.status_code == status, response.body
    assert says in response.json_body["error"]
    assert two_versions.backend.state.stats(MODEL) == {}


def test_a_pinned_version_answers_and_an_unknown_one_is_404(two_versions: Serving) -> None:
    with two_versions.client() as client:
        pinned = post(client, "/predict", {"record": IRIS_RECORD}, **{"X-Model-Version": "2"})
        unknown = post(client, "/predict", {"record": IRIS_RECORD}, **{"X-Model-Version": "9"})
    assert pinned.status_code == 200 and pinned.json_body["model_version"] == "2"
    assert pinned.json_body["policy"] == "pinned"
    assert unknown.status_code == 404 and "no version '9'" in unknown.json_body["error"]


def test_weighted_routing_is_sticky_per_caller(two_versions: Serving) -> None:
    with two_versions.client() as client:
        changed = client.http.put(f"/models/{MODEL}/policy", headers={"Content-Type": "application/json"},
                                  body=json.dumps({"kind": "weighted", "weights": {"1": 50, "2": 50}}))
        assert changed.status_code == 200 and changed.json_body["revision"] == 1
        versions = {}
        for caller in ("alice", "bob", "carol", "dave", "erin", "frank"):
            seen = {post(client, "/predict", {"record": IRIS_RECORD}, **{"X-Caller-Id": caller}).json_body[
                "model_version"] for _ in range(3)}
            assert len(seen) == 1, f"{caller} moved between versions: {seen}"
            versions[caller] = seen.pop()
        by_body = post(client, "/predict", {"record": IRIS_RECORD, "caller": "alice"}).json_body
    assert by_body["model_version"] == versions["alice"]
    assert set(versions.values()) == {"1", "2"}  # six callers' hashes cover both halves


def test_feedback_counts_once_and_unknown_ids_are_404(two_versions: Serving) -> None:
    with two_versions.client() as client:
        answer = post(client, "/predict", {"record": IRIS_RECORD}).json_body
        first = post(client, "/feedback", {"request_id": answer["request_id"], "label": "setosa"})
        again = post(client, "/feedback", {"request_id": answer["request_id"], "label": "setosa"})
        unknown = post(client, "/feedback", {"request_id": "nope", "reward": 1})
        both = post(client, "/feedback", {"request_id": answer["request_id"], "label": "setosa", "reward": 1})
        out_of_range = post(client, "/feedback", {"request_id": answer["request_id"], "reward": 2})
    assert first.status_code == 200 and first.json_body["reward"] == 1.0 and first.json_body["model_version"] == "1"
    assert again.status_code == 409
    assert unknown.status_code == 404 and "nope" in unknown.json_body["error"]
    assert both.status_code == 422 and out_of_range.status_code == 422
    stats = two_versions.backend.state.stats(MODEL)["1"]
    assert (stats.requests, stats.feedbacks, stats.accuracy) == (1, 1, 1.0)


def test_models_shows_versions_shares_and_live_metrics(two_versions: Serving) -> None:
    with two_versions.client() as client:
        for _ in range(3):
            post(client, "/predict", {"record": IRIS_RECORD}, **{"X-Model-Version": "2"})
        post(client, "/predict", {"record": IRIS_RECORD})
        body = client.http.get("/models").json_body
    assert body["champion"] == "1" and body["policy"] == {"kind": "champion"} and body["requests"] == 4
    by_version = {v["version"]: v for v in body["versions"]}
    assert by_version["1"]["aliases"] == ["champion"] and by_version["2"]["aliases"] == ["challenger"]
    assert by_version["1"]["share"] == 100.0 and by_version["2"]["share"] == 0.0
    assert by_version["2"]["observed_share"] == 0.75 and by_version["2"]["metrics"]["requests"] == 3
    assert by_version["2"]["metrics"]["p50_ms"] is not None


def test_bad_policies_are_422_naming_the_problem(two_versions: Serving) -> None:
    def put(body: Any) -> Any:
        return client.http.put(f"/models/{MODEL}/policy", headers={"Content-Type": "application/json"},
                               body=json.dumps(body))

    with two_versions.client() as client:
        sums = put({"kind": "weighted", "weights": {"1": 50, "2": 40}})
        unknown = put({"kind": "thompson", "versions": ["1", "7"]})
        kind = put({"kind": "roulette"})
        stale = put({"kind": "thompson", "versions": ["1", "2"], "expected_revision": 5})
        other_model = client.http.put("/models/unknown/policy", headers={"Content-Type": "application/json"},
                                      body='{"kind": "champion"}')
        policy = client.http.get(f"/models/{MODEL}/policy").json_body
    assert sums.status_code == 422 and "sum to 100" in sums.json_body["error"]
    assert unknown.status_code == 422 and "unknown model version(s) 7" in unknown.json_body["error"]
    assert kind.status_code == 422
    assert stale.status_code == 409
    assert other_model.status_code == 503
    assert policy == {"model_name": MODEL, "policy": {"kind": "champion"}, "revision": 0}


def test_an_unreadable_version_falls_back_to_the_champion(two_versions: Serving) -> None:
    index = two_versions.kit.json(f"registry/{MODEL}/index.json")
    two_versions.kit.put(index["versions"]["2"]["artifact_key"], b"damaged")
    with two_versions.client() as client:
        routed = post(client, "/predict", {"record": IRIS_RECORD, "caller": "x"})
        client.http.put(f"/models/{MODEL}/policy", headers={"Content-Type": "application/json"},
                        body=json.dumps({"kind": "weighted", "weights": {"2": 100}}))
        fallback = post(client, "/predict", {"record": IRIS_RECORD})
        pinned = post(client, "/predict", {"record": IRIS_RECORD}, **{"X-Model-Version": "2"})
    assert routed.json_body["model_version"] == "1"
    assert fallback.status_code == 200 and fallback.json_body["model_version"] == "1"
    assert fallback.json_body["fallback_from"] == "2"
    assert pinned.status_code == 503 and "ModelIntegrityError" in pinned.json_body["error"]
    assert two_versions.backend.state.stats(MODEL)["2"].errors == 2


def test_shadow_scores_in_the_background_and_never_answers(two_versions: Serving) -> None:
    with two_versions.client() as client:
        client.http.put(f"/models/{MODEL}/policy", headers={"Content-Type": "application/json"},
                        body=json.dumps({"kind": "shadow", "primary": "1", "challenger": "2", "share": 1.0}))
        body = post(client, "/predict", {"record": IRIS_RECORD}).json_body
    assert body["model_version"] == "1"
    shadow_calls = [payload for payload, asynchronous in two_versions.calls if asynchronous]
    assert len(shadow_calls) == 1 and shadow_calls[0]["action"] == "shadow" and shadow_calls[0]["version"] == 2
    stats = two_versions.backend.state.stats(MODEL)
    assert stats["2"].shadow_comparisons == 1 and stats["2"].requests == 0 and stats["1"].requests == 1


def test_ensemble_combines_every_member(two_versions: Serving) -> None:
    with two_versions.client() as client:
        client.http.put(f"/models/{MODEL}/policy", headers={"Content-Type": "application/json"},
                        body=json.dumps({"kind": "ensemble", "versions": ["1", "2"], "method": "average"}))
        response = post(client, "/predict", {"record": IRIS_RECORD})
    body = response.json_body
    assert response.status_code == 200 and body["model_version"] == "1+2" and body["ensemble"] == ["1", "2"]
    assert body["predictions"][0]["prediction"] == "setosa"
    assert sorted(p["version"] for p, _ in two_versions.calls) == [1, 2]


def test_a_policy_can_start_its_versions_counters_from_zero(two_versions: Serving) -> None:
    with two_versions.client() as client:
        post(client, "/predict", {"record": IRIS_RECORD}, **{"X-Model-Version": "2"})
        kept = client.http.put(f"/models/{MODEL}/policy", headers={"Content-Type": "application/json"},
                               body=json.dumps({"kind": "thompson", "versions": ["1", "2"]}))
        assert two_versions.backend.state.stats(MODEL)["2"].requests == 1 and kept.json_body["reset_arms"] == []
        reset = client.http.put(f"/models/{MODEL}/policy", headers={"Content-Type": "application/json"},
                                body=json.dumps({"kind": "thompson", "versions": ["1", "2"], "reset_arms": True}))
    assert reset.status_code == 200 and reset.json_body["reset_arms"] == ["1", "2"]
    assert two_versions.backend.state.stats(MODEL) == {}


def test_thompson_sends_traffic_to_the_version_with_better_feedback(two_versions: Serving) -> None:
    state = two_versions.backend.state
    with two_versions.client() as client:
        client.http.put(f"/models/{MODEL}/policy", headers={"Content-Type": "application/json"},
                        body=json.dumps({"kind": "thompson", "versions": ["1", "2"]}))
        for _ in range(40):
            answer = post(client, "/predict", {"record": IRIS_RECORD}).json_body
            reward = 1.0 if answer["model_version"] == "2" else 0.0
            assert post(client, "/feedback", {"request_id": answer["request_id"], "reward": reward}).status_code == 200
    stats = state.stats(MODEL)
    assert stats["2"].requests > stats["1"].requests


def test_decisions_lists_the_rollout_log(two_versions: Serving) -> None:
    two_versions.backend.state.record_decision(MODEL, {"action": "canary", "share": 10})
    with two_versions.client() as client:
        body = client.http.get(f"/models/{MODEL}/decisions").json_body
    assert [d["action"] for d in body["decisions"]] == ["canary"]


def test_a_route_that_fails_answers_500_without_a_traceback(two_versions: Serving) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("table gone")

    two_versions.backend.state.policy = broken  # type: ignore[method-assign]
    with two_versions.client() as client:
        response = post(client, "/predict", {"record": IRIS_RECORD})
    assert response.status_code == 500 and response.json_body == {"error": "internal error (logged)"}
