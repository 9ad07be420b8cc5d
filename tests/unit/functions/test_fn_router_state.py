"""The router's DynamoDB state (mlcontract.router_state) against moto's DynamoDB."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

_LAYER = Path(__file__).resolve().parents[3] / "functions" / "layers" / "model" / "python"
if str(_LAYER) not in sys.path:
    sys.path.append(str(_LAYER))

from mlcontract.errors import (  # noqa: E402
    FeedbackAlreadyRecordedError,
    InvalidPolicyError,
    PolicyConflictError,
    UnknownRequestError,
)
from mlcontract.router_state import RouterState, chunk_length  # noqa: E402
from mlcontract.routing import ArmStats, ChampionPolicy, ThompsonPolicy, WeightedPolicy, update_discounted  # noqa: E402

moto = pytest.importorskip("moto")
TABLE = "router"


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with moto.mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                  {"AttributeName": "sk", "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}])
        yield client


@pytest.fixture
def state(dynamodb: Any) -> RouterState:
    return RouterState(TABLE, client=dynamodb)


def test_without_a_stored_policy_the_champion_routes_at_revision_zero(state: RouterState) -> None:
    assert state.policy("iris") == (ChampionPolicy(), 0)
    assert state.stats("iris") == {}


def test_set_policy_increments_the_revision_and_refuses_a_stale_one(state: RouterState) -> None:
    split = {"kind": "weighted", "weights": {"1": 90, "2": 10}}
    assert state.set_policy("iris", split, expected_revision=0) == 1
    assert state.set_policy("iris", ThompsonPolicy(versions=["1", "2"]), expected_revision=1) == 2
    with pytest.raises(PolicyConflictError, match="the routing policy of 'iris' is at revision 2, not 1"):
        state.set_policy("iris", {"kind": "champion"}, expected_revision=1)
    with pytest.raises(PolicyConflictError, match="at revision 2, not 0"):
        state.set_policy("iris", {"kind": "champion"}, expected_revision=0)
    assert state.policy("iris") == (ThompsonPolicy(versions=["1", "2"]), 2)
    assert state.set_policy("iris", split) == 3  # unconditional
    assert state.policy("iris") == (WeightedPolicy(weights={"1": 90, "2": 10}), 3)


def test_an_invalid_policy_changes_nothing(state: RouterState) -> None:
    state.set_policy("iris", {"kind": "champion"})
    with pytest.raises(InvalidPolicyError, match="weights must sum to 100"):
        state.set_policy("iris", {"kind": "weighted", "weights": {"1": 50}})
    assert state.policy("iris") == (ChampionPolicy(), 1)


def test_requests_and_shadow_comparisons_are_counted_per_version(state: RouterState) -> None:
    for latency in (3.0, 4.0, 800.0):
        state.record_request("iris", "1", latency, error=False)
    state.record_request("iris", "1", 12.5, error=True)
    state.record_request("iris", "2", 1.0, error=False)
    state.record_shadow("iris", "2", agreed=True)
    state.record_shadow("iris", "2", agreed=False)
    stats = state.stats("iris")
    one, two = stats["1"], stats["2"]
    assert (one.requests, one.errors, one.latency_ms_sum) == (4, 1, 819.5)
    assert one.error_rate == 0.25 and sum(one.latency_buckets) == 4
    assert 2 < (one.p50_ms or 0) <= 5 and 500 < (one.p99_ms or 0) <= 1000
    assert (two.requests, two.shadow_comparisons, two.shadow_agreements) == (1, 2, 1)
    with pytest.raises(ValueError, match="latency_ms must be a finite number >= 0"):
        state.record_request("iris", "1", float("nan"), error=False)
    assert state.stats("iris")["1"].requests == 4


def test_feedback_by_label_or_reward_counts_once(state: RouterState) -> None:
    state.remember_prediction("r1", "iris", "1", {"prediction": "setosa", "probabilities": {"setosa": 0.9}})
    state.remember_prediction("r2", "iris", "2", {"prediction": "virginica"})
    state.remember_prediction("r3", "iris", "2", "1")
    assert state.record_feedback("r1", label="setosa") == ("iris", "1", 1.0)
    assert state.record_feedback("r2", label="setosa") == ("iris", "2", 0.0)
    assert state.record_feedback("r3", label=1.0) == ("iris", "2", 1.0)  # labels compared as the registry writes them
    with pytest.raises(FeedbackAlreadyRecordedError, match="feedback for request id 'r1' was already recorded"):
        state.record_feedback("r1", label="virginica")
    with pytest.raises(UnknownRequestError, match="no prediction is remembered for request id 'nope'"):
        state.record_feedback("nope", reward=1.0)
    stats = state.stats("iris")
    assert (stats["1"].successes, stats["1"].failures, stats["1"].feedbacks) == (1.0, 0.0, 1)
    assert (stats["2"].successes, stats["2"].failures, stats["2"].accuracy) == (1.0, 1.0, 0.5)


def test_a_reward_is_given_directly_and_bad_feedback_changes_nothing(state: RouterState) -> None:
    state.remember_prediction("r1", "iris", "1", {"prediction": "a"})
    for kwargs in ({}, {"label": "a", "reward": 1.0}, {"reward": 1.5}, {"reward": "1"}):
        with pytest.raises(ValueError, match=r"exactly one of label and reward|reward must be a number in"):
            state.record_feedback("r1", **kwargs)
    assert state.stats("iris") == {}
    assert state.record_feedback("r1", reward=0.25) == ("iris", "1", 0.25)
    assert state.stats("iris")["1"].reward_sum == 0.25


def test_an_expired_prediction_is_unknown_even_before_ttl_deletes_it(state: RouterState) -> None:
    state.remember_prediction("old", "iris", "1", {"prediction": "a"}, ttl_seconds=-10)
    with pytest.raises(UnknownRequestError):
        state.record_feedback("old", label="a")
    item = state.client.get_item(TableName=TABLE, Key={"pk": {"S": "request#old"}, "sk": {"S": "prediction"}})["Item"]
    assert int(item["expires_at"]["N"]) < time.time()


def test_discounted_sums_kept_with_adds_equal_the_in_memory_update(state: RouterState) -> None:
    discount = 0.5
    assert chunk_length(discount) == 19 and chunk_length(1.0) == 0
    state.set_policy("iris", ThompsonPolicy(versions=["1", "2"], discount=discount))
    expected: dict[str, ArmStats] = {}
    # 70 feedbacks: several chunks, old chunks removed on the way.
    for n in range(70):
        version, reward = ("1", float(n % 3 == 0)) if n % 2 else ("2", float(n % 5 != 0))
        state.remember_prediction(f"r{n}", "iris", version, {"prediction": "x"})
        state.record_feedback(f"r{n}", reward=reward)
        update_discounted(expected, version, reward, discount)
    stats = state.stats("iris")
    for version in ("1", "2"):
        assert stats[version].discounted_successes == pytest.approx(expected[version].discounted_successes, rel=1e-9)
        assert stats[version].discounted_failures == pytest.approx(expected[version].discounted_failures, rel=1e-9)
        assert stats[version].successes == expected[version].successes
    item = state.client.get_item(TableName=TABLE, Key={"pk": {"S": "model#iris"}, "sk": {"S": "arm#2"}})["Item"]
    assert len([name for name in item if name.startswith("d19_")]) <= 2 * 4


def test_decisions_are_logged_in_order_and_an_arm_can_be_reset(state: RouterState) -> None:
    state.record_decision("iris", {"action": "canary", "share": 10})
    state.record_decision("iris", {"action": "promote", "share": 50})
    decisions = state.decisions("iris")
    assert [d["action"] for d in decisions] == ["canary", "promote"]
    assert decisions[0]["time"] <= decisions[1]["time"]
    state.record_request("iris", "2", 5.0, error=False)
    state.reset_arm("iris", "2")
    assert "2" not in state.stats("iris")
    policy, revision, arms = state.view("iris")
    assert (policy, revision, arms) == (ChampionPolicy(), 0, {})


class _StaleReads:
    """A client whose GetItem answers as if no feedback were recorded yet: a second feedback
    that read before the first one wrote."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def get_item(self, **kwargs: Any) -> Any:
        answer = self._client.get_item(**kwargs)
        answer.get("Item", {}).pop("feedback_at", None)
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_a_feedback_that_loses_the_race_changes_no_counter(state: RouterState) -> None:
    state.remember_prediction("r1", "iris", "1", {"prediction": "a"})
    assert state.record_feedback("r1", label="a") == ("iris", "1", 1.0)
    late = RouterState(TABLE, client=_StaleReads(state.client))
    with pytest.raises(FeedbackAlreadyRecordedError):
        late.record_feedback("r1", label="b")
    arm = state.stats("iris")["1"]
    assert (arm.feedbacks, arm.successes, arm.failures) == (1, 1.0, 0.0)


class _Recording:
    """A client that records the name of every call, passing each one through."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return method(*args, **kwargs)

        return call


def test_counters_are_read_by_key_never_by_a_query(state: RouterState) -> None:
    """Every arm ever counted is found (through the policy item's ``arms`` set), including one
    no policy names any more and an ensemble's; a reader of given arms makes one BatchGetItem."""
    state.set_policy("iris", {"kind": "weighted", "weights": {"1": 50, "2": 50}})
    for version in ("1", "2", "1+2"):
        state.record_request("iris", version, 2.0, error=False)
    state.remember_prediction("r1", "iris", "3", {"prediction": "a"})
    state.record_feedback("r1", label="a")  # an arm first counted by a feedback
    state.set_policy("iris", ThompsonPolicy(versions=["2", "4"]))
    recording = RouterState(TABLE, client=_Recording(state.client))
    policy, revision, arms = recording.view("iris")
    assert (policy, revision) == (ThompsonPolicy(versions=["2", "4"]), 2)
    assert sorted(arms) == ["1", "1+2", "2", "3"] and arms["3"].successes == 1.0
    assert recording.client.calls == ["get_item", "batch_get_item"]
    recording.client.calls.clear()
    assert sorted(recording.stats("iris", ["2", "4", "2"])) == ["2"]
    assert recording.client.calls == ["batch_get_item"]
    assert recording.stats("other") == {}


def test_an_arm_is_registered_once_per_state_object(state: RouterState) -> None:
    recording = RouterState(TABLE, client=_Recording(state.client))
    for _ in range(3):
        recording.record_request("iris", "1", 1.0, error=False)
    assert recording.client.calls == ["update_item"] * 4  # the arms set once, then the counters
    state.reset_arm("iris", "1")
    assert state.stats("iris") == {}
    recording.record_request("iris", "1", 1.0, error=False)  # still registered: a reset keeps the set
    assert state.stats("iris")["1"].requests == 1


class _Throttled:
    """A client whose BatchGetItem answers only ``answered`` keys, leaving the others
    unprocessed, ``rounds`` times."""

    def __init__(self, client: Any, rounds: int, answered: int) -> None:
        self._client = client
        self.rounds = rounds
        self.answered = answered
        self.requests = 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.requests += 1
        if self.rounds == 0:
            return self._client.batch_get_item(RequestItems=RequestItems)
        self.rounds -= 1
        (table, request), = RequestItems.items()
        keys, rest = request["Keys"][:self.answered], request["Keys"][self.answered:]
        answer = self._client.batch_get_item(RequestItems={table: {**request, "Keys": keys}}) if keys else {}
        return {**answer, "UnprocessedKeys": {table: {**request, "Keys": rest}} if rest else {}}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_unprocessed_keys_are_asked_for_again_until_answered(state: RouterState,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    for version in ("1", "2", "3"):
        state.record_request("iris", version, 1.0, error=False)
    throttled = _Throttled(state.client, rounds=2, answered=1)
    assert sorted(RouterState(TABLE, client=throttled).stats("iris", ["1", "2", "3"])) == ["1", "2", "3"]
    assert throttled.requests == 3
    stuck = _Throttled(state.client, rounds=100, answered=0)
    with pytest.raises(ClientError, match="ProvisionedThroughputExceededException"):
        RouterState(TABLE, client=stuck).stats("iris", ["1", "2", "3"])
    assert stuck.requests == 8
