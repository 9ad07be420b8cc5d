"""The packaged price and quota tables against the figures their sources give.

Each region's Lambda figures are checked against AWS's own data as the table's sources name
it: the Pricing Calculator's metered unit map (a copy with AWS's rate codes in
remotion-dev/remotion) for requests and each architecture's first GB-second tier, and the
Price List offer files (eu-west-1 with all its tiers; us-east-1 and ap-southeast-1 with
their S3 and SQS request prices). The completeness tests keep every region either complete
for a service or without it, and the notes naming it.
"""

from __future__ import annotations

import re

import pytest

from stepkit.estimate.cost import lambda_gb_seconds, lambda_usd, tiered_usd
from stepkit.estimate.prices import PriceTable, load_prices
from stepkit.estimate.quotas import load_quotas
from stepkit.estimate.report import price_run
from stepkit.estimate.usage import LambdaInvocation, RunUsage, ServiceRequests, StateUsage

TABLE = load_prices()

# The metered unit map's Lambda Requests, Lambda Duration and Lambda Duration-ARM (per request,
# per GB-second) are the same in every added region (source lambda_regions); the x86 duration's
# rate code per region, to find each row in the source.
METERED_FIGURES = (0.0000002, 0.0000166667, 0.0000133334)
X86_RATE_CODES = {
    "us-west-1": "46GNEXAQAPS9YGE2", "ca-central-1": "KS26AK5FJMDYPXSF", "sa-east-1": "JNXN2GCNDMDR7JAF",
    "eu-west-1": "SGGKTWDV7PGMPPSJ", "eu-central-1": "S4ZKFHQ6B28FBYVW", "eu-west-2": "RP9RSZYUC96SQ4G2",
    "eu-west-3": "7V27U9PFRJGUDWJ8", "eu-north-1": "7N49FRQMXS49C2QS", "ap-southeast-1": "67ZV6RMYY72YSRDC",
    "ap-northeast-1": "FSYUV9NMNDEXRJ5H", "ap-southeast-2": "4NX7CSSF3DVPXWBT",
    "ap-northeast-2": "AW8K7Q9ZMMBBP9W6", "ap-south-1": "PHDF9YNAFR3HDSR8",
}


@pytest.mark.parametrize("region", sorted(X86_RATE_CODES))
def test_lambda_prices_of_each_added_region_are_the_metered_unit_maps(region: str) -> None:
    request, x86, arm = METERED_FIGURES
    prices = TABLE.region(region).lambda_
    assert prices is not None
    assert prices.requests_per_million == pytest.approx(request * 1e6)
    assert prices.gb_second["x86_64"][0].price == x86
    assert prices.gb_second["arm64"][0].price == arm
    # The Lambda page's Arm mobile backend (3 million requests of 120 ms at 1,536 MB: $7.80)
    # costs the same there, its prices being us-east-1's.
    gb_seconds = 3_000_000 * lambda_gb_seconds(1536, 120)
    expected = 3 * request * 1e6 + gb_seconds * arm
    assert round(lambda_usd(3_000_000, {"arm64": gb_seconds}, prices), 2) == round(expected, 2) == 7.80


def test_eu_west_1_tiers_are_the_offer_files() -> None:
    # AWSLambda offer for eu-west-1, published 2026-10-01: 10 billion Arm GB-s are 7.5 billion
    # at $0.0000133334 and 2.5 billion at $0.0000120001; 20 billion x86 GB-s are 6 billion at
    # $0.0000166667, 9 billion at $0.000015 and 5 billion at $0.0000133334.
    prices = TABLE.region("eu-west-1").lambda_
    assert prices is not None
    assert tiered_usd(10e9, prices.gb_second["arm64"]) == pytest.approx(100_000.5 + 30_000.25)
    assert tiered_usd(20e9, prices.gb_second["x86_64"]) == pytest.approx(100_000.2 + 135_000 + 66_667)


def _requests_only_run(requests: ServiceRequests, *invocations: LambdaInvocation) -> RunUsage:
    state = StateUsage("Work", entries=1, lambda_invocations=list(invocations))
    return RunUsage(states={"Work": state}, duration_seconds=1.0, definition_bytes=200, data_bytes=100,
                    map_parallel_steps=0, requests=requests)


@pytest.mark.parametrize("region", ["us-east-1", "ap-southeast-1"])
def test_s3_and_sqs_requests_cost_what_the_offer_files_say(region: str) -> None:
    # AmazonS3 offer: "$0.005 per 1,000 PUT, COPY, POST, or LIST requests", "$0.004 per 10,000
    # GET and all other requests"; AWSQueueService: $0.40 (standard) and $0.50 (FIFO) a million.
    requests = ServiceRequests(s3_tier1=1000, s3_tier2=10_000, s3_free=5, sqs_standard=1_000_000,
                               sqs_fifo=1_000_000)
    document = price_run(_requests_only_run(requests), TABLE, region)
    assert document["requests"]["s3"]["usd"] == pytest.approx(0.005 + 0.004)
    assert document["requests"]["sqs"]["usd"] == pytest.approx(0.40 + 0.50)


def test_a_region_with_lambda_but_no_express_prices_says_so() -> None:
    invocation = LambdaInvocation("train", memory_mb=1024, duration_ms=999.2, architecture="arm64")
    document = price_run(_requests_only_run(ServiceRequests(), invocation), TABLE, "eu-central-1")
    assert document["missing_prices"] == ["express"]
    assert document["lambda"]["usd"] == pytest.approx(0.0000002 + 1.0 * 0.0000133334)
    assert document["total"]["express"] is None and document["total"]["standard"] is not None


def _regions_said_missing(table: PriceTable, section: str) -> set[str]:
    """The regions a note lists, after its last colon, as having no such section."""
    starts = {"express": "Express:", "lambda": "Lambda:", "requests": "S3 and SQS"}[section]
    (note,) = [n for n in table.notes if n.startswith(starts)]
    return set(note.rsplit(": ", 1)[1].rstrip(".").split(", "))


@pytest.mark.parametrize("region", sorted(TABLE.regions))
def test_every_region_is_complete_or_its_gap_is_named_in_the_notes(region: str) -> None:
    prices = TABLE.region(region)
    assert prices.standard.per_1000_transitions > 0
    if prices.express is not None:
        assert len(prices.express.gb_hour) == 3
    if prices.lambda_ is not None:
        assert set(prices.lambda_.gb_second) == {"x86_64", "arm64"}
        assert all(len(tiers) == 3 for tiers in prices.lambda_.gb_second.values())
    sections = {"express": prices.express, "lambda": prices.lambda_, "requests": prices.requests}
    for section, present in sections.items():
        assert (region in _regions_said_missing(TABLE, section)) == (present is None), (region, section)


def test_only_the_govcloud_regions_lack_lambda_prices() -> None:
    assert sorted(n for n, r in TABLE.regions.items() if r.lambda_ is None) == ["us-gov-east-1", "us-gov-west-1"]


def test_the_added_sources_name_a_commit_and_a_date() -> None:
    for key in ("lambda_regions", "lambda_eu-west-1", "offers_us-east-1", "offers_ap-southeast-1"):
        source = TABLE.sources[key]
        assert re.search(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}:\S+", source), key
        assert "read 2026-12-06" in source, key
    assert "3d6752c (2023-06-15" in load_quotas().sources["stepfunctions"]


def test_step_functions_throttling_is_the_guides_last_published_table() -> None:
    quotas = load_quotas().stepfunctions
    for region in ("us-east-1", "us-west-2", "eu-west-1"):
        buckets = quotas.buckets(region)
        assert (buckets.state_transition.bucket, buckets.state_transition.refill_per_second) == (5000, 1500)
        assert (buckets.start_execution.bucket, buckets.start_execution.refill_per_second) == (1300, 300)
    other = quotas.buckets("ap-northeast-1")
    assert (other.state_transition.bucket, other.state_transition.refill_per_second) == (800, 500)
    assert (other.start_execution.bucket, other.start_execution.refill_per_second) == (800, 150)
    assert (quotas.express_start_execution.bucket, quotas.express_start_execution.refill_per_second) == (6000, 6000)
