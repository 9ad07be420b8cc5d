"""Routing a prediction request between model versions: the policies, per-arm statistics and
the choice itself, as pure code (no I/O), so the serving app, the rollout and the bandit
simulation in ``bench/serving_bandit.py`` run the same decisions.

A *policy* says how one model's traffic is split (:data:`RoutingPolicy`, discriminated by
``kind``). :func:`choose` applies it to the live per-version counters (:class:`ArmStats`, kept
in DynamoDB by :mod:`mlcontract.router_state`) with a caller-supplied ``random.Random``, so a
seeded generator gives a reproducible sequence of decisions. :func:`combine` merges an
ensemble's predictions.

Thompson sampling with a ``discount`` below 1 is *discounted* Thompson sampling (Raj & Kalyani,
2017): at every feedback every arm's past successes and failures are multiplied by the discount
before the new reward is added, so an arm whose reward drifts is re-evaluated.
:func:`update_discounted` is that update in memory; the DynamoDB state keeps the same sums with
atomic ADDs only (see :mod:`mlcontract.router_state`).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from mlcontract.errors import InvalidPolicyError, NoChampionError

#: Upper bounds (ms, inclusive) of the latency histogram's buckets; one more bucket counts the
#: rest. Fixed so that each bucket is a counter DynamoDB can ADD to atomically.
LATENCY_BOUNDS_MS: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)

_WEIGHT_TOLERANCE = 1e-6


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def arms(self) -> list[str]:
        """The versions this policy may send a request to (the champion's is not known here)."""
        return []


def _distinct(versions: list[str], least: int) -> list[str]:
    if len(versions) < least:
        raise ValueError(f"needs at least {least} version(s), got {len(versions)}")
    repeated = sorted(v for v, n in Counter(versions).items() if n > 1)
    if repeated:
        raise ValueError(f"version(s) listed more than once: {', '.join(repeated)}")
    return versions


class _OverVersions(_Policy):
    """A policy over a list of distinct versions (at least ``least_versions``)."""

    versions: list[str]
    least_versions: ClassVar[int] = 1

    @field_validator("versions")
    @classmethod
    def _versions(cls, versions: list[str]) -> list[str]:
        return _distinct(versions, cls.least_versions)

    def arms(self) -> list[str]:
        return list(self.versions)


class ChampionPolicy(_Policy):
    """Every request goes to the registry's champion."""

    kind: Literal["champion"] = "champion"


class WeightedPolicy(_Policy):
    """A fixed split over any number of versions; weights > 0 summing to 100. ``sticky``: a
    stable hash of the caller key picks the arm, so a caller keeps its version while the
    weights stay the same."""

    kind: Literal["weighted"] = "weighted"
    weights: dict[str, float]
    sticky: bool = True

    @field_validator("weights")
    @classmethod
    def _weights(cls, weights: dict[str, float]) -> dict[str, float]:
        if not weights:
            raise ValueError("weights must name at least one version")
        bad = sorted(v for v, w in weights.items() if not (w > 0 and math.isfinite(w)))
        if bad:
            raise ValueError(f"weights must be greater than 0 (version(s) {', '.join(bad)})")
        total = sum(weights.values())
        if abs(total - 100) > _WEIGHT_TOLERANCE:
            raise ValueError(f"weights must sum to 100, they sum to {total:g}")
        return weights

    def arms(self) -> list[str]:
        return list(self.weights)


class ThompsonPolicy(_OverVersions):
    """Beta-Bernoulli Thompson sampling over ``versions``, fed by feedback rewards in [0, 1];
    ``alpha``/``beta`` are the prior's pseudo-counts; ``discount`` in (0, 1] (1: no
    forgetting)."""

    kind: Literal["thompson"] = "thompson"
    discount: float = Field(default=1.0, gt=0, le=1)
    alpha: float = Field(default=1.0, gt=0)
    beta: float = Field(default=1.0, gt=0)


class EpsilonGreedyPolicy(_OverVersions):
    """With probability ``epsilon`` a uniformly random version, otherwise the one with the best
    mean reward so far (a version without feedback yet is tried first)."""

    kind: Literal["epsilon_greedy"] = "epsilon_greedy"
    epsilon: float = Field(default=0.1, ge=0, le=1)


class ShadowPolicy(_Policy):
    """Every answer from ``primary``; a ``share`` of requests is also scored by ``challenger``
    in the background (logged and compared, never returned)."""

    kind: Literal["shadow"] = "shadow"
    primary: str
    challenger: str
    share: float = Field(default=1.0, ge=0, le=1)

    @model_validator(mode="after")
    def _different(self) -> ShadowPolicy:
        if self.primary == self.challenger:
            raise ValueError(f"primary and challenger are the same version ({self.primary})")
        return self

    def arms(self) -> list[str]:
        return [self.primary, self.challenger]


class EnsemblePolicy(_OverVersions):
    """Every request scored by all ``versions``, combined by majority vote or by averaging the
    class probabilities (:func:`combine`)."""

    kind: Literal["ensemble"] = "ensemble"
    method: Literal["vote", "average"] = "vote"
    least_versions: ClassVar[int] = 2


RoutingPolicy = Annotated[
    ChampionPolicy | WeightedPolicy | ThompsonPolicy | EpsilonGreedyPolicy | ShadowPolicy | EnsemblePolicy,
    Field(discriminator="kind"),
]
POLICY_ADAPTER: TypeAdapter[Any] = TypeAdapter(RoutingPolicy)


def parse_policy(document: Any) -> Any:
    """A :data:`RoutingPolicy` from its JSON document (a dict or a JSON string);
    :class:`~mlcontract.errors.InvalidPolicyError` naming the field at fault otherwise (the
    policy classes themselves raise pydantic's ``ValidationError``, a ``ValueError`` too)."""
    try:
        if isinstance(document, str | bytes):
            return POLICY_ADAPTER.validate_json(document)
        return POLICY_ADAPTER.validate_python(document)
    except ValidationError as exc:
        raise InvalidPolicyError(policy_error_text(exc)) from None


def policy_error_text(exc: ValidationError) -> str:
    """pydantic's errors in one line: ``weights: Value error, weights must sum to 100, ...``."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "invalid routing policy: " + "; ".join(parts)


def check_versions(policy: Any, registered: Iterable[str]) -> None:
    """:class:`~mlcontract.errors.InvalidPolicyError` naming every version ``policy`` routes to
    that is not among the ``registered`` ones (the registry's, which this module cannot read)."""
    known = [str(v) for v in registered]
    unknown = [v for v in policy.arms() if v not in known]
    if unknown:
        raise InvalidPolicyError(f"unknown model version(s) {', '.join(unknown)} in the {policy.kind} policy "
                                 f"(registered: {', '.join(known) or 'none'})")


def ensemble_arm(versions: Sequence[str]) -> str:
    """The arm name an ensemble's answers are counted under (``"3+4"``): the combined model is
    measured like any version, so its accuracy can be compared with its members'."""
    return "+".join(versions)


class ArmStats(BaseModel):
    """One version's live counters (all sums, so DynamoDB can ADD to each atomically).

    ``successes``/``failures`` are the sums of rewards and of (1 - reward) over feedback;
    ``discounted_successes``/``discounted_failures`` the same sums with each term multiplied by
    the discount once per later feedback (None when no discount is in use)."""

    model_config = ConfigDict(extra="forbid")

    requests: int = 0
    errors: int = 0
    feedbacks: int = 0
    successes: float = 0.0
    failures: float = 0.0
    reward_sum: float = 0.0
    latency_ms_sum: float = 0.0
    latency_buckets: list[int] = Field(default_factory=lambda: [0] * (len(LATENCY_BOUNDS_MS) + 1))
    shadow_agreements: int = 0
    shadow_comparisons: int = 0
    discounted_successes: float | None = None
    discounted_failures: float | None = None

    @field_validator("latency_buckets")
    @classmethod
    def _buckets(cls, buckets: list[int]) -> list[int]:
        if len(buckets) != len(LATENCY_BOUNDS_MS) + 1:
            raise ValueError(f"latency_buckets needs {len(LATENCY_BOUNDS_MS) + 1} counts, got {len(buckets)}")
        return buckets

    @property
    def accuracy(self) -> float | None:
        """The mean reward from feedback (for 0/1 rewards, the accuracy); None before any."""
        total = self.successes + self.failures
        return self.successes / total if total > 0 else None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def mean_latency_ms(self) -> float | None:
        return self.latency_ms_sum / self.requests if self.requests else None

    @property
    def shadow_agreement(self) -> float | None:
        return self.shadow_agreements / self.shadow_comparisons if self.shadow_comparisons else None

    @property
    def p50_ms(self) -> float | None:
        return latency_quantile(self.latency_buckets, 0.50)

    @property
    def p99_ms(self) -> float | None:
        return latency_quantile(self.latency_buckets, 0.99)

    def summary(self) -> dict[str, Any]:
        """The counters and the figures derived from them, as JSON."""
        return {**self.model_dump(exclude={"discounted_successes", "discounted_failures"}),
                "accuracy": self.accuracy, "error_rate": self.error_rate, "p50_ms": self.p50_ms,
                "p99_ms": self.p99_ms, "mean_latency_ms": self.mean_latency_ms,
                "shadow_agreement": self.shadow_agreement}


def latency_bucket(latency_ms: float) -> int:
    """The index of the histogram bucket a latency falls in."""
    for index, bound in enumerate(LATENCY_BOUNDS_MS):
        if latency_ms <= bound:
            return index
    return len(LATENCY_BOUNDS_MS)


def latency_quantile(buckets: Sequence[int], q: float) -> float | None:
    """The ``q`` quantile estimated from the histogram, interpolating linearly inside the
    bucket holding it (as Prometheus' ``histogram_quantile`` does); the open last bucket
    answers its lower bound. None for an empty histogram."""
    total = sum(buckets)
    if total <= 0:
        return None
    rank = q * total
    seen = 0.0
    for index, count in enumerate(buckets):
        if count and seen + count >= rank:
            if index == len(LATENCY_BOUNDS_MS):
                return LATENCY_BOUNDS_MS[-1]
            lower = LATENCY_BOUNDS_MS[index - 1] if index else 0.0
            upper = LATENCY_BOUNDS_MS[index]
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
    return LATENCY_BOUNDS_MS[-1]


class Decision(BaseModel):
    """Which version answers (``version``), which one also scores in the background
    (``shadow``), which ones are combined (``ensemble``; ``version`` is then their
    :func:`ensemble_arm`), and the policy kind that decided."""

    model_config = ConfigDict(frozen=True)

    version: str
    shadow: str | None = None
    ensemble: list[str] | None = None
    policy: str


def sticky_point(caller_key: str) -> float:
    """A stable point in [0, 100) for a caller key (SHA-256, so the same on every worker and
    across restarts, unlike ``hash()``)."""
    digest = hashlib.sha256(caller_key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def _weighted(policy: WeightedPolicy, caller_key: str | None, rng: random.Random) -> str:
    point = sticky_point(caller_key) if policy.sticky and caller_key else rng.random() * 100
    total = sum(policy.weights.values())
    cumulative = 0.0
    for version, weight in policy.weights.items():
        cumulative += weight * 100 / total
        if point < cumulative:
            return version
    return list(policy.weights)[-1]


def _beta_counts(stats: ArmStats | None, discounted: bool) -> tuple[float, float]:
    if stats is None:
        return 0.0, 0.0
    if discounted and stats.discounted_successes is not None:
        return stats.discounted_successes, stats.discounted_failures or 0.0
    return stats.successes, stats.failures


def _thompson(policy: ThompsonPolicy, stats: Mapping[str, ArmStats], rng: random.Random) -> str:
    best, best_draw = policy.versions[0], -1.0
    for version in policy.versions:
        successes, failures = _beta_counts(stats.get(version), policy.discount < 1)
        draw = rng.betavariate(policy.alpha + max(successes, 0.0), policy.beta + max(failures, 0.0))
        if draw > best_draw:
            best, best_draw = version, draw
    return best


def _epsilon_greedy(policy: EpsilonGreedyPolicy, stats: Mapping[str, ArmStats], rng: random.Random) -> str:
    if rng.random() < policy.epsilon:
        return rng.choice(policy.versions)
    untried = [v for v in policy.versions if stats.get(v) is None or stats[v].accuracy is None]
    if untried:
        return rng.choice(untried)
    means = {v: stats[v].accuracy or 0.0 for v in policy.versions}
    top = max(means.values())
    return rng.choice([v for v in policy.versions if means[v] == top])


def choose(policy: Any, stats: Mapping[str, ArmStats], *, caller_key: str | None, rng: random.Random,
           champion: str | None) -> Decision:
    """The routing decision for one request. ``champion`` is the registry's champion version
    (needed by the ``champion`` policy only; :class:`~mlcontract.errors.NoChampionError` when
    it is None)."""
    kind = policy.kind
    if isinstance(policy, ChampionPolicy):
        if champion is None:
            raise NoChampionError("no model version is registered as champion")
        return Decision(version=champion, policy=kind)
    if isinstance(policy, WeightedPolicy):
        return Decision(version=_weighted(policy, caller_key, rng), policy=kind)
    if isinstance(policy, ThompsonPolicy):
        return Decision(version=_thompson(policy, stats, rng), policy=kind)
    if isinstance(policy, EpsilonGreedyPolicy):
        return Decision(version=_epsilon_greedy(policy, stats, rng), policy=kind)
    if isinstance(policy, ShadowPolicy):
        shadow = policy.challenger if rng.random() < policy.share else None
        return Decision(version=policy.primary, shadow=shadow, policy=kind)
    if isinstance(policy, EnsemblePolicy):
        return Decision(version=ensemble_arm(policy.versions), ensemble=list(policy.versions), policy=kind)
    raise TypeError(f"not a routing policy: {policy!r}")


def update_discounted(stats: dict[str, ArmStats], version: str, reward: float, discount: float) -> None:
    """Apply one feedback in memory, as the DynamoDB state does with ADDs: every arm's
    discounted sums are multiplied by ``discount``, then ``version``'s get the reward; the plain
    sums and ``feedbacks`` of ``version`` grow by the reward as well."""
    for arm in stats.values():
        arm.discounted_successes = (arm.discounted_successes or 0.0) * discount
        arm.discounted_failures = (arm.discounted_failures or 0.0) * discount
    arm = stats.setdefault(version, ArmStats(discounted_successes=0.0, discounted_failures=0.0))
    arm.feedbacks += 1
    arm.successes += reward
    arm.failures += 1 - reward
    arm.reward_sum += reward
    arm.discounted_successes = (arm.discounted_successes or 0.0) + reward
    arm.discounted_failures = (arm.discounted_failures or 0.0) + 1 - reward


def _probabilities(prediction: Mapping[str, Any]) -> dict[str, float]:
    return {str(k): float(v) for k, v in (prediction.get("probabilities") or {}).items()}


def combine(method: str, predictions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One prediction from an ensemble's (each ``{"prediction": label, "probabilities": {...}}``,
    probabilities optional for ``vote``). ``vote``: the majority label, ties broken by the higher
    mean probability of the tied labels, then by the label itself; ``average``: the class with
    the highest mean probability, with the averaged probabilities."""
    if not predictions:
        raise ValueError("combine needs at least one prediction")
    probabilities = [_probabilities(p) for p in predictions]
    classes = sorted({c for p in probabilities for c in p})
    mean = {c: sum(p.get(c, 0.0) for p in probabilities) / len(predictions) for c in classes}
    if method == "vote":
        votes = Counter(str(p["prediction"]) for p in predictions)
        top = max(votes.values())
        tied = sorted(label for label, n in votes.items() if n == top)
        label = max(tied, key=lambda c: (mean.get(c, 0.0), [-ord(ch) for ch in c]))
        out: dict[str, Any] = {"prediction": label, "votes": dict(sorted(votes.items()))}
        if classes:
            out["probabilities"] = mean
        return out
    if method == "average":
        if not classes:
            raise ValueError("average needs the predictions' probabilities")
        label = max(classes, key=lambda c: (mean[c], [-ord(ch) for ch in c]))
        return {"prediction": label, "probabilities": mean}
    raise ValueError(f"unknown combine method {method!r} (vote or average)")
