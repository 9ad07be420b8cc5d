"""The router's DynamoDB state (mlcontract.router_state) under 16 concurrent clients, against a
real local endpoint on a free port: every counter equals the number of calls (ADD on the
server, no lost update), a request's feedback counts once, and of 16 writers holding the same
policy revision exactly one wins. Threads start together at a barrier; nothing waits on time."""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from endpoint_helpers import unique

from stepkit.endpoint import LocalEndpoint

_LAYER = Path(__file__).resolve().parents[3] / "functions" / "layers" / "model" / "python"
if str(_LAYER) not in sys.path:
    sys.path.append(str(_LAYER))

from mlcontract.errors import FeedbackAlreadyRecordedError, PolicyConflictError  # noqa: E402
from mlcontract.router_state import RouterState  # noqa: E402
from mlcontract.routing import ThompsonPolicy, WeightedPolicy  # noqa: E402

CLIENTS = 16
CALLS = 16
DISCOUNT = 0.8  # chunks of 61 feedbacks: the 256 feedbacks cross four of them


def _client(url: str) -> Any:
    """Each thread's own session and client; no retries, so a count can be neither lost nor doubled."""
    return boto3.session.Session().client(
        "dynamodb", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}, read_timeout=120))


@pytest.fixture
def table(endpoint: LocalEndpoint) -> Iterator[str]:
    name = unique("router")
    client = _client(endpoint.url)
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                              {"AttributeName": "sk", "AttributeType": "S"}],
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "sk", "KeyType": "RANGE"}])
    yield name
    client.delete_table(TableName=name)


def _together(endpoint: LocalEndpoint, table: str, work: Callable[[int, RouterState], Any]) -> list[Any]:
    """Run ``work(index, state)`` in 16 threads, each with its own client, released at once;
    their results (or exceptions) by index."""
    barrier = threading.Barrier(CLIENTS)
    results: list[Any] = [None] * CLIENTS

    def run(index: int) -> None:
        state = RouterState(table, client=_client(endpoint.url))
        barrier.wait()
        try:
            results[index] = work(index, state)
        except Exception as exc:  # collected, asserted on below
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_sixteen_clients_lose_no_request_and_no_feedback(endpoint: LocalEndpoint, table: str) -> None:
    setup = RouterState(table, client=_client(endpoint.url))
    setup.set_policy("iris", ThompsonPolicy(versions=["1", "2"], discount=DISCOUNT))

    def work(index: int, state: RouterState) -> None:
        for call in range(CALLS):
            version = "1" if (index + call) % 2 else "2"
            request_id = f"{index}-{call}"
            state.record_request("iris", version, latency_ms=float(call), error=call % 5 == 0)
            state.remember_prediction(request_id, "iris", version, {"prediction": "setosa"})
            state.record_feedback(request_id, label="setosa" if version == "1" else "virginica")
            state.record_shadow("iris", version, agreed=call % 2 == 0)

    assert _together(endpoint, table, work) == [None] * CLIENTS
    expected = Counter("1" if (i + c) % 2 else "2" for i in range(CLIENTS) for c in range(CALLS))
    errors = Counter("1" if (i + c) % 2 else "2" for i in range(CLIENTS) for c in range(CALLS) if c % 5 == 0)
    agreements = Counter("1" if (i + c) % 2 else "2" for i in range(CLIENTS) for c in range(CALLS) if c % 2 == 0)
    stats = setup.stats("iris")
    for version in ("1", "2"):
        arm = stats[version]
        assert (arm.requests, arm.feedbacks, arm.shadow_comparisons) == (expected[version],) * 3
        assert sum(arm.latency_buckets) == expected[version]
        assert (arm.errors, arm.shadow_agreements) == (errors[version], agreements[version])
    assert (stats["1"].successes, stats["1"].failures) == (expected["1"], 0)
    assert (stats["2"].successes, stats["2"].failures) == (0, expected["2"])
    assert sum(a.latency_ms_sum for a in stats.values()) == CLIENTS * sum(range(CALLS))
    # Each feedback adds exactly 1 to its arm's discounted successes + failures, weighted by
    # the discount once per later feedback: the total is a geometric sum over all of them.
    total = sum((a.discounted_successes or 0) + (a.discounted_failures or 0) for a in stats.values())
    assert total == pytest.approx(sum(DISCOUNT ** k for k in range(CLIENTS * CALLS)), rel=1e-9)


def test_a_request_takes_one_feedback_of_sixteen_sent_at_once(endpoint: LocalEndpoint, table: str) -> None:
    setup = RouterState(table, client=_client(endpoint.url))
    setup.remember_prediction("once", "iris", "1", {"prediction": "setosa"})
    results = _together(endpoint, table, lambda _i, state: state.record_feedback("once", reward=1.0))
    assert results.count(("iris", "1", 1.0)) == 1
    assert sum(isinstance(r, FeedbackAlreadyRecordedError) for r in results) == CLIENTS - 1
    assert setup.stats("iris")["1"].feedbacks == 1


def test_of_sixteen_policy_writers_with_the_same_revision_exactly_one_wins(endpoint: LocalEndpoint,
                                                                          table: str) -> None:
    setup = RouterState(table, client=_client(endpoint.url))
    revision = setup.set_policy("iris", {"kind": "champion"})

    def work(index: int, state: RouterState) -> int:
        policy = WeightedPolicy(weights={"1": 100 - (index + 1), "2": index + 1})
        return state.set_policy("iris", policy, expected_revision=revision)

    results = _together(endpoint, table, work)
    winners = [i for i, r in enumerate(results) if isinstance(r, int)]
    assert len(winners) == 1 and results[winners[0]] == revision + 1
    assert sum(isinstance(r, PolicyConflictError) for r in results) == CLIENTS - 1
    policy, stored = setup.policy("iris")
    assert stored == revision + 1
    assert policy == WeightedPolicy(weights={"1": 100 - (winners[0] + 1), "2": winners[0] + 1})
