"""A run's usage priced as STANDARD and as EXPRESS, side by side, with a per-state breakdown
(the document ``stepkit cost --json`` prints)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from stepkit.estimate.cost import (
    express_billed_memory_mb,
    express_billed_seconds,
    express_gb_seconds,
    express_usd,
    lambda_gb_seconds,
    lambda_usd,
    standard_usd,
)
from stepkit.estimate.prices import LambdaPrices, PriceTable
from stepkit.estimate.usage import LambdaInvocation, RunUsage

NOT_COUNTED = (
    "S3 and SQS requests made by the run (the endpoint does not attribute them to an execution)",
    "CloudWatch Logs, data transfer and other services the run called",
)


def _gb_seconds_by_architecture(invocations: list[LambdaInvocation], architecture: str | None) -> dict[str, float]:
    by_arch: dict[str, float] = defaultdict(float)
    for i in invocations:
        by_arch[architecture or i.architecture] += lambda_gb_seconds(i.memory_mb, i.billed)
    return dict(by_arch)


def _lambda_figures(invocations: list[LambdaInvocation], prices: LambdaPrices | None,
                    architecture: str | None) -> dict[str, Any]:
    by_arch = _gb_seconds_by_architecture(invocations, architecture)
    return {
        "requests": len(invocations),
        "billed_ms": sum(i.billed for i in invocations),
        "init_ms": round(sum(i.init_duration_ms or 0.0 for i in invocations), 2),
        "gb_seconds": sum(by_arch.values()),
        "usd": lambda_usd(len(invocations), by_arch, prices) if prices else None,
    }


def price_run(usage: RunUsage, table: PriceTable, region: str, *, architecture: str | None = None,
              free_tier: bool = False) -> dict[str, Any]:
    """The cost document of one execution. ``architecture`` prices every function as that
    architecture (default: each one's own); ``free_tier`` adds what the run would cost were it
    the month's only usage (kept apart: the free tier is per account, not per run)."""
    prices = table.region(region)
    transitions = usage.transitions
    durations = usage.execution_durations or [usage.duration_seconds]
    billed = [express_billed_seconds(d) for d in durations]
    memory_mb = express_billed_memory_mb(usage.definition_bytes, usage.data_bytes, usage.map_parallel_steps)
    gb_s = sum(express_gb_seconds(b, memory_mb) for b in billed)
    lam = _lambda_figures(usage.lambda_invocations, prices.lambda_, architecture)
    express = {
        "requests": len(durations),
        "duration_seconds": round(sum(durations), 3),
        "billed_seconds": round(sum(billed), 1),
        "billed_memory_mb": memory_mb,
        "gb_seconds": gb_s,
        "usd": express_usd(len(durations), gb_s, prices.express) if prices.express else None,
    }
    document: dict[str, Any] = {
        "region": region,
        "prices_checked": table.checked,
        "architecture": architecture,
        "standard": {"transitions": transitions, "usd": standard_usd(transitions, prices.standard)},
        "express": express,
        "lambda": lam,
        "states": [_state_row(s, prices.standard, prices.lambda_, architecture) for s in usage.states.values()],
        "missing_prices": [n for n, p in (("express", prices.express), ("lambda", prices.lambda_)) if p is None],
        "not_counted": list(NOT_COUNTED),
    }
    if usage.unmatched_invocations:
        document["lambda"]["unmatched"] = len(usage.unmatched_invocations)
    if free_tier:
        free = table.free_tier
        document["free_tier"] = {
            "standard_transitions": free.standard_transitions,
            "lambda_requests": free.lambda_requests,
            "lambda_gb_seconds": free.lambda_gb_seconds,
            "standard_usd": standard_usd(transitions, prices.standard, free.standard_transitions),
            "lambda_usd": lambda_usd(lam["requests"], _gb_seconds_by_architecture(usage.lambda_invocations,
                                                                                   architecture),
                                     prices.lambda_, free.lambda_requests, free.lambda_gb_seconds)
            if prices.lambda_ else None,
        }
    return document


def _state_row(state: Any, standard: Any, lambda_prices: LambdaPrices | None, architecture: str | None) -> dict:
    lam = _lambda_figures(state.lambda_invocations, lambda_prices, architecture)
    return {
        "name": state.name,
        "entries": state.entries,
        "retries": state.retries,
        "transitions": state.transitions,
        "standard_usd": standard_usd(state.transitions, standard),
        "lambda_requests": lam["requests"],
        "lambda_gb_seconds": lam["gb_seconds"],
        "lambda_usd": lam["usd"],
    }
