"""Benchmarks of the local Lambda runtime (figures go to bench/README.md, never into tests).

    .venv/bin/python bench/lambda_runtime.py [--quick]

1. warm invoke overhead: median and p95 of ``LambdaRuntime.invoke`` of a trivial handler,
   minus the median of calling the same Python function directly;
2. cold start of a handler that imports only the standard library (wall time of the first
   invoke on a new worker, and the Init Duration it reports);
3. speed-up of a CPU-bound handler fanned out from 8 threads on 2 workers vs 1 worker.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from stepkit.runtime import FunctionConfig, LambdaRuntime

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "functions"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def warm_overhead(calls: int) -> dict[str, float]:
    spec = importlib.util.spec_from_file_location("bench_echo", FIXTURES / "echo" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    event = {"id": 1, "values": [1, 2, 3]}
    payload = json.dumps(event).encode()

    direct = []
    for _ in range(calls):
        start = time.perf_counter()
        module.direct(event, None)
        direct.append(time.perf_counter() - start)

    config = FunctionConfig(name="echo", code_dir=FIXTURES / "echo", handler="app.direct")
    with LambdaRuntime([config]) as rt:
        for _ in range(200):
            rt.invoke("echo", payload)  # warm up the worker and both interpreters
        invoked = []
        for _ in range(calls):
            start = time.perf_counter()
            rt.invoke("echo", payload)
            invoked.append(time.perf_counter() - start)
    base = statistics.median(direct)
    return {
        "direct_median_ms": base * 1000,
        "invoke_median_ms": statistics.median(invoked) * 1000,
        "invoke_p95_ms": _percentile(invoked, 0.95) * 1000,
        "overhead_median_ms": (statistics.median(invoked) - base) * 1000,
        "overhead_p95_ms": (_percentile(invoked, 0.95) - base) * 1000,
    }


def cold_start(runs: int) -> dict[str, float]:
    config = FunctionConfig(name="echo", code_dir=FIXTURES / "echo", handler="app.direct")
    walls, inits = [], []
    with LambdaRuntime([config]) as rt:
        for _ in range(runs):
            rt.add_function(config)  # a new pool: the next invoke starts a worker
            start = time.perf_counter()
            result = rt.invoke("echo", b"{}")
            walls.append(time.perf_counter() - start)
            inits.append(result.init_duration_ms or 0.0)
    return {
        "cold_invoke_median_ms": statistics.median(walls) * 1000,
        "init_duration_median_ms": statistics.median(inits),
        "cold_invoke_p95_ms": _percentile(walls, 0.95) * 1000,
    }


def fan_out(items: int, n: int, workers: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the workers) for ``items`` invocations from as many threads.

    CPU over wall time says how many cores the workers kept busy, whatever else the machine
    is running; the workers' CPU time is counted when they are reaped, at ``close``.
    """
    config = FunctionConfig(name="cpu", code_dir=FIXTURES / "cpu", reserved_concurrency=workers, timeout=300)
    payload = json.dumps({"n": n}).encode()
    before = os.times()
    with LambdaRuntime([config]) as rt, ThreadPoolExecutor(max_workers=items) as pool:
        list(pool.map(lambda _: rt.invoke("cpu", b'{"n": 1}'), range(workers * 2)))  # start the workers
        start = time.perf_counter()
        results = list(pool.map(lambda _: rt.invoke("cpu", payload), range(items)))
        elapsed = time.perf_counter() - start
    after = os.times()
    assert all(r.function_error is None for r in results)
    cpu = (after.children_user + after.children_system) - (before.children_user + before.children_system)
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    args = parser.parse_args()
    calls, runs, n = (500, 5, 300_000) if args.quick else (5000, 30, 3_000_000)

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    warm = warm_overhead(calls)
    print(f"warm invoke: median {warm['invoke_median_ms']:.3f} ms, p95 {warm['invoke_p95_ms']:.3f} ms; "
          f"direct call median {warm['direct_median_ms'] * 1000:.2f} µs; "
          f"overhead median {warm['overhead_median_ms']:.3f} ms, p95 {warm['overhead_p95_ms']:.3f} ms")
    cold = cold_start(runs)
    print(f"cold start (stdlib-only handler): first invoke median {cold['cold_invoke_median_ms']:.1f} ms "
          f"(p95 {cold['cold_invoke_p95_ms']:.1f} ms), "
          f"Init Duration median {cold['init_duration_median_ms']:.1f} ms")
    one, one_cpu = min(fan_out(8, n, 1) for _ in range(3))
    two, two_cpu = min(fan_out(8, n, 2) for _ in range(3))
    print(f"CPU-bound fan-out of 8 items: 1 worker {one:.2f} s ({one_cpu / one:.2f} cores busy), "
          f"2 workers {two:.2f} s ({two_cpu / two:.2f} cores busy), speed-up {one / two:.2f}x")


if __name__ == "__main__":
    main()
