"""The serving API's request bodies (checked before anything changes) and its /models view."""

from __future__ import annotations

from typing import Any

from chalicelib.backend import Backend, ServingError
from mlcontract.errors import InvalidPolicyError
from mlcontract.routing import ArmStats, ChampionPolicy, ShadowPolicy, WeightedPolicy, check_versions, parse_policy
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

MAX_RECORDS = 1000


def predict_records(body: Any) -> tuple[list[Any], str | None]:
    """The records of a /predict body and its optional caller key; 400 for another shape."""
    if not isinstance(body, dict) or ("records" in body) == ("record" in body):
        raise ServingError(400, 'the body is a JSON object with "records" (a list) or "record" (one record)')
    unknown = sorted(set(body) - {"records", "record", "caller"})
    if unknown:
        raise ServingError(400, f"unknown field(s) {', '.join(map(repr, unknown))} (records, record, caller)")
    records = body["records"] if "records" in body else [body["record"]]
    if not isinstance(records, list) or not records:
        raise ServingError(400, '"records" is a non-empty list')
    if len(records) > MAX_RECORDS:
        raise ServingError(400, f'at most {MAX_RECORDS} records per request ("records" has {len(records)})')
    if not all(isinstance(r, dict | list) for r in records):
        raise ServingError(400, "each record is an object of feature values by name (or a list of them)")
    caller = body.get("caller")
    if caller is not None and not isinstance(caller, str | int):
        raise ServingError(400, '"caller" is a string')
    return records, None if caller is None else str(caller)


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=200)
    label: str | int | float | bool | None = None
    reward: float | None = Field(None, ge=0, le=1)

    @model_validator(mode="after")
    def _one(self) -> FeedbackRequest:
        if (self.label is None) == (self.reward is None):
            raise ValueError('give exactly one of "label" (the observed class) and "reward" (a number in [0, 1])')
        return self


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                     for e in exc.errors(include_url=False))


def feedback_request(body: Any) -> FeedbackRequest:
    if not isinstance(body, dict):
        raise ServingError(400, 'the body is a JSON object {"request_id", "label" | "reward"}')
    try:
        return FeedbackRequest.model_validate(body)
    except ValidationError as exc:
        raise ServingError(422, _problems(exc)) from None


def policy_request(body: Any, index: dict[str, Any], model_name: str) -> tuple[Any, int | None, bool]:
    """The policy of a PUT /models/{name}/policy body, its ``expected_revision`` and
    ``reset_arms`` (the policy's versions start counting from zero: a new experiment); 422
    when it is not a valid policy or names a version the registry does not have."""
    if not isinstance(body, dict):
        raise ServingError(400, 'the body is a routing policy, a JSON object with "kind"')
    document = dict(body)
    expected = document.pop("expected_revision", None)
    if expected is not None and (not isinstance(expected, int) or isinstance(expected, bool) or expected < 0):
        raise ServingError(422, "expected_revision is an integer >= 0")
    reset = document.pop("reset_arms", False)
    if not isinstance(reset, bool):
        raise ServingError(422, "reset_arms is true or false")
    try:
        policy = parse_policy(document)
        check_versions(policy, sorted(index.get("versions") or {}, key=int))
    except InvalidPolicyError as exc:
        raise ServingError(422, f"model '{model_name}': {exc}") from None
    return policy, expected, reset


def configured_shares(policy: Any, champion: str | None) -> dict[str, float]:
    """The share of traffic (%) the policy gives each version when it fixes one; adaptive
    policies (Thompson, ε-greedy) fix none, an ensemble sends everything to every member."""
    if isinstance(policy, ChampionPolicy):
        return {champion: 100.0} if champion else {}
    if isinstance(policy, WeightedPolicy):
        return {v: float(w) for v, w in policy.weights.items()}
    if isinstance(policy, ShadowPolicy):
        return {policy.primary: 100.0}
    if policy.kind == "ensemble":
        return {v: 100.0 for v in policy.versions}
    return {}


def models_view(backend: Backend, model_name: str) -> dict[str, Any]:
    """GET /models: every registered version with its aliases, configured and observed
    traffic share and live metrics; arms that are not versions (ensembles) listed apart."""
    index = backend.index(model_name)
    policy, revision, stats = backend.state.view(model_name)
    champion = Backend.champion(index)
    shares = configured_shares(policy, champion)
    total = sum(s.requests for s in stats.values())
    aliases: dict[str, list[str]] = {}
    for alias, version in (index.get("aliases") or {}).items():
        aliases.setdefault(str(version), []).append(alias)

    def arm(version: str) -> dict[str, Any]:
        counters = stats.get(version) or ArmStats()
        return {"share": shares.get(version, 0.0 if shares else None),
                "observed_share": round(counters.requests / total, 4) if total else None,
                "metrics": counters.summary()}

    versions = []
    for version, entry in sorted((index.get("versions") or {}).items(), key=lambda kv: int(kv[0])):
        versions.append({"version": version, "aliases": sorted(aliases.get(version, [])),
                         "family": entry.get("family"), "metric": entry.get("metric"),
                         "test_score": entry.get("test_score"), "created_at": entry.get("created_at"), **arm(version)})
    others = {name: arm(name) for name in stats if name not in (index.get("versions") or {})}
    return {"model_name": model_name, "champion": champion, "policy": policy.model_dump(), "revision": revision,
            "requests": total, "versions": versions, "other_arms": others}
