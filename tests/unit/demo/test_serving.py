"""The demo's online step: finding the API and summarising what it answered."""

from __future__ import annotations

from stepkit.demo.serving import Phase, ServingRun, api_url, moved_after


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


def test_moved_after_is_where_the_better_version_keeps_its_share() -> None:
    timeline = ["1"] * 50 + ["2"] * 30 + ["1"] * 5 + ["2"] * 200
    assert moved_after(timeline, "2", share=0.9, window=100) == 45  # from 45 on, at most 10 "1"s per 100
    assert moved_after(["1"] * 300, "2") is None
    assert moved_after(["2"] * 10, "2") is None  # fewer requests than a window


def test_phases_add_up_and_the_bandit_is_summarised() -> None:
    run = ServingRun("http://x")
    ab = Phase("ab", {"kind": "weighted"}, requests=4, by_version={"1": 2, "2": 2},
               correct_by_version={"1": 2, "2": 1}, timeline=["1", "2", "1", "2"], latencies_ms=[1, 2, 3, 4])
    bandit = Phase("bandit", {"kind": "thompson"}, requests=3, errors=1, by_version={"1": 2},
                   correct_by_version={"1": 2}, timeline=["1", "1"], latencies_ms=[5, 6])
    run.add(ab)
    run.add(bandit)
    run.better_version = "1"
    summary = run.summary()
    assert (summary["requests"], summary["errors"], summary["by_version"]) == (7, 1, {"1": 4, "2": 2})
    assert summary["accuracy"] == round(5 / 6, 4)
    assert summary["phases"]["ab"]["accuracy_by_version"] == {"1": 1.0, "2": 0.5}
    assert summary["phases"]["ab"]["share_by_version"] == {"1": 0.5, "2": 0.5}
    assert summary["bandit"]["better_version"] == "1" and summary["bandit"]["final_share"] == 1.0
