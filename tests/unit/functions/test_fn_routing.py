"""The model layer's routing policies (mlcontract.routing): pure code, seeded generators."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

_LAYER = Path(__file__).resolve().parents[3] / "functions" / "layers" / "model" / "python"
if str(_LAYER) not in sys.path:
    sys.path.append(str(_LAYER))

from mlcontract.errors import InvalidPolicyError, NoChampionError  # noqa: E402
from mlcontract.routing import (  # noqa: E402
    LATENCY_BOUNDS_MS,
    ArmStats,
    ChampionPolicy,
    EnsemblePolicy,
    EpsilonGreedyPolicy,
    ShadowPolicy,
    ThompsonPolicy,
    WeightedPolicy,
    check_versions,
    choose,
    combine,
    latency_bucket,
    latency_quantile,
    parse_policy,
    update_discounted,
)


def _arm(successes: float, failures: float) -> ArmStats:
    return ArmStats(feedbacks=int(successes + failures), successes=successes, failures=failures)


@pytest.mark.parametrize(("document", "message"), [
    ({"kind": "weighted", "weights": {"3": 90, "4": 11}}, "weights must sum to 100, they sum to 101"),
    ({"kind": "weighted", "weights": {"3": 100, "4": 0}}, "weights must be greater than 0 (version(s) 4)"),
    ({"kind": "weighted", "weights": {}}, "weights must name at least one version"),
    ({"kind": "thompson", "versions": ["3", "3"]}, "version(s) listed more than once: 3"),
    ({"kind": "thompson", "versions": ["3", "4"], "discount": 0}, "discount: Input should be greater than 0"),
    ({"kind": "ensemble", "versions": ["3"]}, "needs at least 2 version(s), got 1"),
    ({"kind": "shadow", "primary": "3", "challenger": "3"}, "primary and challenger are the same version (3)"),
    ({"kind": "shadow", "primary": "3", "challenger": "4", "share": 1.5},
     "share: Input should be less than or equal to 1"),
    ({"kind": "champion", "versions": ["1"]}, "versions: Extra inputs are not permitted"),
    ({"kind": "fastest"}, "does not match any of the expected tags"),
])
def test_an_invalid_policy_is_refused_with_a_message_naming_the_fault(document: dict, message: str) -> None:
    with pytest.raises(InvalidPolicyError) as caught:
        parse_policy(document)
    assert message in str(caught.value)


def test_a_policy_reads_from_json_and_dumps_back_to_the_same_document() -> None:
    policy = parse_policy('{"kind": "weighted", "weights": {"1": 33.3, "2": 33.3, "3": 33.4}, "sticky": false}')
    assert isinstance(policy, WeightedPolicy) and policy.arms() == ["1", "2", "3"]
    assert parse_policy(policy.model_dump_json()) == policy
    assert parse_policy({"kind": "champion"}) == ChampionPolicy()


def test_the_champion_policy_needs_a_champion() -> None:
    rng = random.Random(0)
    assert choose(ChampionPolicy(), {}, caller_key=None, rng=rng, champion="7").version == "7"
    with pytest.raises(NoChampionError, match="no model version is registered as champion"):
        choose(ChampionPolicy(), {}, caller_key=None, rng=rng, champion=None)


def test_a_sticky_split_keeps_each_caller_on_its_version_and_follows_the_weights() -> None:
    policy = WeightedPolicy(weights={"3": 90, "4": 10})
    rng = random.Random(0)
    first = {f"caller-{i}": choose(policy, {}, caller_key=f"caller-{i}", rng=rng, champion=None).version
             for i in range(4000)}
    again = {key: choose(policy, {}, caller_key=key, rng=random.Random(99), champion=None).version for key in first}
    assert again == first
    share = sum(v == "4" for v in first.values()) / len(first)
    assert 0.08 < share < 0.12


def test_a_split_over_three_versions_without_caller_keys_follows_the_weights() -> None:
    policy = WeightedPolicy(weights={"1": 50, "2": 30, "3": 20}, sticky=True)
    rng = random.Random(1)
    counts = {"1": 0, "2": 0, "3": 0}
    for _ in range(10_000):
        counts[choose(policy, {}, caller_key=None, rng=rng, champion=None).version] += 1
    assert abs(counts["1"] - 5000) < 250 and abs(counts["2"] - 3000) < 250 and abs(counts["3"] - 2000) < 250


def test_thompson_sampling_sends_most_requests_to_the_arm_with_the_better_posterior() -> None:
    policy = ThompsonPolicy(versions=["1", "2"])
    stats = {"1": _arm(60, 40), "2": _arm(80, 20)}
    rng = random.Random(2)
    picks = [choose(policy, stats, caller_key=None, rng=rng, champion=None).version for _ in range(2000)]
    assert picks.count("2") / len(picks) > 0.95
    # Without any feedback both arms are equally likely.
    rng = random.Random(3)
    picks = [choose(policy, {}, caller_key=None, rng=rng, champion=None).version for _ in range(2000)]
    assert 0.45 < picks.count("2") / len(picks) < 0.55


def test_discounted_thompson_sampling_reads_the_discounted_sums() -> None:
    policy = ThompsonPolicy(versions=["1", "2"], discount=0.9)
    # Long ago arm 1 was good; recently arm 2 is: the discounted sums say so.
    stats = {"1": ArmStats(successes=900, failures=100, discounted_successes=0.5, discounted_failures=5.0),
             "2": ArmStats(successes=10, failures=90, discounted_successes=6.0, discounted_failures=0.5)}
    rng = random.Random(4)
    picks = [choose(policy, stats, caller_key=None, rng=rng, champion=None).version for _ in range(500)]
    assert picks.count("2") / len(picks) > 0.9
    undiscounted = ThompsonPolicy(versions=["1", "2"])
    picks = [choose(undiscounted, stats, caller_key=None, rng=rng, champion=None).version for _ in range(500)]
    assert picks.count("1") == 500


def test_update_discounted_multiplies_every_arm_then_adds_the_reward() -> None:
    stats: dict[str, ArmStats] = {}
    rewards = [("1", 1.0), ("2", 0.0), ("1", 1.0), ("2", 1.0)]
    for version, reward in rewards:
        update_discounted(stats, version, reward, 0.5)
    assert stats["1"].discounted_successes == pytest.approx(1 * 0.5**3 + 1 * 0.5**1)
    assert stats["2"].discounted_successes == pytest.approx(1.0)
    assert stats["2"].discounted_failures == pytest.approx(0.5**2)
    assert (stats["1"].successes, stats["1"].failures, stats["1"].feedbacks) == (2.0, 0.0, 2)


def test_epsilon_greedy_tries_untried_arms_then_exploits_the_best_mean() -> None:
    policy = EpsilonGreedyPolicy(versions=["1", "2"], epsilon=0.0)
    rng = random.Random(5)
    assert choose(policy, {"1": _arm(1, 0)}, caller_key=None, rng=rng, champion=None).version == "2"
    stats = {"1": _arm(70, 30), "2": _arm(75, 25)}
    assert {choose(policy, stats, caller_key=None, rng=rng, champion=None).version for _ in range(100)} == {"2"}
    exploring = EpsilonGreedyPolicy(versions=["1", "2"], epsilon=0.2)
    picks = [choose(exploring, stats, caller_key=None, rng=rng, champion=None).version for _ in range(5000)]
    assert 0.08 < picks.count("1") / len(picks) < 0.12  # half of the 20% exploration


def test_shadow_answers_from_the_primary_and_mirrors_a_share_to_the_challenger() -> None:
    policy = ShadowPolicy(primary="3", challenger="4", share=0.25)
    rng = random.Random(6)
    decisions = [choose(policy, {}, caller_key=None, rng=rng, champion=None) for _ in range(4000)]
    assert {d.version for d in decisions} == {"3"}
    assert 0.22 < sum(d.shadow == "4" for d in decisions) / len(decisions) < 0.28
    never = ShadowPolicy(primary="3", challenger="4", share=0.0)
    assert all(choose(never, {}, caller_key=None, rng=rng, champion=None).shadow is None for _ in range(100))


def test_an_ensemble_decision_names_its_members_and_its_own_arm() -> None:
    decision = choose(EnsemblePolicy(versions=["3", "4", "5"]), {}, caller_key=None, rng=random.Random(7), champion="3")
    assert (decision.version, decision.ensemble, decision.policy) == ("3+4+5", ["3", "4", "5"], "ensemble")


def test_combine_votes_breaks_ties_by_mean_probability_and_averages() -> None:
    a = {"prediction": "cat", "probabilities": {"cat": 0.6, "dog": 0.4}}
    b = {"prediction": "dog", "probabilities": {"cat": 0.1, "dog": 0.9}}
    c = {"prediction": "cat", "probabilities": {"cat": 0.55, "dog": 0.45}}
    assert combine("vote", [a, b, c])["prediction"] == "cat"
    tie = combine("vote", [a, b])
    assert tie["prediction"] == "dog" and tie["votes"] == {"cat": 1, "dog": 1}
    averaged = combine("average", [a, b, c])
    assert averaged["prediction"] == "dog"
    assert averaged["probabilities"] == pytest.approx({"cat": 1.25 / 3, "dog": 1.75 / 3})
    assert combine("vote", [{"prediction": "b"}, {"prediction": "a"}])["prediction"] == "a"
    with pytest.raises(ValueError, match="unknown combine method 'median'"):
        combine("median", [a])
    with pytest.raises(ValueError, match="average needs the predictions' probabilities"):
        combine("average", [{"prediction": "a"}])


def test_latency_quantiles_come_from_the_bucket_histogram() -> None:
    buckets = [0] * (len(LATENCY_BOUNDS_MS) + 1)
    for latency in [3.0] * 98 + [700.0, 20_000.0]:
        buckets[latency_bucket(latency)] += 1
    stats = ArmStats(requests=100, latency_buckets=buckets)
    assert 2 < (stats.p50_ms or 0) <= 5
    assert 500 < (stats.p99_ms or 0) <= 1000
    assert latency_quantile(buckets, 1.0) == LATENCY_BOUNDS_MS[-1]
    assert ArmStats().p50_ms is None and ArmStats().accuracy is None and ArmStats().error_rate is None
    with pytest.raises(ValueError, match="latency_buckets needs 14 counts"):
        ArmStats(latency_buckets=[1, 2])


def test_arm_summary_derives_accuracy_error_rate_and_agreement() -> None:
    summary = ArmStats(requests=10, errors=1, successes=6, failures=2, shadow_agreements=3,
                       shadow_comparisons=4).summary()
    assert summary["accuracy"] == 0.75 and summary["error_rate"] == 0.1 and summary["shadow_agreement"] == 0.75


def test_versions_a_policy_names_are_checked_against_the_registered_ones() -> None:
    check_versions(WeightedPolicy(weights={"1": 50, "2": 50}), ["1", "2", "3"])
    check_versions(ChampionPolicy(), [])
    with pytest.raises(InvalidPolicyError, match=r"unknown model version\(s\) 4, 7 in the thompson policy "
                                                 r"\(registered: 1, 2\)"):
        check_versions(ThompsonPolicy(versions=["1", "4", "7"]), [1, 2])
