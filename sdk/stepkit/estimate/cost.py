"""Step Functions and Lambda pricing as AWS's pricing pages state it.

Every function takes its prices as arguments (a :class:`~stepkit.estimate.prices.PriceTable`
region) so the tests can reproduce the pages' worked examples with the prices those examples
quote. Amounts are in US dollars, unrounded; callers round for display.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from stepkit.estimate.prices import ExpressPrices, LambdaPrices, StandardPrices, Tier

EXPRESS_BASE_MEMORY_MB = 50
"""The pricing page's formula: 50 MB + definition size + execution data size x Map/Parallel steps."""
EXPRESS_MEMORY_CHUNK_MB = 64
EXPRESS_DURATION_STEP_S = 0.1


def tiered_usd(amount: float, tiers: Iterable[Tier], already: float = 0.0) -> float:
    """The price of ``amount`` units when ``already`` units of the month were used before:
    each unit costs the price of the tier its running total falls in."""
    usd = 0.0
    low = 0.0
    start, end = already, already + amount
    for tier in tiers:
        high = math.inf if tier.up_to is None else tier.up_to
        covered = max(0.0, min(end, high) - max(start, low))
        usd += covered * tier.price
        low = high
    return usd


def standard_usd(transitions: int, prices: StandardPrices, free_transitions: int = 0) -> float:
    """Standard workflows: a price per 1,000 state transitions (retries included) beyond the
    free tier."""
    return max(0, transitions - free_transitions) * prices.per_1000_transitions / 1000


def express_billed_memory_mb(definition_bytes: int, data_bytes: int, map_parallel_steps: int) -> int:
    """Express billed memory: 50 MB + definition + data x Map/Parallel steps, in 64 MB chunks.

    The page's worked example counts 1 MB as 1,000 KB (50 MB + 50 KB + 12,800 KB = 62.85 MB),
    so sizes here are decimal too. A workflow without Map or Parallel still holds its data once.
    """
    used_mb = EXPRESS_BASE_MEMORY_MB + (definition_bytes + data_bytes * max(1, map_parallel_steps)) / 1_000_000
    return math.ceil(used_mb / EXPRESS_MEMORY_CHUNK_MB) * EXPRESS_MEMORY_CHUNK_MB


def express_billed_seconds(duration_seconds: float) -> float:
    """An Express execution's duration, rounded up to the next 100 ms."""
    steps = math.ceil(round(duration_seconds / EXPRESS_DURATION_STEP_S, 9))
    return max(1, steps) * EXPRESS_DURATION_STEP_S


def express_gb_seconds(billed_seconds: float, billed_memory_mb: int) -> float:
    return billed_seconds * billed_memory_mb / 1024


def express_usd(requests: int, gb_seconds: float, prices: ExpressPrices, gb_hours_before: float = 0.0) -> float:
    """Express workflows: a price per million requests plus GB-hours in monthly tiers."""
    return requests * prices.requests_per_million / 1_000_000 + tiered_usd(gb_seconds / 3600, prices.gb_hour,
                                                                           gb_hours_before)


def lambda_billed_ms(duration_ms: float, init_duration_ms: float | None = None) -> int:
    """Billed duration: rounded up to the millisecond, the INIT phase included (billed for
    on-demand functions since 1 August 2025), as the REPORT line's Billed Duration."""
    return math.ceil(round(duration_ms + (init_duration_ms or 0.0), 6))


def lambda_gb_seconds(memory_mb: int, billed_ms: float) -> float:
    return memory_mb / 1024 * billed_ms / 1000


def lambda_usd(
    requests: int,
    gb_seconds: dict[str, float],
    prices: LambdaPrices,
    free_requests: int = 0,
    free_gb_seconds: float = 0.0,
) -> float:
    """Lambda: a price per million requests plus GB-seconds, tiered per architecture.

    The free tier's GB-seconds are shared by both architectures; they go to the
    architectures in the order given.
    """
    usd = max(0, requests - free_requests) * prices.requests_per_million / 1_000_000
    free_left = free_gb_seconds
    for architecture, amount in gb_seconds.items():
        tiers = prices.gb_second.get(architecture)  # type: ignore[call-overload]
        if tiers is None:
            raise ValueError(f"no Lambda prices for architecture {architecture!r}")
        waived = min(free_left, amount)
        free_left -= waived
        usd += tiered_usd(amount - waived, tiers)
    return usd
