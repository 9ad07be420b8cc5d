"""The ASL engine against moto's Step Functions interpreter (figures go to bench/README.md).

    .venv/bin/python bench/asl_engine.py [--quick] [--skip-large]
        [--inline-sizes 25000,50000,100000] [--distributed-sizes 25000,50000,100000]

The same definitions run on stepkit and on moto (``@mock_aws`` with
``execute_state_machine``, the LocalStack parser moto ships) in one process, one run:

1. ``pass-chain``  a chain of N Pass states with Parameters and ResultPath (transitions/s);
2. ``inline-map``  an inline Map over K items, ItemSelector + a Pass (Map iterations/s);
3. ``choice-loop`` a counting loop: per round a bound Choice, a Choice with And/Or/Not
   rules and a Pass that increments with States.MathAdd (transitions/s);
4. ``large-map``   Maps over up to 100,000 items, inline and distributed, on stepkit only
   (moto would take tens of minutes), each in a fresh process under a low recursion limit:
   wall time, peak RSS growth and bytes per item.

Before a workload is timed, both engines run it once and their outputs must be equal
(the script exits 1 otherwise). A time is one execution's wall time: for stepkit
``StateMachine.run``; for moto ``start_execution`` until ``describe_execution`` leaves
RUNNING. Setup (validation and compilation, ``create_state_machine``) is not timed; moto's
parse of the definition at every execution is timed apart and shown both ways. The
engines alternate round by round, so a change in the machine's load hits both. Rates are
size / median wall time; the ratios are stepkit's rate over moto's, and moto's CPU time
per execution over stepkit's (this process, all threads: the figure load disturbs least).
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from stepkit import StateMachine

ROLE_ARN = "arn:aws:iam::123456789012:role/bench"
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}}
JSONPATH_NG_MINIMUM = (1, 16)


# -- definitions -------------------------------------------------------------------------
def pass_chain(n: int) -> dict[str, Any]:
    """N Pass states; each builds an object from the input and puts it at $.last."""
    states: dict[str, Any] = {}
    for i in range(n):
        state: dict[str, Any] = {
            "Type": "Pass",
            "Parameters": {"step": i, "id.$": "$.id", "tags.$": "$.tags", "nested": {"name.$": "$.name"}},
            "ResultPath": "$.last",
        }
        if i < n - 1:
            state["Next"] = f"P{i + 1}"
        else:
            state["End"] = True
        states[f"P{i}"] = state
    return {"Comment": f"{n} Pass states", "StartAt": "P0", "States": states}


def pass_chain_input() -> dict[str, Any]:
    return {"id": "run-1", "name": "bench", "tags": ["a", "b", "c"]}


def inline_map() -> dict[str, Any]:
    """An inline Map: each item is built by an ItemSelector, then reshaped by one Pass."""
    return {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemSelector": {
                    "value.$": "$$.Map.Item.Value",
                    "index.$": "$$.Map.Item.Index",
                    "tag.$": "$.tag",
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Shape",
                    "States": {
                        "Shape": {
                            "Type": "Pass",
                            "Parameters": {"id.$": "$.value.id", "index.$": "$.index", "tag.$": "$.tag"},
                            "End": True,
                        }
                    },
                },
                "ResultPath": "$.results",
                "OutputPath": "$.results",
                "End": True,
            }
        },
    }


def map_input(k: int) -> dict[str, Any]:
    return {"tag": "bench", "items": [{"id": i, "payload": "x" * 16} for i in range(k)]}


def choice_loop() -> dict[str, Any]:
    """Count $.i up to $.n: per round a bound Choice, a classifying Choice with And/Or/Not
    rules that fail before the last one matches, and a Pass that increments with
    States.MathAdd."""
    return {
        "StartAt": "Init",
        "States": {
            "Init": {
                "Type": "Pass",
                "Parameters": {"i": 0, "n.$": "$.n", "even": True, "evens": 0, "tag": "loop"},
                "Next": "Bound",
            },
            "Bound": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.i", "NumericGreaterThanEqualsPath": "$.n", "Next": "Done"}],
                "Default": "Classify",
            },
            "Classify": {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.i", "IsPresent": True},
                            {"Variable": "$.i", "NumericLessThan": 0},
                        ],
                        "Next": "Negative",
                    },
                    {
                        "Or": [
                            {"Variable": "$.tag", "StringMatches": "skip*"},
                            {"Not": {"Variable": "$.n", "IsNumeric": True}},
                        ],
                        "Next": "Negative",
                    },
                    {"Variable": "$.even", "BooleanEquals": True, "Next": "Even"},
                ],
                "Default": "Odd",
            },
            "Even": {
                "Type": "Pass",
                "Parameters": {
                    "i.$": "States.MathAdd($.i, 1)",
                    "n.$": "$.n",
                    "even": False,
                    "evens.$": "States.MathAdd($.evens, 1)",
                    "tag.$": "$.tag",
                },
                "Next": "Bound",
            },
            "Odd": {
                "Type": "Pass",
                "Parameters": {"i.$": "States.MathAdd($.i, 1)", "n.$": "$.n", "even": True, "evens.$": "$.evens",
                               "tag.$": "$.tag"},
                "Next": "Bound",
            },
            "Negative": {"Type": "Fail", "Error": "Negative", "Cause": "i < 0"},
            "Done": {"Type": "Succeed"},
        },
    }


def choice_loop_transitions(rounds: int) -> int:
    return 1 + 3 * rounds + 2  # Init, (Bound, Classify, Even|Odd) per round, Bound, Done


# -- engines -----------------------------------------------------------------------------
@dataclass
class Outcome:
    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None


class StepkitEngine:
    name = "stepkit"

    def __init__(self, definition: dict[str, Any]) -> None:
        start = time.perf_counter()
        self.machine = StateMachine(definition, validate=True)
        self.setup_seconds = time.perf_counter() - start

    def run(self, data: Any) -> Outcome:
        # the workloads' histories pass AWS's 25,000-event quota: measure the engine, not the quota
        execution = self.machine.run(data, unlimited_history=True)
        return Outcome(execution.status, execution.output, execution.error, execution.cause)

    def timed(self, data: Any) -> float:
        start = time.perf_counter()
        execution = self.machine.run(data, unlimited_history=True)
        elapsed = time.perf_counter() - start
        if execution.status != "SUCCEEDED":
            raise RuntimeError(f"stepkit: {execution.status} {execution.error}: {execution.cause}")
        return elapsed


class MotoEngine:
    """One state machine in moto; must be used inside ``mock_aws(config=MOTO_CONFIG)``."""

    name = "moto"

    def __init__(self, definition: dict[str, Any], client: Any) -> None:
        self.client = client
        start = time.perf_counter()
        self.arn = client.create_state_machine(
            name=f"bench-{uuid.uuid4().hex[:12]}", definition=json.dumps(definition), roleArn=ROLE_ARN
        )["stateMachineArn"]
        self.setup_seconds = time.perf_counter() - start
        self.text = json.dumps(definition)

    def parse_seconds(self, repeats: int) -> float:
        """Median time of the ANTLR parse that moto repeats at the start of every execution."""
        from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            AmazonStateLanguageParser.parse(self.text)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    def _execute(self, data: Any) -> tuple[float, dict[str, Any]]:
        client = self.client
        text = json.dumps(data)
        start = time.perf_counter()
        arn = client.start_execution(stateMachineArn=self.arn, name=uuid.uuid4().hex, input=text)["executionArn"]
        while True:
            described = client.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                break
            # Poll often enough to stop the clock within ~2% of the execution's time, rarely
            # enough that describe_execution does not compete with moto's worker threads.
            time.sleep(min(0.02, max(0.0005, (time.perf_counter() - start) * 0.02)))
        return time.perf_counter() - start, described

    def run(self, data: Any) -> Outcome:
        _, described = self._execute(data)
        output = described.get("output")
        return Outcome(
            described["status"],
            json.loads(output) if output is not None else None,
            described.get("error"),
            described.get("cause"),
        )

    def timed(self, data: Any) -> float:
        elapsed, described = self._execute(data)
        if described["status"] != "SUCCEEDED":
            raise RuntimeError(f"moto: {described['status']} {described.get('error')}: {described.get('cause')}")
        return elapsed


def moto_client() -> Any:
    import boto3

    return boto3.client("stepfunctions", region_name="us-east-1")


# -- measuring ---------------------------------------------------------------------------
@dataclass
class Workload:
    name: str
    unit: str  # what the size counts: "transitions" or "Map iterations"
    definition: dict[str, Any]
    data: Any
    size: int
    goal: float | None = None  # wanted stepkit / moto ratio
    note: str = ""


@dataclass
class Result:
    workload: Workload
    times: dict[str, list[float]] = field(default_factory=dict)  # wall seconds per execution
    cpu: dict[str, list[float]] = field(default_factory=dict)  # this process's CPU seconds, all threads
    setup: dict[str, float] = field(default_factory=dict)
    moto_parse: float = 0.0  # moto's per-execution parse of the definition (median)

    def rate(self, engine: str) -> float:
        return self.workload.size / statistics.median(self.times[engine])

    @property
    def moto_interpreter_rate(self) -> float:
        """moto's rate without its per-execution parse: the interpreter alone."""
        return self.workload.size / max(1e-9, statistics.median(self.times["moto"]) - self.moto_parse)

    @property
    def ratio(self) -> float:
        return self.rate("stepkit") / self.rate("moto")

    @property
    def interpreter_ratio(self) -> float:
        return self.rate("stepkit") / self.moto_interpreter_rate

    @property
    def cpu_ratio(self) -> float:
        """moto's CPU time per execution over stepkit's: the ratio a busy machine disturbs least."""
        return statistics.median(self.cpu["moto"]) / statistics.median(self.cpu["stepkit"])


def same_outcome(a: Outcome, b: Outcome) -> bool:
    return (a.status, a.output, a.error, a.cause) == (b.status, b.output, b.error, b.cause)


def check_and_time(workload: Workload, engines: list[Any], rounds: int, inner: dict[str, int]) -> Result:
    """Run the workload once per engine and compare outputs, then time it: ``rounds`` rounds;
    in each round each engine runs ``inner[engine]`` times (the engines alternate, so a
    change in the machine's load hits both)."""
    outcomes = {engine.name: engine.run(workload.data) for engine in engines}  # also the warm-up
    first = outcomes[engines[0].name]
    if first.status != "SUCCEEDED":
        raise SystemExit(f"{workload.name}: {engines[0].name} {first.status}: {first.error} {first.cause}")
    for engine in engines[1:]:
        if not same_outcome(first, outcomes[engine.name]):
            other = outcomes[engine.name]
            raise SystemExit(
                f"{workload.name}: outputs differ\n  {engines[0].name}: {_short(first)}\n"
                f"  {engine.name}: {_short(other)}"
            )
    result = Result(workload, setup={e.name: e.setup_seconds for e in engines})
    for engine in engines:
        result.times[engine.name] = []
        result.cpu[engine.name] = []
    for _ in range(rounds):
        for engine in engines:
            for _ in range(inner[engine.name]):
                cpu = time.process_time()
                result.times[engine.name].append(engine.timed(workload.data))
                result.cpu[engine.name].append(time.process_time() - cpu)
    for engine in engines:
        if isinstance(engine, MotoEngine):
            result.moto_parse = engine.parse_seconds(max(1, rounds))
    return result


def _short(outcome: Outcome) -> str:
    text = json.dumps(outcome.output)
    return f"{outcome.status} {outcome.error} {outcome.cause} {text[:300]}"


def versions() -> dict[str, str]:
    out = {}
    for dist in ("moto", "boto3", "jsonpath-ng", "jsonata-python", "stepkit"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def check_jsonpath_ng(found: str) -> None:
    try:
        parts = tuple(int(p) for p in found.split(".")[:2])
    except ValueError:
        parts = (0, 0)
    if parts < JSONPATH_NG_MINIMUM:
        raise SystemExit(
            f"jsonpath-ng {found} is installed; moto's interpreter needs >= "
            f"{'.'.join(map(str, JSONPATH_NG_MINIMUM))} to run at its best (pip install 'jsonpath-ng>=1.16')"
        )


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> str:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    v = versions()
    return (
        f"machine: {os.cpu_count()} CPUs ({usable} usable), {cpu_model()}, {platform.system()} {platform.release()}\n"
        f"python {platform.python_version()} ({platform.python_implementation()}); "
        + ", ".join(f"{k} {val}" for k, val in v.items())
        + f"\nload average at start: {load_average()}"
    )


def print_table(results: list[Result]) -> None:
    header = ("workload", "size", "unit", "stepkit/s", "moto/s", "ratio", "moto interp./s", "ratio", "CPU ratio",
              "goal")
    rows = []
    for r in results:
        w = r.workload
        goal = ""
        if w.goal:
            goal = f">= {w.goal:g}x " + ("met" if min(r.ratio, r.interpreter_ratio) >= w.goal else "NOT met")
        rows.append((
            w.name, f"{w.size:,}", w.unit, f"{r.rate('stepkit'):,.0f}", f"{r.rate('moto'):,.0f}", f"{r.ratio:,.0f}x",
            f"{r.moto_interpreter_rate:,.0f}", f"{r.interpreter_ratio:,.0f}x", f"{r.cpu_ratio:,.0f}x", goal,
        ))
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        cells = [str(x).ljust(wd) if i in (0, 2, 9) else str(x).rjust(wd) for i, (x, wd) in enumerate(
            zip(row, widths, strict=True))]
        print("  ".join(cells).rstrip())
    print(
        "  moto/s: start_execution until describe_execution leaves RUNNING; moto interp./s: the same minus\n"
        "  the ANTLR parse of the definition that moto repeats at every execution (timed apart, median);\n"
        "  CPU ratio: moto's median CPU seconds per execution (this process, all threads) over stepkit's."
    )
    for r in results:
        sk, mo = r.times["stepkit"], r.times["moto"]
        print(
            f"  {r.workload.name}: median per execution stepkit {statistics.median(sk) * 1000:.2f} ms "
            f"(CPU {statistics.median(r.cpu['stepkit']) * 1000:.2f} ms, {len(sk)} runs), moto "
            f"{statistics.median(mo) * 1000:,.0f} ms (CPU {statistics.median(r.cpu['moto']) * 1000:,.0f} ms, "
            f"{len(mo)} runs) of which "
            f"{r.moto_parse * 1000:,.0f} ms parsing; setup, not timed: stepkit StateMachine() "
            f"{r.setup['stepkit'] * 1000:.1f} ms, moto create_state_machine {r.setup['moto'] * 1000:.1f} ms"
        )


def calibrate() -> float:
    """Milliseconds for a fixed pure-Python loop (best of 5): says how fast, or how busy,
    the machine was, so runs on different days can be put side by side."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i % 7
        best = min(best, time.perf_counter() - start)
    return best * 1000


# -- the large Map, in a fresh process per size ------------------------------------------
def large_map_definition(mode: str) -> dict[str, Any]:
    """A Map over ``$.n`` items, inline or distributed. The items cannot come in the input
    (stepkit, like StartExecution, refuses input over 256 KiB) nor from States.ArrayRange
    (1,000 items at most), so the Map state alone is JSONata and makes them with the range
    ``[0..n-1]``. Each item runs two JSONPath Pass states: one builds an object, the other
    returns ``1``, so the results (2 bytes an item) stay under the 256 KiB a distributed Map
    may return without a ResultWriter; the Map's Output keeps their count and sum."""
    processor_config: dict[str, Any] = {"Mode": "INLINE"}
    if mode == "distributed":
        processor_config = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    return {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "QueryLanguage": "JSONata",
                "Items": "{% [0..$states.input.n - 1] %}",
                "ItemProcessor": {
                    "ProcessorConfig": processor_config,
                    "StartAt": "Shape",
                    "States": {
                        "Shape": {
                            "Type": "Pass",
                            "QueryLanguage": "JSONPath",
                            "Parameters": {"id.$": "$", "tag": "bench", "double.$": "States.MathAdd($, $)"},
                            "Next": "One",
                        },
                        "One": {"Type": "Pass", "QueryLanguage": "JSONPath", "Result": 1, "End": True},
                    },
                },
                "Output": "{% {'count': $count($states.result), 'sum': $sum($states.result)} %}",
                "End": True,
            }
        },
    }


RECURSION_LIMIT = 200  # far below Python's 1000: a Map that recursed per item would fail


def _proc_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset VmHWM (Linux >= 4.0); the peak is otherwise inherited from the parent across
    fork and exec, which would hide this process's own growth."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def large_map_child(items: int, mode: str) -> dict[str, Any]:
    """Runs in its own process: time and peak RSS growth of one Map over ``items`` items."""
    machine = StateMachine(large_map_definition(mode), validate=True)
    data = {"n": items}
    machine.run({"n": 10})  # warm
    gc.collect()
    exact = _reset_peak_rss() and _proc_status_kib("VmHWM") is not None
    before = _proc_status_kib("VmRSS") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(RECURSION_LIMIT)
    try:
        start = time.perf_counter()
        execution = machine.run(data, unlimited_history=True)  # over AWS's 25,000-event quota
        elapsed = time.perf_counter() - start
    finally:
        sys.setrecursionlimit(limit)
    after = _proc_status_kib("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    want = {"count": items, "sum": items}
    ok = execution.status == "SUCCEEDED" and execution.output == want
    return {
        "items": items,
        "mode": mode,
        "status": execution.status if ok else f"WRONG {execution.status} {execution.error} {execution.cause}",
        "seconds": elapsed,
        "rss_before_kib": before,
        "rss_growth_kib": max(0, (after or 0) - (before or 0)),
        "peak_source": "VmHWM" if exact else "ru_maxrss",
        "events": len(execution.history),
    }


def large_map(sizes: list[int], modes: list[str]) -> list[dict[str, Any]]:
    results = []
    for mode in modes:
        for items in sizes:
            proc = subprocess.run(
                [sys.executable, __file__, "--large-map-child", str(items), mode],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                raise SystemExit(f"large-map {mode} {items}: the child failed\n{proc.stderr[-2000:]}")
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return results


def print_large_map(rows: list[dict[str, Any]], moto_map_rate: float | None) -> None:
    print(
        f"\nlarge-map (stepkit only): a Map over n items made by a JSONata range, 2 Pass states an item, each run\n"
        f"in a fresh process"
        f" under sys.setrecursionlimit({RECURSION_LIMIT}); peak RSS growth is {rows[0]['peak_source']} during the run "
        f"minus RSS before it\n(the items and the results are counted, and the history)."
    )
    print("  mode         items     status      seconds  iterations/s  history events  peak RSS growth  per item")
    for r in rows:
        growth_mib = r["rss_growth_kib"] / 1024
        per_item = r["rss_growth_kib"] * 1024 / r["items"]
        print(
            f"  {r['mode']:<11} {r['items']:>7,}  {r['status']:<10} {r['seconds']:>8.2f}  "
            f"{r['items'] / r['seconds']:>12,.0f}  {r['events']:>14,}  {growth_mib:>11.1f} MiB  {per_item:>6.0f} B"
        )
    if moto_map_rate:
        biggest = max(r["items"] for r in rows)
        print(
            f"  not run on moto: at its inline-map rate above ({moto_map_rate:,.0f} iterations/s) {biggest:,} "
            f"items would take ~{biggest / moto_map_rate / 60:.0f} min or more (moto starts one thread per item)."
        )


# -- main --------------------------------------------------------------------------------
def workloads(quick: bool) -> list[Workload]:
    n, k, rounds = (10, 10, 3) if quick else (200, 500, 100)
    return [
        Workload("pass-chain", "transitions", pass_chain(n), pass_chain_input(), n, goal=25),
        Workload("inline-map", "iterations", inline_map(), map_input(k), k, goal=25),
        Workload("choice-loop", "transitions", choice_loop(), {"n": rounds}, choice_loop_transitions(rounds)),
    ]


def _sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def load_average() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return " ".join(f"{x:.2f}" for x in load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one round (a smoke run)")
    parser.add_argument("--skip-large", action="store_true", help="skip the 100,000-item Map")
    parser.add_argument("--inline-sizes", type=_sizes, default=[25_000, 50_000, 100_000], metavar="N,N,...",
                        help="items of the large inline Maps (default 25000,50000,100000)")
    parser.add_argument("--distributed-sizes", type=_sizes, default=[25_000, 50_000, 100_000], metavar="N,N,...",
                        help="items of the large distributed Maps (default 25000,50000,100000)")
    parser.add_argument("--large-map-child", nargs=2, metavar=("ITEMS", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.large_map_child:
        print(json.dumps(large_map_child(int(args.large_map_child[0]), args.large_map_child[1])))
        return

    check_jsonpath_ng(versions()["jsonpath-ng"])
    print(machine_info())
    print(f"calibration: a 1,000,000-step Python loop takes {calibrate():.0f} ms (best of 5)")
    from moto import mock_aws

    rounds, inner = (1, {"stepkit": 2, "moto": 1}) if args.quick else (5, {"stepkit": 10, "moto": 1})

    @mock_aws(config=MOTO_CONFIG)
    def compare() -> list[Result]:
        client = moto_client()
        warm = pass_chain(2)  # the first machine of each engine pays for imports: not a setup figure
        StepkitEngine(warm)
        MotoEngine(warm, client)
        results = []
        for w in workloads(args.quick):
            engines = [StepkitEngine(w.definition), MotoEngine(w.definition, client)]
            results.append(check_and_time(w, engines, rounds, inner))
        return results

    results = compare()
    print("\noutputs (status, output, error, cause) equal on both engines for every workload\n")
    print_table(results)
    if not args.skip_large:
        inline = [2_000] if args.quick else args.inline_sizes
        distributed = [500] if args.quick else args.distributed_sizes
        map_rate = next(r.rate("moto") for r in results if r.workload.name == "inline-map")
        print_large_map(large_map(inline, ["inline"]) + large_map(distributed, ["distributed"]), map_rate)
    print(f"\nload average at end: {load_average()}")


if __name__ == "__main__":
    main()
