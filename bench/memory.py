"""Memory of a long execution: an EXPRESS inline Map over N items (a JSONata range) run by
the endpoint's Step Functions service, whose history streams to SQLite, against the same
execution run in-process keeping its history as a list (``stepkit.run``'s way).

Each measurement runs in a fresh process, so its peak RSS (``ru_maxrss``) is its own.
Reported per N: wall and CPU time of the execution (CPU time is the steadier figure on a
shared machine), peak RSS, the RSS right before the execution
started (imports, the service), the events stored, and the time of GetExecutionHistory's
first page (100 events, newest first) of that history.

    .venv/bin/python bench/memory.py                 # 10k, 100k, 1M through the endpoint; 10k, 100k as a list
    .venv/bin/python bench/memory.py --sizes 10000   # one size
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SIZES = (10_000, 100_000, 1_000_000)
LIST_SIZES = (10_000, 100_000)  # a list of 4,000,000 events does not fit this machine's memory


def definition(n: int) -> dict[str, Any]:
    """One Pass per item; the Map's output is the number of results (its result list is
    over Step Functions' payload limit from about 40,000 items on)."""
    return {
        "QueryLanguage": "JSONata",
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "Items": f"{{% [1..{n}] %}}",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Item",
                    "States": {"Item": {"Type": "Pass", "End": True}},
                },
                "Output": "{% $count($states.result) %}",
                "End": True,
            }
        },
    }


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_endpoint(n: int) -> dict[str, Any]:
    from stepkit.endpoint.protocol import RequestContext
    from stepkit.endpoint.stepfunctions import StepFunctionsService
    from stepkit.endpoint.store import Store
    from stepkit.integrations.registry import IntegrationRegistry

    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "state.db")
        service = StepFunctionsService(store, IntegrationRegistry)
        ctx = RequestContext()
        machine = service.CreateStateMachine({
            "name": "Memory", "type": "EXPRESS", "definition": json.dumps(definition(n)),
            "roleArn": "arn:aws:iam::123456789012:role/bench"}, ctx)["stateMachineArn"]
        before = _rss_mb()
        cpu, started = time.process_time(), time.perf_counter()
        arn = service.StartExecution({"stateMachineArn": machine}, ctx)["executionArn"]
        service.wait_idle()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        described = service.DescribeExecution({"executionArn": arn}, ctx)
        page_started = time.perf_counter()
        page = service.GetExecutionHistory({"executionArn": arn, "reverseOrder": True}, ctx)
        page_ms = (time.perf_counter() - page_started) * 1000
        out = {"mode": "endpoint (SQLite)", "items": n, "status": described["status"],
               "output": described.get("output"), "events": page["events"][0]["id"], "seconds": round(seconds, 1),
               "cpu_seconds": round(cpu, 1), "rss_before_mb": round(before, 1), "peak_rss_mb": round(_peak_mb(), 1),
               "first_page_ms": round(page_ms, 2)}
        service.close()
        store.close()
    return out


def measure_list(n: int) -> dict[str, Any]:
    from stepkit.runner import StateMachine

    machine = StateMachine(definition(n), type="EXPRESS")
    before = _rss_mb()
    cpu, started = time.process_time(), time.perf_counter()
    result = machine.prepare({}).start()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"mode": "in-process list", "items": n, "status": result.status, "output": json.dumps(result.output),
            "events": len(result.history), "seconds": round(seconds, 1),
            "cpu_seconds": round(cpu, 1), "rss_before_mb": round(before, 1),
            "peak_rss_mb": round(_peak_mb(), 1), "first_page_ms": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--list-sizes", type=int, nargs="*", default=list(LIST_SIZES))
    parser.add_argument("--one", nargs=2, metavar=("MODE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        mode, n = args.one
        out = measure_endpoint(int(n)) if mode == "endpoint" else measure_list(int(n))
        print(json.dumps(out))
        return
    runs = [("endpoint", n) for n in args.sizes] + [("list", n) for n in args.list_sizes]
    print("| run | items | status | events | time (s) | CPU (s) | RSS before (MB) | peak RSS (MB) | first page (ms) |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for mode, n in runs:
        done = subprocess.run([sys.executable, __file__, "--one", mode, str(n)], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            print(f"| {mode} | {n:,} | error: {done.stderr.strip().splitlines()[-1:]} | | | | | | |")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        page = "" if r["first_page_ms"] is None else f"{r['first_page_ms']:.1f}"
        print(f"| {r['mode']} | {n:,} | {r['status']} | {r['events']:,} | {r['seconds']} | {r['cpu_seconds']} | "
              f"{r['rss_before_mb']} | {r['peak_rss_mb']} | {page} |", flush=True)


if __name__ == "__main__":
    main()
