"""How long the viewer takes to open a big execution (figures go to bench/README.md).

    .venv/bin/python bench/viewer_execution.py [--items 2500] [--states 200] [--runs 5]

An execution of an inline Map over ``--items`` items (4 history events per item: 10,000
events for 2,500) runs on a LocalEndpoint on a free port. Measured:

- ``api``: GET /_stepkit/ui/api/execution (describe, graph, every event, per-state
  summary), median of ``--runs``, and the answer's size;
- ``browser``: Debian's Chromium (headless, through Playwright) opening the execution's
  page until its graph is coloured and the event table drawn, median of ``--runs`` (fresh
  page each time); skipped when Chromium or Playwright is missing;
- ``layout``: the same for a definition of ``--states`` states (a chain of Choice and
  Pass states), until its graph is drawn.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3

from stepkit.endpoint import LocalEndpoint

ROLE = "arn:aws:iam::123456789012:role/bench"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _client(url: str) -> Any:
    return boto3.client("stepfunctions", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="bench", aws_secret_access_key="bench")


def _run(sfn: Any, name: str, definition: dict[str, Any]) -> str:
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input='{"x": -1}')["executionArn"]
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        time.sleep(0.05)
    return arn


def _big_map(items: int) -> dict[str, Any]:
    return {"StartAt": "Items", "States": {
        "Items": {"Type": "Pass", "Result": {"items": list(range(items))}, "Next": "Each"},
        "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 8,
                 "ResultSelector": {"n.$": "States.ArrayLength($)"}, "End": True,
                 "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}}}}}


def _many_states(count: int) -> dict[str, Any]:
    states: dict[str, Any] = {}
    for i in range(0, count - 1, 2):
        nxt = f"S{i + 2}" if i + 2 < count - 1 else "Last"
        rule = {"Variable": "$.x", "NumericEquals": i, "Next": f"S{i + 1}"}
        states[f"S{i}"] = {"Type": "Choice", "Choices": [rule], "Default": nxt}
        states[f"S{i + 1}"] = {"Type": "Pass", "Next": nxt}
    states["Last"] = {"Type": "Succeed"}
    return {"StartAt": "S0", "States": states}


def _api(url: str, arn: str, runs: int) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        with urllib.request.urlopen(f"{url}/_stepkit/ui/api/execution?arn={arn}") as answer:
            body = answer.read()
        times.append(time.perf_counter() - began)
        size = len(body)
    events = len(json.loads(body)["events"])
    print(f"api: {statistics.median(times) * 1000:.0f} ms median for {events} events ({size / 1e6:.1f} MB)")
    return statistics.median(times), events


def _browser(url: str, arn: str, runs: int, ready: list[str]) -> float | None:
    if not Path(CHROMIUM).exists():
        print("browser: skipped (no Chromium at /usr/bin/chromium)")
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("browser: skipped (playwright is not installed)")
        return None
    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        for _ in range(runs):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            began = time.perf_counter()
            page.goto(f"{url}/_stepkit/ui/#/execution/{arn}")
            for selector in ready:
                page.wait_for_selector(selector, timeout=120_000)
            times.append(time.perf_counter() - began)
            page.close()
        browser.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2500)
    parser.add_argument("--states", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with LocalEndpoint() as endpoint:
        sfn = _client(endpoint.url)
        big = _run(sfn, "bench-big", _big_map(args.items))
        _api(endpoint.url, big, args.runs)
        opened = _browser(endpoint.url, big, args.runs,
                          ['g.node[data-state="Each"][data-status="SUCCEEDED"]', "#event-table tr:nth-child(2)"])
        if opened is not None:
            print(f"browser: the execution's page opens in {opened * 1000:.0f} ms median")
        wide = _run(sfn, "bench-wide", _many_states(args.states))
        laid = _browser(endpoint.url, wide, args.runs, ['g.node[data-state="Last"][data-status="SUCCEEDED"]'])
        if laid is not None:
            print(f"layout: a {args.states}-state definition is laid out and drawn in {laid * 1000:.0f} ms median")


if __name__ == "__main__":
    main()
