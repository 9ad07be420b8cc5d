"""The demo's online step: finding the API and summarising what it answered."""

from __future__ import annotations

from stepkit.demo.serving import ServingRun, api_url


def test_api_url_is_the_status_row_with_a_url() -> None:
    rows = [{"kind": "function", "name": "f", "arn": "arn:f"},
            {"kind": "rest_api", "name": "serving", "arn": "", "url": "http://127.0.0.1:4566/restapis/a1/api/_user_request_/"}]
    assert api_url(rows) == "http://127.0.0.1:4566/restapis/a1/api/_user_request_"
    assert api_url(rows[:1]) is None


def test_summary_counts_versions_accuracy_and_latency() -> None:
    run = ServingRun("http://x", requests=4, errors=1, correct=2, by_version={"1": 3},
                     latencies_ms=[1.0, 2.0, 3.0, 40.0])
    summary = run.summary()
    assert summary["requests"] == 4 and summary["errors"] == 1 and summary["by_version"] == {"1": 3}
    assert summary["accuracy"] == round(2 / 3, 4)
    assert summary["latency_ms"] == {"p50": 2.5, "p99": 40.0}
    assert ServingRun("http://x").summary()["accuracy"] is None
