"""The training pipeline through stepkit against the same handlers in a plain Python loop.

    .venv/bin/python bench/pipeline.py                # 15 warm runs of each side, 2-3 min
    .venv/bin/python bench/pipeline.py --quick        # 1 warm run of each (the smoke test)
    .venv/bin/python bench/pipeline.py --parallelism 2   # the runtime's default: a worker per CPU
    .venv/bin/python bench/pipeline.py --dataset synthetic --rows 5000 --json figures.json

Both sides run in one process, on one dataset (default: breast_cancer, the demo's), with
the default grid of ``statemachines/training.asl.json``, against one S3: a moto server this
script starts on 127.0.0.1 (``ThreadedMotoServer`` in a child process of its own session, so
its CPU is counted apart and it competes with neither side) and stops at the end.

(a) stepkit: the training state machine (its ``${...}`` substitutions filled as
    ``stepkit run`` fills them) run by the engine (``StateMachine(..., registry=...)``),
    its Lambda tasks executed by the local runtime's worker processes
    (``LambdaRuntime.from_project`` + ``LambdaRuntimeIntegration``). The Map runs with the
    definition's default MaxConcurrency (4) and the runtime may start that many train
    workers (``default_concurrency``; its own default is one per CPU, see ``--parallelism``).
(b) direct: the same five handlers called in-process through ``functions/local_harness.py``
    (a fake Lambda context, the function's environment, JSON round-trips), in the order and
    with the decisions of the state machine, the grid's train calls fanned out over a
    process pool of the same size (spawned with train's OMP/OPENBLAS settings; each worker in
    its own session as the runtime starts its workers, which matters under the kernel's
    autogroup scheduling; the train handler loaded by the pool's initializer).

The first run of each side is cold (stepkit starts its workers; the direct side starts its
pool and loads the handler modules) and reported apart; then warm runs alternate
(stepkit, direct, direct, stepkit, ...) so a change of the machine's load hits both, and
medians are reported. Every run uses its own ``model_name``, so each one finds no
champion and registers a first version: every run does the same work.

Per run: wall time of each stage (stepkit: from the execution's history, state entered to
state exited; direct: around each call) and the total; during the fan-out the CPU seconds
of the train processes (``/proc/<pid>/stat``) over its wall seconds ("cores busy": 2.0 is
both cores), the machine's busy cores (``/proc/stat``: every process, others' jobs too) and
the share of the fan-out with at least as many candidates in flight as CPUs; CPU seconds of
every process involved (stepkit's host process: the engine and the runtime's host side;
the direct side's: the preprocess, select and register handlers) and of the moto server.
For stepkit, each Lambda task's time is split into the engine's part, the integration's,
the runtime's host side and the worker's own duration. Then, unless ``--quick``, isolated
calls: one-Task state machines against in-process calls of the same event, alternating.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
DEFINITION = ROOT / "statemachines" / "training.asl.json"
BUCKET = "stepkit-bench-artifacts"
REGION = "us-east-1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: The stages both sides report, in pipeline order; "rest" is what is between them
#: (stepkit: the Pass and Choice states; direct: the loop's own glue).
STAGES = ("preprocess", "train fan-out", "select_model", "register_model", "rest")
#: The state of each stage in training.asl.json.
STATE_OF = {"Preprocess": "preprocess", "TrainCandidates": "train fan-out", "SelectModel": "select_model",
            "RegisterModel": "register_model"}
#: What the Train task's ResultSelector keeps of the train function's result.
TRAIN_RESULT_KEYS = ("status", "candidate_id", "family", "params", "artifact_key", "artifact_sha256",
                     "metrics_key", "lineage_key", "validation", "train_seconds")
#: The settings of train in infra/stack.yaml that must hold before numpy is imported.
TRAIN_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

MOTO_SERVER = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # until the benchmark closes the pipe
server.stop()
"""


def load_module(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# -- CPU accounting --------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads); 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)


def preemptions(pid: int) -> int:
    """Times the process was switched out while it could still run (``nonvoluntary_ctxt_switches``)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"nonvoluntary_ctxt_switches:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def child_pids() -> list[int]:
    me = os.getpid()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == me:
            pids.append(int(entry))
    return pids


def runtime_workers() -> dict[str, list[int]]:
    """The runtime's worker processes by function (children running in the function's folder)."""
    found: dict[str, list[int]] = {}
    for pid in child_pids():
        with contextlib.suppress(OSError):
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
            if cwd.parent == FUNCTIONS:
                found.setdefault(cwd.name, []).append(pid)
    return found


def machine_cpu() -> tuple[float, float]:
    """(CPU seconds busy, of which stolen by the hypervisor) of the whole machine so far."""
    with open("/proc/stat", "rb") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    steal = values[7] if len(values) > 7 else 0
    return (sum(values[:8]) - idle) / CLK_TCK, steal / CLK_TCK


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuWindow:
    """CPU seconds over a window: of groups of processes, of this process, of the S3 server."""

    def __init__(self, s3_pid: int, groups: Callable[[], dict[str, list[int]]]) -> None:
        self.s3_pid = s3_pid
        self.groups = groups
        self.cpu: dict[str, float] = {}

    def __enter__(self) -> CpuWindow:
        self._before = {pid: cpu_seconds(pid) for pids in self.groups().values() for pid in pids}
        self._switches = {pid: preemptions(pid) for pid in self.groups().get("train workers", [])}
        self._host = process_cpu()
        self._s3 = cpu_seconds(self.s3_pid)
        return self

    def __exit__(self, *exc: object) -> None:
        groups = self.groups()
        for group, pids in groups.items():
            # A worker started inside the window (a cold run) counts from 0.
            self.cpu[group] = sum(cpu_seconds(pid) - self._before.get(pid, 0.0) for pid in pids)
        self.preempted = sum(preemptions(pid) - self._switches.get(pid, 0) for pid in groups.get("train workers", []))
        self.cpu["this process"] = process_cpu() - self._host
        self.cpu["S3 server"] = cpu_seconds(self.s3_pid) - self._s3


# -- one run's figures ------------------------------------------------------------------------


@dataclass
class Call:
    """One Lambda invocation: its span (epoch seconds) and where its time went (seconds).

    stepkit: ``integration`` is the engine's call into its Lambda backend, ``invoke`` the
    runtime's ``invoke`` inside it, ``worker`` the duration the runtime measured around the
    worker (request written to response read). direct: ``worker`` is the handler call."""

    function: str
    start: float
    end: float
    worker: float
    invoke: float = 0.0
    integration: float = 0.0
    invoke_cpu: float = 0.0  # CPU of the invoking thread inside runtime.invoke


@dataclass
class RunFigures:
    side: str
    cold: bool
    total: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    preempted: int = 0  # involuntary context switches of the train workers
    machine_fanout: tuple[float, float] = (0.0, 0.0)  # machine CPU s busy, stolen, during the fan-out
    fit_seconds: float = 0.0  # sum over the train calls of the estimator's fit
    outcome: str = ""

    @property
    def fanout_wall(self) -> float:
        return self.stages.get("train fan-out", 0.0)

    @property
    def cores_busy(self) -> float:
        wall = self.fanout_wall
        return self.cpu.get("train workers", 0.0) / wall if wall > 0 else 0.0

    @property
    def machine_busy(self) -> float:
        """Cores the whole machine (every process, this benchmark's and others') kept busy
        during the fan-out."""
        wall = self.fanout_wall
        return self.machine_fanout[0] / wall if wall > 0 else 0.0

    def overlap(self, cores: int) -> float:
        """The fraction of the fan-out's wall time during which at least ``cores`` train
        calls were in flight (1.0: never fewer candidates running than cores)."""
        spans = [(c.start, c.end) for c in self.calls if c.function == "train"]
        if not spans or self.fanout_wall <= 0:
            return 0.0
        edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
        busy, running, last = 0.0, 0, edges[0][0]
        for at, step in edges:
            if running >= cores:
                busy += at - last
            running += step
            last = at
        return min(busy / self.fanout_wall, 1.0)

    def of(self, function: str) -> list[Call]:
        return [c for c in self.calls if c.function == function]


# -- (a) stepkit --------------------------------------------------------------------------------


class TimedRuntime:
    """The runtime as ``LambdaRuntimeIntegration`` sees it, timing each ``invoke`` and
    keeping the duration the runtime measured around its worker."""

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime
        self.local = threading.local()

    def invoke(self, name: str, payload: bytes = b"", **options: Any) -> Any:
        cpu = time.thread_time()
        started = time.perf_counter()
        result = self._runtime.invoke(name, payload, **options)
        self.local.timing = (time.perf_counter() - started, result.duration_ms / 1000, time.thread_time() - cpu)
        return result


class TimedBackend:
    """The engine's Lambda backend: times each Task's call into the integration."""

    def __init__(self, integration: Any, runtime: TimedRuntime) -> None:
        self._integration = integration
        self._runtime = runtime
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def __call__(self, invocation: Any) -> Any:
        start = time.time()
        started = time.perf_counter()
        try:
            return self._integration(invocation)
        finally:
            wall = time.perf_counter() - started
            invoke, worker, cpu = getattr(self._runtime.local, "timing", (0.0, 0.0, 0.0))
            self._runtime.local.timing = (0.0, 0.0, 0.0)
            name = str((invocation.parameters or {}).get("FunctionName", "")).rsplit(":", 1)[-1]
            with self._lock:
                self.calls.append(Call(name, start, start + wall, worker, invoke, wall, cpu))


class StepkitSide:
    def __init__(self, parallelism: int, s3_pid: int) -> None:
        from stepkit.asl.substitutions import substitute
        from stepkit.integrations.lambda_runtime import LambdaRuntimeIntegration
        from stepkit.integrations.registry import IntegrationRegistry
        from stepkit.runner import StateMachine
        from stepkit.runtime import LambdaRuntime
        from stepkit.stack.project import Project
        from stepkit.stack.references import function_substitutions

        project = Project.discover(ROOT)
        # host_aws: the workers reach the bench's moto server through the AWS_* set in main(), as the
        # plain-loop side's processes do (by default the runtime lends them none of the host's AWS setup)
        self.runtime = LambdaRuntime.from_project(project, region=REGION, default_concurrency=parallelism,
                                                  host_aws=True)
        timed = TimedRuntime(self.runtime)
        self.backend = TimedBackend(LambdaRuntimeIntegration(timed), timed)  # type: ignore[arg-type]
        registry = IntegrationRegistry()
        registry.set_lambda_backend(self.backend)
        # As `stepkit run` fills them: the project's function ARNs, then the stack's own.
        values = function_substitutions(
            [fn.name for fn in project.functions()],
            lambda fn: f"arn:aws:lambda:{REGION}:123456789012:function:{fn}",
        )
        # The rollout is never started here: a run on the same rows never beats the champion by the margin.
        values.update({"ArtifactsBucket": BUCKET, "ModelName": "bench",
                       "RolloutStateMachineArn": f"arn:aws:states:{REGION}:123456789012:stateMachine:rollout"})
        definition = json.loads(substitute(DEFINITION.read_text(), values))
        self.machine = StateMachine(definition, name="training", registry=registry)
        self.s3_pid = s3_pid
        # One Task state per function, as the pipeline's Tasks call them: for isolated calls.
        self.single_task = {
            fn: StateMachine({"StartAt": "Task", "States": {"Task": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": values[arn_name], "Payload.$": "$"},
                "ResultSelector": {"result.$": "$.Payload"}, "End": True}}}, name=f"single-{fn}", registry=registry)
            for fn, arn_name in (("preprocess", "PreprocessFunctionArn"), ("select_model", "SelectModelFunctionArn"))
        }

    def _groups(self) -> dict[str, list[int]]:
        workers = runtime_workers()
        return {"train workers": workers.pop("train", []),
                "other workers": [pid for pids in workers.values() for pid in pids]}

    def run(self, dataset_key: str, tag: str, cold: bool) -> RunFigures:
        name = f"stepkit-{tag}"
        self.backend.calls.clear()
        figures = RunFigures("stepkit", cold)
        marks: list[tuple[float, float]] = []

        def listener(event: Any) -> None:  # the machine's CPU when the Map starts and ends
            if (event.depth == 0 and event.event_type in ("MapStateEntered", "MapStateExited")
                    and (event.details or {}).get("name") == "TrainCandidates"):
                marks.append(machine_cpu())

        with CpuWindow(self.s3_pid, self._groups) as cpu:
            started = time.perf_counter()
            execution = self.machine.run({"dataset_key": dataset_key, "model_name": f"bench-stepkit-{tag}"},
                                         name=name, listener=listener)
            figures.total = time.perf_counter() - started
        if len(marks) == 2:
            figures.machine_fanout = (marks[1][0] - marks[0][0], marks[1][1] - marks[0][1])
        if execution.status != "SUCCEEDED":
            raise RuntimeError(f"stepkit run {name}: {execution.status} {execution.error}: {execution.cause}")
        entered: dict[str, float] = {}
        for event in execution.history:
            if event.depth == 0 and event.details and event.details.get("name") in STATE_OF:
                stage = STATE_OF[event.details["name"]]
                if event.event_type.endswith("StateEntered"):
                    entered[stage] = event.timestamp
                elif event.event_type.endswith("StateExited"):
                    figures.stages[stage] = event.timestamp - entered[stage]
            if event.event_type == "MapStateExited" and event.depth == 0 and event.details["name"] == "TrainCandidates":
                for item in (event.details or {}).get("output", {}).get("candidates") or []:
                    figures.fit_seconds += float(item.get("train_seconds") or 0.0)
        figures.stages["rest"] = figures.total - sum(figures.stages.values())
        figures.cpu, figures.preempted = cpu.cpu, cpu.preempted
        figures.calls = list(self.backend.calls)
        output = execution.output
        figures.outcome = f"best {output['best']['candidate_id']}, registered {output['outcome']['registered']}"
        return figures

    def close(self) -> None:
        self.runtime.close()


# -- (b) the same handlers called directly -------------------------------------------------------

_pool_train: Any = None
_pool_barrier: Any = None


def _pool_init(functions_dir: str, barrier: Any) -> None:
    """A pool worker's INIT: its output to a log file (as a runtime worker's goes to one),
    then the train handler loaded (as a warm Lambda worker has it)."""
    global _pool_train, _pool_barrier
    _pool_barrier = barrier
    # Its own session, as the runtime starts each worker (start_new_session=True): with the
    # kernel's autogroup scheduling (sched_autogroup_enabled) a session is a scheduling group,
    # so on a machine other jobs load, processes in one session share one group's CPU.
    os.setsid()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - open for the worker's life
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.path.insert(0, functions_dir)
    harness = load_module(Path(functions_dir) / "local_harness.py", "bench_local_harness")
    _pool_train = harness.LocalFunction("train")


def _pool_pid() -> int:
    """Returns once every worker of the pool runs this: the pool is started and initialised."""
    _pool_barrier.wait(timeout=300)
    return os.getpid()


def _pool_train_call(event: dict[str, Any]) -> tuple[dict[str, Any], float, float]:
    """One Map iteration as the state machine does it: Train, or a caught failure; with its span."""
    start = time.time()
    try:
        result = _pool_train(event)
    except Exception as exc:
        failed = {"status": "FAILED", "candidate": event["candidate"], "error": type(exc).__name__,
                  "cause": str(exc)}
        return failed, start, time.time()
    return {key: result[key] for key in TRAIN_RESULT_KEYS}, start, time.time()


class DirectSide:
    """The five handlers in a plain loop; train over a process pool of the same size."""

    def __init__(self, parallelism: int, s3_pid: int, defaults: dict[str, Any]) -> None:
        import multiprocessing

        self.parallelism = parallelism
        self.s3_pid = s3_pid
        self.defaults = defaults
        self.harness = load_module(FUNCTIONS / "local_harness.py", "bench_local_harness")
        self.functions: dict[str, Any] = {}
        self.pool: ProcessPoolExecutor | None = None
        self.pool_pids: list[int] = []
        self._context = multiprocessing.get_context("spawn")
        # The handlers' output (powertools' log lines and metrics) goes to a file, as the
        # runtime's workers write theirs to one; the report keeps this process's stdout.
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed by close()
        self.last_events: dict[str, dict[str, Any]] = {}  # the last run's event of each function

    def start(self) -> None:
        """The cold part: the pool's processes started and initialised, every handler module loaded."""
        with self.quiet():
            for name in ("preprocess", "select_model", "register_model"):
                self.functions[name] = self.harness.LocalFunction(name)
        saved = {key: os.environ.get(key) for key in TRAIN_THREAD_ENV}
        os.environ.update(TRAIN_THREAD_ENV)  # what train's workers get, before they import numpy
        try:
            barrier = self._context.Barrier(self.parallelism)
            self.pool = ProcessPoolExecutor(self.parallelism, mp_context=self._context,
                                            initializer=_pool_init, initargs=(str(FUNCTIONS), barrier))
            futures = [self.pool.submit(_pool_pid) for _ in range(self.parallelism)]
            self.pool_pids = sorted({f.result() for f in futures})
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        with contextlib.redirect_stdout(self.log), contextlib.redirect_stderr(self.log):
            yield
        self.log.seek(0)
        self.log.truncate()

    def run(self, dataset_key: str, tag: str, cold: bool) -> RunFigures:
        figures = RunFigures("direct", cold)
        with CpuWindow(self.s3_pid, lambda: {"train workers": self.pool_pids}) as cpu:
            started = time.perf_counter()
            if self.pool is None:
                self.start()
            with self.quiet():
                outcome = self._pipeline(dataset_key, tag, figures)
            figures.total = time.perf_counter() - started
        figures.stages["rest"] = figures.total - sum(figures.stages.values())
        figures.cpu, figures.preempted = cpu.cpu, cpu.preempted
        figures.outcome = outcome
        return figures

    def _call(self, name: str, event: dict[str, Any], figures: RunFigures, stage: str) -> dict[str, Any]:
        self.last_events[name] = event
        start = time.time()
        started = time.perf_counter()
        result = self.functions[name](event)
        wall = time.perf_counter() - started
        figures.calls.append(Call(name, start, start + wall, wall))
        figures.stages[stage] = wall
        return result  # type: ignore[no-any-return]

    def _pipeline(self, dataset_key: str, tag: str, figures: RunFigures) -> str:
        """What training.asl.json does, in Python: same events, same order, same decisions."""
        assert self.pool is not None
        config = {**self.defaults, "dataset_key": dataset_key, "model_name": f"bench-direct-{tag}"}
        run_id = f"direct-{tag}"
        pre = self._call("preprocess", {
            "bucket": config["bucket"], "dataset_key": config["dataset_key"], "run_id": run_id,
            "target_column": config["target_column"], "validation_fraction": config["validation_fraction"],
            "test_fraction": config["test_fraction"], "seed": config["seed"],
        }, figures, "preprocess")

        events = [{"bucket": config["bucket"], "run_id": run_id, "manifest_key": pre["manifest_key"],
                   "seed": config["seed"], "candidate": candidate} for candidate in config["grid"]]
        machine = machine_cpu()
        started = time.perf_counter()
        candidates = []
        for result, start, end in self.pool.map(_pool_train_call, events):
            candidates.append(result)
            figures.calls.append(Call("train", start, end, end - start))
        figures.stages["train fan-out"] = time.perf_counter() - started
        after = machine_cpu()
        figures.machine_fanout = (after[0] - machine[0], after[1] - machine[1])
        figures.fit_seconds = sum(float(c.get("train_seconds") or 0.0) for c in candidates)

        failed = [c for c in candidates if c["status"] == "FAILED"]
        if len(failed) == len(candidates) or len(failed) > config["max_failed_candidates"]:
            raise RuntimeError(f"direct run {run_id}: too many candidates failed: {failed}")
        selection = self._call("select_model", {
            "bucket": config["bucket"], "run_id": run_id, "manifest_key": pre["manifest_key"],
            "model_name": config["model_name"], "registry_prefix": config["registry_prefix"],
            "metric": config["metric"], "candidates": candidates,
        }, figures, "select_model")
        registered = False
        if selection["best_test_score"] >= config["min_score"] and (
            not selection["has_champion"]
            or (selection["champion_comparable"] and selection["improvement"] >= config["margin"])
        ):
            self._call("register_model", {
                "bucket": config["bucket"], "registry_prefix": config["registry_prefix"],
                "model_name": config["model_name"], "run_id": run_id, "metric": selection["metric"],
                "alias": "champion", "expected_champion_version": selection["champion_version"],
                "candidate": selection["best"],
            }, figures, "register_model")
            registered = True
        return f"best {selection['best']['candidate_id']}, registered {registered}"

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
        self.log.close()


# -- isolated calls -------------------------------------------------------------------------------


def isolated_calls(stepkit: StepkitSide, direct: DirectSide, pairs: int) -> None:
    """The same event, one call at a time: a one-Task state machine on stepkit against the
    in-process call, alternating, after a short idle gap each (as a pipeline's stage finds
    its worker idle). What stepkit adds to one call, with no fan-out to disturb it."""
    print(f"\nIsolated calls: the last direct run's event, {pairs} alternating pairs, 0.3 s idle before each (ms)")
    header = f"{'function':<16}{'stepkit med':>12}{'direct med':>12}{'diff':>9}{'stepkit min':>13}{'direct min':>12}"
    print(header)
    print("-" * len(header))
    for function, machine in stepkit.single_task.items():
        event = direct.last_events[function]
        a: list[float] = []
        b: list[float] = []
        for _ in range(pairs):
            time.sleep(0.3)
            started = time.perf_counter()
            execution = machine.run(event)
            a.append(time.perf_counter() - started)
            if execution.status != "SUCCEEDED":
                raise RuntimeError(f"{function}: {execution.error}: {execution.cause}")
            time.sleep(0.3)
            with direct.quiet():
                started = time.perf_counter()
                direct.functions[function](event)
                b.append(time.perf_counter() - started)
        ma, mb = statistics.median(a), statistics.median(b)
        print(f"{function:<16}{ma * 1000:>12.1f}{mb * 1000:>12.1f}{(ma - mb) * 1000:>+9.1f}"
              f"{min(a) * 1000:>13.1f}{min(b) * 1000:>12.1f}")


# -- S3 -------------------------------------------------------------------------------------------


@contextlib.contextmanager
def moto_server() -> Iterator[tuple[str, int]]:
    """A moto server on 127.0.0.1 in a child process: (endpoint URL, its pid)."""
    process = subprocess.Popen([sys.executable, "-c", MOTO_SERVER], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               start_new_session=True)  # its own scheduling group, apart from both sides
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError(f"the moto server did not start (exit {process.poll()})")
        yield f"http://127.0.0.1:{int(line)}", process.pid
    finally:
        assert process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- report ---------------------------------------------------------------------------------------


def machine_info() -> list[str]:
    import boto3
    import moto
    import numpy
    import sklearn

    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %cs"], capture_output=True,
                            text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "sdk"], capture_output=True,
                           text=True, check=False).stdout.strip()
    return [
        f"machine: {os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}, "
        f"python {platform.python_version()}",
        f"libraries: scikit-learn {sklearn.__version__}, numpy {numpy.__version__}, boto3 {boto3.__version__}, "
        f"moto {moto.__version__}",
        f"stepkit: commit {commit}{' (sdk/ has uncommitted changes)' if dirty else ''}",
    ]


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def median(runs: list[RunFigures], get: Callable[[RunFigures], float]) -> float:
    return statistics.median(get(r) for r in runs)


def pct(a: float, b: float) -> str:
    return f"{(a - b) / b * 100:+.1f}%" if b > 0 else "-"


def report(stepkit: list[RunFigures], direct: list[RunFigures], cold: tuple[RunFigures, RunFigures],
           parallelism: int, cpus: int) -> bool:
    n = len(stepkit)
    print(f"\nTraining pipeline, warm runs: median of {n} per side (seconds)\n")
    header = f"{'stage':<18}{'stepkit':>10}{'direct':>10}{'diff':>10}{'overhead':>10}"
    print(header)
    print("-" * len(header))
    for stage in STAGES:
        a = median(stepkit, lambda r, s=stage: r.stages.get(s, 0.0))
        b = median(direct, lambda r, s=stage: r.stages.get(s, 0.0))
        print(f"{stage:<18}{a:>10.3f}{b:>10.3f}{a - b:>+10.3f}{pct(a, b) if stage != 'rest' else '':>10}")
    total_a, total_b = median(stepkit, lambda r: r.total), median(direct, lambda r: r.total)
    print(f"{'total':<18}{total_a:>10.3f}{total_b:>10.3f}{total_a - total_b:>+10.3f}{pct(total_a, total_b):>10}")
    print(f"{'cold (first run)':<18}{cold[0].total:>10.3f}{cold[1].total:>10.3f}"
          f"{cold[0].total - cold[1].total:>+10.3f}{pct(cold[0].total, cold[1].total):>10}")
    sequential = [s for s in STAGES if s != "train fan-out"]
    seq_a = median(stepkit, lambda r: sum(r.stages.get(s, 0.0) for s in sequential))
    seq_b = median(direct, lambda r: sum(r.stages.get(s, 0.0) for s in sequential))
    print(f"{'total w/o fan-out':<18}{seq_a:>10.3f}{seq_b:>10.3f}{seq_a - seq_b:>+10.3f}{pct(seq_a, seq_b):>10}")
    pairs = [(a.total - b.total) / b.total * 100 for a, b in zip(stepkit, direct, strict=True)]
    print(f"\nstepkit's overhead, run by run (warm pair i): {', '.join(f'{r:+.1f}%' for r in pairs)}; "
          f"median {statistics.median(pairs):+.1f}%")

    print(f"\ntrain fan-out: {parallelism} processes each side, {cpus} CPUs (medians)")
    print(f"{'':<40}{'stepkit':>10}{'direct':>10}")
    rows: list[tuple[str, Callable[[RunFigures], float], str]] = [
        ("cores busy (train CPU s / fan-out wall s)", lambda r: r.cores_busy, ".2f"),
        ("machine's cores busy (every process)", lambda r: r.machine_busy, ".2f"),
        ("  of which stolen by the hypervisor", lambda r: r.machine_fanout[1] / r.fanout_wall, ".2f"),
        (f"share of the fan-out with >= {cpus} in flight", lambda r: r.overlap(cpus), ".2f"),
        ("train workers' CPU s", lambda r: r.cpu.get("train workers", 0.0), ".2f"),
        ("train workers' involuntary switches", lambda r: float(r.preempted), ".0f"),
        ("estimators' fit s (sum of 6, wall)", lambda r: r.fit_seconds, ".2f"),
    ]
    for label, get, fmt in rows:
        print(f"{label:<40}{median(stepkit, get):>10{fmt}}{median(direct, get):>10{fmt}}")
    print("\nCPU seconds per run (medians; direct runs preprocess/select/register in this process)")
    print(f"{'':<40}{'stepkit':>10}{'direct':>10}")
    for group in ("train workers", "other workers", "this process", "S3 server"):
        a = median(stepkit, lambda r, g=group: r.cpu.get(g, 0.0))
        b = median(direct, lambda r, g=group: r.cpu.get(g, 0.0))
        print(f"{group:<40}{a:>10.3f}{b:>10.3f}")
    a = median(stepkit, lambda r: sum(r.cpu.values()))
    b = median(direct, lambda r: sum(r.cpu.values()))
    print(f"{'all':<40}{a:>10.3f}{b:>10.3f}  ({pct(a, b)})")

    print("\nWhere a Lambda task's time goes in stepkit (ms, medians): engine = the state's wall time"
          "\nless the call into the Lambda integration; integration = that call less runtime.invoke; runtime"
          "\nhost = invoke less the worker's duration; worker = request written to response read; direct ="
          "\nthe same handler called in-process; host CPU = CPU of the invoking thread inside invoke."
          "\ntrain: per call (engine: the Map's time outside its calls).")
    header = (f"{'function':<16}{'stage':>9}{'engine':>9}{'integr.':>9}{'runtime':>9}{'worker':>9}"
              f"{'direct':>9}{'w - d':>9}{'host CPU':>9}")
    print(header)
    print("-" * len(header))
    for function, stage in (("preprocess", "preprocess"), ("train", "train fan-out"),
                            ("select_model", "select_model"), ("register_model", "register_model")):
        calls = [c for r in stepkit for c in r.of(function)]
        peer = [c for r in direct for c in r.of(function)]
        if not calls or not peer:
            continue
        wall = median(stepkit, lambda r, s=stage: r.stages.get(s, 0.0))
        if function == "train":
            engine = median(stepkit, lambda r: r.fanout_wall - (max(c.end for c in r.of("train"))
                                                                 - min(c.start for c in r.of("train"))))
        else:
            engine = statistics.median(r.stages.get(stage, 0.0) - sum(c.integration for c in r.of(function))
                                       for r in stepkit)
        integration = statistics.median(c.integration - c.invoke for c in calls)
        host = statistics.median(c.invoke - c.worker for c in calls)
        worker = statistics.median(c.worker for c in calls)
        handler = statistics.median(c.worker for c in peer)
        host_cpu = statistics.median(c.invoke_cpu for c in calls)
        figures = [wall, engine, integration, host, worker, handler, worker - handler, host_cpu]
        print(f"{function:<16}" + "".join(f"{v * 1000:>9.1f}" for v in figures))

    print(f"\noutcome of the last runs: stepkit {stepkit[-1].outcome}; direct {direct[-1].outcome}")
    overhead = (total_a - total_b) / total_b * 100
    met = overhead < 5.0
    busy = median(stepkit, lambda r: r.cores_busy)
    print(f"\ngoal (issue 5): stepkit's overhead under 5%: {overhead:+.1f}% -> {'MET' if met else 'NOT MET'}; "
          f"fan-out cores busy {busy:.2f} of {cpus} (direct: {median(direct, lambda r: r.cores_busy):.2f})")
    return met


# -- main -----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one warm run of each side (smoke test)")
    parser.add_argument("--runs", type=int, default=15, help="warm runs of each side (default 15)")
    parser.add_argument("--dataset", default="breast_cancer", help="sample dataset (functions/sample_datasets.py)")
    parser.add_argument("--rows", type=int, default=10_000, help="rows of the synthetic dataset")
    parser.add_argument("--parallelism", type=int, default=None,
                        help="train processes on each side (default: the definition's max_concurrency)")
    parser.add_argument("--json", type=Path, help="also write every run's figures to this file")
    parser.add_argument("--isolated", type=int, default=None,
                        help="pairs of isolated calls per function (default 10; 0 with --quick)")
    args = parser.parse_args()
    runs = 1 if args.quick else max(1, args.runs)

    defaults = json.loads(DEFINITION.read_text())["States"]["Defaults"]["Result"]
    defaults["bucket"] = BUCKET
    parallelism = args.parallelism or int(defaults["max_concurrency"])
    cpus = os.cpu_count() or 1

    for line in machine_info():
        print(line)
    print(f"load average at start: {load_average()}  (a shared, noisy machine: other engineers' jobs run on "
          "it; compare the two sides of one run, not runs of different days)")
    grid = ", ".join(c["id"] for c in defaults["grid"])
    print(f"grid: the default of training.asl.json ({len(defaults['grid'])} candidates: {grid}); "
          f"MaxConcurrency {defaults['max_concurrency']}; train processes: {parallelism} on each side")

    with moto_server() as (endpoint, s3_pid):
        os.environ.update({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench",
                           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": REGION})
        os.environ.pop("AWS_PROFILE", None)
        import boto3

        datasets = load_module(FUNCTIONS / "sample_datasets.py", "bench_sample_datasets")
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        key = f"datasets/{args.dataset}.csv"
        info = datasets.upload_dataset(s3, BUCKET, key, args.dataset, n_samples=args.rows)
        print(f"dataset: {args.dataset}, {info['rows']} rows, {info['bytes']:,} bytes at s3://{BUCKET}/{key} "
              f"(moto server {endpoint}, pid {s3_pid})")

        stepkit = StepkitSide(parallelism, s3_pid)
        direct = DirectSide(parallelism, s3_pid, defaults)
        run_tag = uuid.uuid4().hex[:6]
        try:
            cold = (stepkit.run(key, f"{run_tag}-cold", cold=True), direct.run(key, f"{run_tag}-cold", cold=True))
            print(f"cold runs done (stepkit {cold[0].total:.2f} s, direct {cold[1].total:.2f} s); "
                  f"load average {load_average()}", flush=True)
            warm_a: list[RunFigures] = []
            warm_b: list[RunFigures] = []
            for i in range(runs):
                order = ((stepkit, warm_a), (direct, warm_b))
                for side, into in order if i % 2 == 0 else reversed(order):
                    into.append(side.run(key, f"{run_tag}-{i}", cold=False))
                print(f"warm run {i + 1}/{runs}: stepkit {warm_a[-1].total:.2f} s, direct {warm_b[-1].total:.2f} s;"
                      f" load average {load_average()}", flush=True)
            report(warm_a, warm_b, cold, parallelism, cpus)
            isolated = args.isolated if args.isolated is not None else (0 if args.quick else 10)
            if isolated > 0:
                isolated_calls(stepkit, direct, isolated)
        finally:
            stepkit.close()
            direct.close()
    print(f"load average at end: {load_average()}")
    if args.json:
        runs_out = [dataclasses.asdict(r) for r in (*cold, *warm_a, *warm_b)]
        args.json.write_text(json.dumps({"parallelism": parallelism, "dataset": args.dataset, "runs": runs_out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
