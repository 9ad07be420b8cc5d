"""How fast ``stepkit simulate`` answers (figures go to bench/README.md).

    .venv/bin/python bench/simulate.py [--quick]

For an inline Map and a Distributed Map (EXPRESS children) of N one-second Lambda tasks at
the default 1,000 account concurrency, with a Retry on Lambda.TooManyRequestsException
(FULL jitter): the wall time of tracing the definition (a local run with every Task
answering its input: the engine runs the N iterations or child executions) and of the
simulation itself, median of 3, with the simulated makespan, throttles and the number of
events the simulation handled.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time

from stepkit.estimate.quotas import load_quotas
from stepkit.estimate.simulate import Settings, Simulation
from stepkit.estimate.trace import stub_trace

FN = "arn:aws:lambda:us-east-1:123456789012:function:work"
RETRY = [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1, "BackoffRate": 2,
          "MaxAttempts": 20, "MaxDelaySeconds": 4, "JitterStrategy": "FULL"}]


def definition(mode: str) -> dict:
    config = {"Mode": mode, **({"ExecutionType": "EXPRESS"} if mode == "DISTRIBUTED" else {})}
    return {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "End": True, "MaxConcurrency": 10_000 if mode == "DISTRIBUTED" else 0,
        "ItemProcessor": {"ProcessorConfig": config, "StartAt": "T",
                          "States": {"T": {"Type": "Task", "Resource": FN, "End": True, "Retry": RETRY}}}}}}


def measure(mode: str, items: int, runs: int) -> dict:
    traces, sims = [], []
    outcome = None
    for _ in range(runs):
        started = time.perf_counter()
        trace = stub_trace(definition(mode), {"items": list(range(items))}).steps
        traced = time.perf_counter()
        settings = Settings(task_seconds={}, default_task_seconds=1.0, functions={}, account_concurrency=1000)
        outcome = Simulation(trace, settings, load_quotas()).run()
        traces.append(traced - started)
        sims.append(time.perf_counter() - traced)
    assert outcome is not None
    return {"trace": statistics.median(traces), "simulate": statistics.median(sims), "outcome": outcome}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="Small sizes, one run (a smoke test).")
    args = parser.parse_args()
    sizes = [100] if args.quick else [1_000, 10_000]
    runs = 1 if args.quick else 3
    print(f"Python {platform.python_version()} on {platform.machine()}, {runs} run(s) each")
    print(f"{'map':<12} {'items':>6} {'trace s':>8} {'simulate s':>10} {'makespan s':>10} {'events':>8} throttles")
    for mode in ("INLINE", "DISTRIBUTED"):
        for items in sizes:
            m = measure(mode, items, runs)
            o = m["outcome"]
            print(f"{mode:<12} {items:>6} {m['trace']:>8.2f} {m['simulate']:>10.2f} {o.makespan_seconds:>10.1f} "
                  f"{o.events:>8} {o.throttles.get('Lambda.TooManyRequestsException', 0)}")
            if o.status != "SUCCEEDED":
                print(f"  FAILED: {o.error}", file=sys.stderr)
                sys.exit(1)


if __name__ == "__main__":
    main()
