"""AWS's worked pricing examples, reproduced to the cent by the pricing functions.

Step Functions: https://aws.amazon.com/step-functions/pricing/ (the Express memory example,
62.85 MB billed as 64 MB, and the 100-million-workflows duration example, $482.97). Lambda:
https://aws.amazon.com/lambda/pricing/ (examples 1 and 2 as the page gave them with
$0.00001667 per GB-s and the free tier applied: $18.74 and $11.63). The page's current
Example 1 (a mobile backend, three million requests a month on Arm) is reproduced from its
inputs as recalled (120 ms at 1,536 MB); its printed total could not be read back when this
was written. The Standard cases check the page's rule ($0.025 per 1,000 transitions beyond
4,000 free), not a printed example.
"""

from __future__ import annotations

import pytest

from stepkit.estimate.cost import (
    express_billed_memory_mb,
    express_billed_seconds,
    express_gb_seconds,
    express_usd,
    lambda_billed_ms,
    lambda_gb_seconds,
    lambda_usd,
    standard_usd,
    tiered_usd,
)
from stepkit.estimate.prices import LambdaPrices, Tier, load_prices

TABLE = load_prices()
US_EAST_1 = TABLE.region("us-east-1")


def test_express_memory_example_bills_62_85_mb_as_one_64_mb_chunk() -> None:
    # 50 MB + 50 KB definition + 32 KB x 400 map steps = 62.85 MB -> 64 MB
    assert express_billed_memory_mb(50_000, 32_000, 400) == 64
    assert express_billed_memory_mb(50_000, 40_000, 400) == 128  # 66.05 MB: the next chunk


def test_express_100_million_ten_second_workflows_cost_482_97() -> None:
    requests = 100_000_000
    gb_seconds = requests * express_gb_seconds(express_billed_seconds(10), 64)
    assert gb_seconds == pytest.approx(62_500_000)
    assert round(gb_seconds / 3600, 2) == 17_361.11
    duration_usd = tiered_usd(gb_seconds / 3600, US_EAST_1.express.gb_hour)
    assert round(duration_usd, 2) == 382.97  # $60.00 + $120.00 + $202.97
    assert round(express_usd(requests, gb_seconds, US_EAST_1.express), 2) == 482.97


def test_express_duration_rounds_up_to_100_ms() -> None:
    assert express_billed_seconds(10) == pytest.approx(10.0)
    assert express_billed_seconds(10.01) == pytest.approx(10.1)
    assert express_billed_seconds(0.001) == pytest.approx(0.1)


def test_standard_transitions_price_per_1000_after_the_free_tier() -> None:
    # The page's rule: $0.025 per 1,000 transitions beyond 4,000 free a month; retries count.
    assert standard_usd(4_000, US_EAST_1.standard, TABLE.free_tier.standard_transitions) == 0
    assert round(standard_usd(900_000, US_EAST_1.standard, 4_000), 2) == 22.40
    assert round(standard_usd(900_000, US_EAST_1.standard), 2) == 22.50
    assert round(standard_usd(1_000_000, TABLE.region("us-west-1").standard), 2) == 27.90


# The Lambda page's examples 1 and 2 quote $0.00001667 per GB-s (before tiers and 1 ms billing).
_OLD_PAGE = LambdaPrices(requests_per_million=0.20, gb_second={"x86_64": [Tier(up_to=None, price=0.00001667)]})


def test_lambda_example_1_512_mb_3_million_one_second_runs_cost_18_74() -> None:
    gb_seconds = 3_000_000 * lambda_gb_seconds(512, 1000)
    assert gb_seconds == 1_500_000
    compute = lambda_usd(0, {"x86_64": gb_seconds}, _OLD_PAGE, free_gb_seconds=400_000)
    requests = lambda_usd(3_000_000, {}, _OLD_PAGE, free_requests=1_000_000)
    assert (round(compute, 2), round(requests, 2)) == (18.34, 0.40)
    total = lambda_usd(3_000_000, {"x86_64": gb_seconds}, _OLD_PAGE, 1_000_000, 400_000)
    assert round(total, 2) == 18.74


def test_lambda_example_2_128_mb_30_million_200_ms_runs_cost_11_63() -> None:
    gb_seconds = 30_000_000 * lambda_gb_seconds(128, 200)
    assert gb_seconds == pytest.approx(750_000)
    compute = lambda_usd(0, {"x86_64": gb_seconds}, _OLD_PAGE, free_gb_seconds=400_000)
    requests = lambda_usd(30_000_000, {}, _OLD_PAGE, free_requests=1_000_000)
    assert (round(compute, 2), round(requests, 2)) == (5.83, 5.80)
    assert round(compute + requests, 2) == 11.63


def test_lambda_arm_mobile_backend_120_ms_1536_mb() -> None:
    # 3 million requests of 120 ms at 1,536 MB on Arm: 540,000 GB-s ($7.20) + $0.60 of requests.
    gb_seconds = 3_000_000 * lambda_gb_seconds(1536, 120)
    assert gb_seconds == pytest.approx(540_000)
    usd = lambda_usd(3_000_000, {"arm64": gb_seconds}, US_EAST_1.lambda_)
    assert round(usd, 2) == 7.80


def test_lambda_tiers_discount_beyond_6_billion_x86_gb_seconds() -> None:
    prices = US_EAST_1.lambda_
    first = lambda_usd(0, {"x86_64": 6e9}, prices)
    assert round(first, 2) == round(6e9 * 0.0000166667, 2)
    more = lambda_usd(0, {"x86_64": 7e9}, prices) - first
    assert round(more, 2) == round(1e9 * 0.000015, 2)


def test_lambda_billed_duration_rounds_up_to_the_ms_with_init() -> None:
    assert lambda_billed_ms(1.0001) == 2
    assert lambda_billed_ms(120.0) == 120
    assert lambda_billed_ms(100.2, 250.3) == 351


def test_the_table_names_its_sources_and_date() -> None:
    assert TABLE.sources["stepfunctions"] == "https://aws.amazon.com/step-functions/pricing/"
    assert TABLE.sources["lambda"] == "https://aws.amazon.com/lambda/pricing/"
    assert TABLE.checked
    assert US_EAST_1.standard.per_1000_transitions == 0.025
    assert TABLE.region("eu-west-3").express is None


def test_tier_lists_must_end_open() -> None:
    with pytest.raises(ValueError, match="open tier"):
        LambdaPrices(requests_per_million=0.2, gb_second={"x86_64": [Tier(up_to=10, price=1)]})
