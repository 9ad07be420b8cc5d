"""rollout: the steps of ``statemachines/rollout.asl.json`` on the serving router's state.

Actions (``"action"``):

``route``: give the challenger ``share`` % of the traffic (a sticky weighted policy, the rest
to the champion); at the first step the challenger's counters start from zero. Answers the
challenger's feedback count now (``baseline``), so the next evaluation judges only feedback
that came after this share was set.

``evaluate``: read both versions' live counters and answer a ``verdict``:

- ``rollback`` when the challenger's error rate is above ``max_error_rate``, its p99 latency
  above ``max_p99_ms``, or its accuracy (mean reward from feedback) lower than the champion's
  by more than ``accuracy_margin``;
- ``wait`` while fewer than ``min_feedback`` feedbacks came for the challenger since ``route``;
- ``promote`` otherwise (this step is healthy: go on to the next share).

``finish``: the rollout's end (``outcome`` ``promoted`` or ``rolled_back``): every request to
the registry's champion again (after a promotion the state machine moved the champion alias
first, so that is the challenger).

Every action but a ``wait`` verdict is recorded in the model's decision log
(``stepkit serving decisions``, ``GET /models/{name}/decisions``).
"""

from __future__ import annotations

import os
from typing import Any, Literal

from mlcontract.events import SAFE_NAME, parse_event
from mlcontract.router_state import RouterState
from mlcontract.routing import ArmStats, ChampionPolicy, WeightedPolicy
from mlcontract.service import Service
from pydantic import BaseModel, ConfigDict, Field, field_validator

service = Service("rollout")
logger = service.logger


class RolloutEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["route", "evaluate", "finish"]
    model_name: str = Field(pattern=SAFE_NAME)
    champion: str
    challenger: str
    execution: str | None = None
    step: int = Field(0, ge=0)
    share: float | None = Field(None, gt=0, le=100)
    baseline_feedbacks: int = Field(0, ge=0)
    min_feedback: int = Field(50, ge=1)
    accuracy_margin: float = Field(0.02, ge=0, le=1)
    max_error_rate: float = Field(0.05, ge=0, le=1)
    max_p99_ms: float | None = Field(None, gt=0)
    outcome: Literal["promoted", "rolled_back"] | None = None
    reasons: list[str] = Field(default_factory=list)

    @field_validator("champion", "challenger", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return str(value)


def run(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = parse_event(event, RolloutEvent, "rollout")
    state = RouterState(os.environ["ROUTER_TABLE"])
    if request.action == "route":
        return route(state, request)
    if request.action == "evaluate":
        return evaluate(state, request)
    return finish(state, request)


def _record(state: RouterState, request: RolloutEvent, decision: dict[str, Any]) -> dict[str, Any]:
    entry = {"champion": request.champion, "challenger": request.challenger, "execution": request.execution,
             **decision}
    state.record_decision(request.model_name, entry)
    logger.info("rollout decision", extra={"model_name": request.model_name, **entry})
    return entry


def route(state: RouterState, request: RolloutEvent) -> dict[str, Any]:
    if request.share is None:
        raise ValueError("route needs share (the challenger's percentage of traffic)")
    if request.step == 0:
        state.reset_arm(request.model_name, request.challenger)
    weights = ({request.challenger: 100.0} if request.share >= 100 else
               {request.champion: 100.0 - request.share, request.challenger: request.share})
    revision = state.set_policy(request.model_name, WeightedPolicy(weights=weights, sticky=True))
    baseline = (state.stats(request.model_name, [request.challenger]).get(request.challenger) or ArmStats()).feedbacks
    _record(state, request, {"action": "canary" if request.step == 0 else "shift", "step": request.step,
                             "share": request.share, "weights": weights, "revision": revision})
    service.count("RolloutShifts", 1)
    return {"share": request.share, "baseline": baseline, "revision": revision}


def verdict(champion: ArmStats, challenger: ArmStats, request: RolloutEvent) -> tuple[str, list[str]]:
    """The verdict on the challenger's counters against the champion's, and why."""
    reasons = []
    if challenger.error_rate is not None and challenger.error_rate > request.max_error_rate:
        reasons.append(f"error rate {challenger.error_rate:.3f} > {request.max_error_rate}")
    p99 = challenger.p99_ms
    if request.max_p99_ms is not None and p99 is not None and p99 > request.max_p99_ms:
        reasons.append(f"p99 latency {p99:.1f} ms > {request.max_p99_ms} ms")
    if reasons:
        return "rollback", reasons
    new_feedback = challenger.feedbacks - request.baseline_feedbacks
    if new_feedback < request.min_feedback:
        return "wait", [f"{new_feedback} feedback(s) for the challenger at this step, {request.min_feedback} needed"]
    if champion.accuracy is not None and challenger.accuracy is not None \
            and challenger.accuracy < champion.accuracy - request.accuracy_margin:
        return "rollback", [f"accuracy {challenger.accuracy:.3f} < the champion's {champion.accuracy:.3f} "
                            f"- margin {request.accuracy_margin}"]
    accuracy = "n/a" if challenger.accuracy is None else f"{challenger.accuracy:.3f}"
    champion_accuracy = "n/a" if champion.accuracy is None else f"{champion.accuracy:.3f}"
    return "promote", [f"accuracy {accuracy} (champion {champion_accuracy}), error rate "
                       f"{challenger.error_rate or 0:.3f}, p99 {p99 or 0:.1f} ms: healthy"]


def evaluate(state: RouterState, request: RolloutEvent) -> dict[str, Any]:
    stats = state.stats(request.model_name, [request.champion, request.challenger])
    champion = stats.get(request.champion) or ArmStats()
    challenger = stats.get(request.challenger) or ArmStats()
    outcome, reasons = verdict(champion, challenger, request)
    metrics = {"champion": _metrics(champion), "challenger": _metrics(challenger)}
    service.count("RolloutEvaluations", 1)
    if outcome != "wait":
        _record(state, request, {"action": "evaluate", "step": request.step, "share": request.share,
                                 "verdict": outcome, "reasons": reasons, "metrics": metrics})
    return {"verdict": outcome, "reasons": reasons, "metrics": metrics}


def _metrics(stats: ArmStats) -> dict[str, Any]:
    return {"requests": stats.requests, "errors": stats.errors, "feedbacks": stats.feedbacks,
            "accuracy": stats.accuracy, "error_rate": stats.error_rate, "p99_ms": stats.p99_ms}


def finish(state: RouterState, request: RolloutEvent) -> dict[str, Any]:
    if request.outcome is None:
        raise ValueError("finish needs outcome (promoted or rolled_back)")
    revision = state.set_policy(request.model_name, ChampionPolicy())
    entry = _record(state, request, {"action": request.outcome, "reasons": request.reasons, "revision": revision})
    service.count("RolloutsPromoted" if request.outcome == "promoted" else "RolloutsRolledBack", 1)
    return entry


handler = service.handler(run)
