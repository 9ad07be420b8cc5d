"""The viewer with 50 executions, some running: time to list, time to open one, and what its
live updates cost (figures go to bench/README.md, the viewer's section).

    .venv/bin/python bench/viewer_live.py [--finished 40] [--running 10] [--items 400] [--fast 1500] [--watch 20]

On a LocalEndpoint on a free port: ``--finished`` executions of an inline Map over 100 Pass
items (about 600 history events each) have run; ``--running`` executions of an inline Map,
5 items at a time, over ``--fast`` items that pass at once (about 9,000 events for 1,500)
then ``--items`` items that wait 1 s each, run for the whole measure (their histories grow
by about 30 events a second). Measured:

- ``list``: GET api/executions of the machine (50 rows) and api/machines, medians of 10;
  Chromium (headless, Playwright) opening the machine's page until its 50 rows are drawn;
- ``open``: GET api/execution of a running execution, and the page opening it until its graph
  is coloured and its event table drawn, medians of 5;
- ``live``: the page left on that running execution for ``--watch`` seconds: the polls it made,
  the bytes and server time of each (the browser's resource timings), and the page's main
  thread busy time (Chromium's TaskDuration metric) per second watched, and the longest task
  (a long-task observer): what the page spends keeping up, and how long a click may wait.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.request
from typing import Any

from viewer_execution import ARGS, CHROMIUM, ROLE, _client

from stepkit.endpoint import LocalEndpoint

WATCH_SCRIPT = """
window.__longest = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__longest = Math.max(window.__longest, entry.duration);
}).observe({type: "longtask", buffered: true});
"""


def _map(items: int, concurrency: int, fast: int) -> dict[str, Any]:
    """An inline Map whose first ``fast`` items pass at once and the others wait a second each."""
    item = {"StartAt": "Fast?", "States": {
        "Fast?": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericLessThan": fast, "Next": "Pass"}],
                  "Default": "Wait"},
        "Pass": {"Type": "Pass", "End": True}, "Wait": {"Type": "Wait", "Seconds": 1, "End": True}}}
    return {"StartAt": "Items", "States": {
        "Items": {"Type": "Pass", "Result": {"items": list(range(items))}, "Next": "Each"},
        "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": concurrency, "ResultPath": None,
                 "ItemProcessor": item, "Next": "Done"},
        "Done": {"Type": "Succeed"}}}


def _start(sfn: Any, args: argparse.Namespace) -> tuple[str, list[str]]:
    machine = sfn.create_state_machine(name="bench-live", definition=json.dumps(_map(100, 8, 100)),
                                       roleArn=ROLE)["stateMachineArn"]
    for n in range(args.finished):
        arn = sfn.start_execution(stateMachineArn=machine, name=f"done-{n:02d}")["executionArn"]
        while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
            time.sleep(0.05)
    sfn.update_state_machine(stateMachineArn=machine, definition=json.dumps(_map(args.fast + args.items, 5, args.fast)))
    running = [sfn.start_execution(stateMachineArn=machine, name=f"live-{n:02d}")["executionArn"]
               for n in range(args.running)]
    return machine, running


def _median_ms(url: str, runs: int) -> tuple[float, int]:
    times, size = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        with urllib.request.urlopen(url) as answer:
            size = len(answer.read())
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000, size


def _page_ms(browser: Any, url: str, ready: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        began = time.perf_counter()
        page.goto(url)
        for selector in ready:
            page.wait_for_selector(selector, timeout=120_000)
        times.append(time.perf_counter() - began)
        page.close()
    return statistics.median(times) * 1000


def _watch(browser: Any, url: str, seconds: float) -> dict[str, float]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.add_init_script(WATCH_SCRIPT)
    page.goto(url)
    page.wait_for_selector('g.node[data-state="Each"][data-status]', timeout=120_000)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")

    def busy() -> float:
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        return metrics["TaskDuration"]

    page.evaluate("performance.clearResourceTimings(); window.__longest = 0")
    before, began = busy(), time.perf_counter()
    time.sleep(seconds)
    spent, watched = busy() - before, time.perf_counter() - began
    polls = page.evaluate("""performance.getEntriesByType('resource').filter((e) => e.name.includes('api/execution?'))
        .map((e) => ({bytes: e.encodedBodySize, server: e.responseStart - e.requestStart, total: e.duration}))""")
    longest = page.evaluate("window.__longest")
    events = page.locator("#event-table tr").count()
    page.close()
    return {"polls": len(polls), "watched_s": watched, "busy_ms_per_s": spent * 1000 / watched,
            "poll_kb": statistics.median(p["bytes"] for p in polls) / 1000 if polls else 0.0,
            "poll_server_ms": statistics.median(p["server"] for p in polls) if polls else 0.0,
            "poll_total_ms": statistics.median(p["total"] for p in polls) if polls else 0.0,
            "longest_task_ms": longest, "event_rows": events}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--finished", type=int, default=40)
    parser.add_argument("--running", type=int, default=10)
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--fast", type=int, default=1500)
    parser.add_argument("--watch", type=float, default=20.0)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with LocalEndpoint() as endpoint, sync_playwright() as playwright:
        sfn = _client(endpoint.url)
        machine, running = _start(sfn, args)
        ui = endpoint.url + "/_stepkit/ui/"
        listed, size = _median_ms(f"{ui}api/executions?machine={machine}", 10)
        count = args.finished + args.running
        print(f"list: api/executions {listed:.0f} ms median ({size / 1000:.0f} kB, {count} rows)")
        machines, _ = _median_ms(f"{ui}api/machines", 10)
        print(f"list: api/machines {machines:.0f} ms median")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        shown = _page_ms(browser, ui + "#/machine/" + machine, [f"#executions tr:nth-child({count + 1})"], 5)
        print(f"list: the machine's page shows its rows in {shown:.0f} ms")
        watched = running[0]
        opened, size = _median_ms(f"{ui}api/execution?arn={watched}", 5)
        print(f"open: api/execution of a running execution {opened:.0f} ms median ({size / 1000:.0f} kB)")
        ready = ['g.node[data-state="Each"][data-status]', "#event-table tr:nth-child(2)"]
        print(f"open: its page opens in {_page_ms(browser, ui + '#/execution/' + watched, ready, 5):.0f} ms")
        live = _watch(browser, ui + "#/execution/" + watched, args.watch)
        print("live: {polls} polls in {watched_s:.1f} s; per poll {poll_kb:.0f} kB, server {poll_server_ms:.0f} ms, "
              "total {poll_total_ms:.0f} ms; main thread busy {busy_ms_per_s:.0f} ms per second; longest task "
              "{longest_task_ms:.0f} ms; {event_rows} event rows".format(**live))
        with urllib.request.urlopen(f"{ui}api/execution?arn={watched}") as answer:
            events = len(json.loads(answer.read())["events"])
        print(f"live: the watched execution had {events} events at the end")
        browser.close()
        for arn in running:
            sfn.stop_execution(executionArn=arn)


if __name__ == "__main__":
    main()
