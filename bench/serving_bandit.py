"""The serving router's bandits in simulation (issue 16): how fast Thompson sampling and
epsilon-greedy move traffic to the better model version.

Pure simulation over the very code the serving app runs (``mlcontract.routing.choose`` and the
in-memory twin of the DynamoDB update, ``update_discounted``): each request is routed, its
reward drawn from the chosen arm's Bernoulli rate with the same seeded generator, and fed back
at once. Every figure is the mean over ``--seeds`` seeds (seed ``s`` gives the same run every
time) of:

* regret against the best fixed arm: sum over requests of (best rate - chosen arm's rate), the
  expected reward lost by not always using the best version (pseudo-regret, lower variance
  than counting draws);
* gain over a uniform split: sum of (chosen arm's rate - mean rate), the reward won over
  splitting traffic evenly (positive: the bandit beats A/B at equal shares);
* the better arm's share of all ``--requests`` requests, and "at 2,000": its share of the last
  10% of them (requests 1,801-2,000), with the fraction of seeds where that is at least 90%.

A drifting scenario swaps the two rates half-way, where only a discounted Thompson sampling
recovers. Run: ``python bench/serving_bandit.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions" / "layers" / "model" / "python"))

from mlcontract.routing import (
    ArmStats,
    EpsilonGreedyPolicy,
    ThompsonPolicy,
    WeightedPolicy,
    choose,
    parse_policy,
    update_discounted,
)

GOAL_SHARE = 0.90


@dataclass(frozen=True)
class Scenario:
    name: str
    rates: tuple[float, ...]
    swap_at: int | None = None
    """Request index at which the first two rates swap (drifting rewards); None: stationary."""

    def rate(self, arm: int, t: int) -> float:
        if self.swap_at is not None and t >= self.swap_at and arm < 2:
            return self.rates[1 - arm]
        return self.rates[arm]

    def best(self, t: int) -> int:
        current = [self.rate(a, t) for a in range(len(self.rates))]
        return current.index(max(current))


SCENARIOS = (
    Scenario("70% vs 75%", (0.70, 0.75)),
    Scenario("50% vs 55%", (0.50, 0.55)),
    Scenario("90% vs 95%", (0.90, 0.95)),
    Scenario("3 arms 70/72/75%", (0.70, 0.72, 0.75)),
    Scenario("drift: 75%->70%, 70%->75% at half", (0.75, 0.70), swap_at=-1),
)

POLICIES: dict[str, dict[str, Any]] = {
    "thompson": {"kind": "thompson"},
    "thompson discount=0.998": {"kind": "thompson", "discount": 0.998},
    "epsilon_greedy 0.1": {"kind": "epsilon_greedy", "epsilon": 0.1},
    "uniform split": {"kind": "weighted", "sticky": False},
}


def make_policy(spec: dict[str, Any], versions: list[str]) -> Any:
    if spec["kind"] == "weighted":
        share = 100 / len(versions)
        weights = {v: share for v in versions[:-1]}
        weights[versions[-1]] = 100 - share * (len(versions) - 1)
        return WeightedPolicy(weights=weights, sticky=False)
    return parse_policy({**spec, "versions": versions})


def run_once(policy: Any, scenario: Scenario, requests: int, seed: int) -> dict[str, float]:
    """One seeded run: regret, gain over uniform, and the better arm's shares."""
    rng = random.Random(seed)
    versions = [str(i) for i in range(len(scenario.rates))]
    discount = policy.discount if isinstance(policy, ThompsonPolicy) else 1.0
    stats: dict[str, ArmStats] = {}
    regret = gain = 0.0
    better_all = better_window = 0
    window_start = requests - max(1, requests // 10)
    for t in range(requests):
        arm = int(choose(policy, stats, caller_key=None, rng=rng, champion=None).version)
        rate = scenario.rate(arm, t)
        current = [scenario.rate(a, t) for a in range(len(versions))]
        regret += max(current) - rate
        gain += rate - statistics.fmean(current)
        best = arm == scenario.best(t)
        better_all += best
        better_window += best and t >= window_start
        reward = 1.0 if rng.random() < rate else 0.0
        if isinstance(policy, ThompsonPolicy | EpsilonGreedyPolicy):
            update_discounted(stats, str(arm), reward, discount)
    return {"regret": regret, "gain_over_uniform": gain, "share_all": better_all / requests,
            "share_at_end": better_window / (requests - window_start)}


def evaluate(spec: dict[str, Any], scenario: Scenario, requests: int, seeds: int) -> dict[str, Any]:
    versions = [str(i) for i in range(len(scenario.rates))]
    policy = make_policy(spec, versions)
    if scenario.swap_at == -1:
        scenario = Scenario(scenario.name, scenario.rates, swap_at=requests // 2)
    runs = [run_once(policy, scenario, requests, seed) for seed in range(seeds)]
    out: dict[str, Any] = {k: round(statistics.fmean(r[k] for r in runs), 4) for k in runs[0]}
    out["seeds_reaching_goal"] = round(sum(r["share_at_end"] >= GOAL_SHARE for r in runs) / len(runs), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 300 requests, 4 seeds")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    requests, seeds = (300, 4) if args.quick else (args.requests, args.seeds)
    results: dict[str, dict[str, Any]] = {}
    for scenario in SCENARIOS:
        results[scenario.name] = {name: evaluate(spec, scenario, requests, seeds) for name, spec in POLICIES.items()}
    if args.json:
        print(json.dumps({"requests": requests, "seeds": seeds, "results": results}, indent=2))
        return
    print(f"{requests} requests, mean over {seeds} seeds; share at end = the better arm's share of the last "
          f"{max(1, requests // 10)} requests; goal {GOAL_SHARE:.0%}")
    header = f"{'scenario':36} {'policy':24} {'regret':>8} {'gain/unif':>9} {'share':>6} {'at end':>7} {'>=goal':>7}"
    print(header)
    for scenario, by_policy in results.items():
        for name, r in by_policy.items():
            print(f"{scenario:36} {name:24} {r['regret']:8.1f} {r['gain_over_uniform']:9.1f} {r['share_all']:6.1%} "
                  f"{r['share_at_end']:7.1%} {r['seeds_reaching_goal']:7.0%}")


if __name__ == "__main__":
    main()
