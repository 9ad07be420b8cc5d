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
from stepkit.estimate.prices import (
    ExpressPrices,
    LambdaPrices,
    PriceTable,
    RegionPrices,
    RequestPrices,
    StandardPrices,
)
from stepkit.estimate.usage import (
    ChildUsage,
    LambdaInvocation,
    RunUsage,
    ServiceRequests,
    function_calls,
    function_requests,
)

NOT_COUNTED = (
    "S3 and SQS requests of a Distributed Map's ItemReader and ResultWriter (the endpoint does not attribute "
    "them to an execution)",
    "CloudWatch Logs, data transfer and other services the run called",
)
FUNCTIONS_UNKNOWN = (
    "S3 and SQS requests of the Lambda functions themselves, for invocations whose logs do not list them "
    "(Lambda on AWS does not: that needs CloudTrail data events; an invocation stopped by a timeout or a crash "
    "does not either)"
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
    lam = _lambda_figures(usage.lambda_invocations, prices.lambda_, architecture)
    express = _express_figures([usage], prices.express, usage.execution_durations)
    children = _children_figures(usage.map_children, prices.standard, prices.express)
    document: dict[str, Any] = {
        "region": region,
        "prices_checked": table.checked,
        "architecture": architecture,
        "standard": {"transitions": transitions, "usd": standard_usd(transitions, prices.standard)},
        "express": express,
        "lambda": lam,
        "states": [_state_row(s, prices, architecture) for s in usage.states.values()],
        "map_children": children,
        "requests": _request_figures(usage.all_requests, prices.requests),
        "function_requests": _function_figures(usage.lambda_invocations, prices.requests),
        "missing_prices": [n for n, p in (("express", prices.express), ("lambda", prices.lambda_)) if p is None]
        + (["requests"] if prices.requests is None and _made_requests(usage) else []),
        "not_counted": list(NOT_COUNTED),
    }
    document["functions_requests_known"] = document["function_requests"]["known"]
    if not document["functions_requests_known"]:
        document["not_counted"].insert(0, FUNCTIONS_UNKNOWN)
    document["total"] = _totals(document)
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


def _express_figures(runs: list[RunUsage], prices: ExpressPrices | None,
                     durations: list[float] | None = None) -> dict[str, Any]:
    """Express executions: one request each, each one's duration x its own billed memory
    (``durations``: several executions of one run's shape, a simulation's)."""
    pairs = [(d, run) for run in runs for d in (durations or run.execution_durations or [run.duration_seconds])]
    billed = [(express_billed_seconds(d), express_billed_memory_mb(r.definition_bytes, r.data_bytes,
                                                                   r.map_parallel_steps)) for d, r in pairs]
    gb_s = sum(express_gb_seconds(seconds, memory) for seconds, memory in billed)
    return {
        "requests": len(pairs),
        "duration_seconds": round(sum(d for d, _ in pairs), 3),
        "billed_seconds": round(sum(seconds for seconds, _ in billed), 1),
        "billed_memory_mb": max((memory for _, memory in billed), default=0),
        "gb_seconds": gb_s,
        "usd": express_usd(len(pairs), gb_s, prices) if prices else None,
    }


def _children_figures(children: list[ChildUsage], standard: StandardPrices,
                      express: ExpressPrices | None) -> dict[str, Any]:
    """A Distributed Map's children, each billed as its own type; their Lambda invocations are
    in the run's ``lambda`` figures."""
    standard_runs = [c.usage for c in children if not c.express]
    transitions = sum(run.transitions for run in standard_runs)
    express_runs = _express_figures([c.usage for c in children if c.express], express)
    standard_usd_ = standard_usd(transitions, standard)
    missing = express_runs["usd"] is None and express_runs["requests"] > 0
    usd = None if missing else standard_usd_ + (express_runs["usd"] or 0.0)
    return {"standard": {"executions": len(standard_runs), "transitions": transitions, "usd": standard_usd_},
            "express": express_runs, "usd": usd}


def _request_figures(requests: ServiceRequests, prices: RequestPrices | None) -> dict[str, Any]:
    """The run's S3 and SQS requests (its Task states'), priced; None when the table has no
    request prices for the region and the run made some."""
    s3 = {"tier1": requests.s3_tier1, "tier2": requests.s3_tier2, "free": requests.s3_free}
    sqs = {"standard": requests.sqs_standard, "fifo": requests.sqs_fifo}
    if prices is None:
        usd = None if requests.s3_tier1 + requests.s3_tier2 + requests.sqs_standard + requests.sqs_fifo else 0.0
        return {"s3": s3 | {"usd": usd}, "sqs": sqs | {"usd": usd}, "usd": usd}
    s3_usd = (requests.s3_tier1 * prices.s3_tier1_per_1000 + requests.s3_tier2 * prices.s3_tier2_per_1000) / 1000
    sqs_usd = (requests.sqs_standard * prices.sqs_standard_per_million
               + requests.sqs_fifo * prices.sqs_fifo_per_million) / 1_000_000
    return {"s3": s3 | {"usd": s3_usd}, "sqs": sqs | {"usd": sqs_usd}, "usd": s3_usd + sqs_usd}


def _made_requests(usage: RunUsage) -> bool:
    return any(made != ServiceRequests() for made in (usage.all_requests, function_requests(usage.lambda_invocations)))


def _function_figures(invocations: list[LambdaInvocation], prices: RequestPrices | None) -> dict[str, Any]:
    """The S3 and SQS requests the functions' own code sent, priced, with every AWS request they
    sent by service and action (``calls``); ``known``: whether every invocation said."""
    unknown = sum(1 for i in invocations if i.aws_calls is None)
    return _request_figures(function_requests(invocations), prices) | {
        "calls": function_calls(invocations), "known": unknown == 0, "unknown_invocations": unknown}


def _totals(document: dict[str, Any]) -> dict[str, float | None]:
    """The run as STANDARD and as EXPRESS: the workflow, its Lambda invocations (and the S3/SQS
    requests they made), its Task states' requests and its Distributed Maps' children (priced
    as their own type either way)."""
    lam = document["lambda"]
    extra = [lam["usd"] if lam["requests"] else 0.0, document["map_children"]["usd"], document["requests"]["usd"],
             document["function_requests"]["usd"]]
    if any(value is None for value in extra):
        return {"standard": None, "express": None}
    express = document["express"]["usd"]
    return {"standard": document["standard"]["usd"] + sum(extra),
            "express": express + sum(extra) if express is not None else None}


def _state_row(state: Any, prices: RegionPrices, architecture: str | None) -> dict:
    lam = _lambda_figures(state.lambda_invocations, prices.lambda_, architecture)
    own = _request_figures(function_requests(state.lambda_invocations), prices.requests)
    return {
        "name": state.name,
        "entries": state.entries,
        "retries": state.retries,
        "transitions": state.transitions,
        "standard_usd": standard_usd(state.transitions, prices.standard),
        "lambda_requests": lam["requests"],
        "lambda_gb_seconds": lam["gb_seconds"],
        "lambda_usd": lam["usd"],
        "function_requests": own,
    }
