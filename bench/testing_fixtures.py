"""What the pytest plugin's fixtures cost per test, and a worker's cold start on each Python.

    .venv/bin/python bench/testing_fixtures.py [--rounds N]

Figures (medians of N rounds, seconds): an isolated endpoint (start, moto reset, stop); the
``stepkit init`` project's stack deployed to it (``stepkit_stack``); one ``stepkit_run`` of
its state machine (a new worker each run: the runtime stops with the run). Then the first
invoke (cold start) of a standard-library handler on the host's Python and on each other
Python the runtime finds for python3.12 / python3.13.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from stepkit.runtime import FunctionConfig, LambdaRuntime
from stepkit.runtime.interpreters import HOST_VERSION, find_interpreter
from stepkit.stack.project import Project
from stepkit.templates import create_project
from stepkit.testing.fixtures import definition_runner, deploy_stack, isolated_endpoint


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def fixtures(rounds: int, root: Path) -> dict[str, list[float]]:
    create_project(root / "demo", name="demo")
    project = Project.discover(root / "demo")
    out: dict[str, list[float]] = {"endpoint": [], "stack": [], "run": []}
    for _ in range(rounds):
        began = time.perf_counter()
        with isolated_endpoint() as endpoint:
            out["endpoint"].append(time.perf_counter() - began)
            out["stack"].append(timed(lambda endpoint=endpoint: deploy_stack(project, endpoint)))
            run = definition_runner(project, endpoint.url)
            out["run"].append(timed(lambda run=run: run("hello", {"name": "bench"})))
    return out


def cold_starts(rounds: int, root: Path) -> dict[str, list[float]]:
    code = root / "fn"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return event\n")
    out: dict[str, list[float]] = {}
    for runtime in (f"python{HOST_VERSION}", "python3.12", "python3.13"):
        python = find_interpreter(runtime)
        if python is None or (runtime != f"python{HOST_VERSION}" and python == sys.executable):
            continue
        times = []
        for _ in range(rounds):
            with LambdaRuntime([FunctionConfig(name="f", code_dir=code, runtime=runtime)],
                               cache_dir=root / "cache") as rt:
                times.append(timed(lambda rt=rt: rt.invoke("f", b"{}")))
        out[f"cold start, {runtime} ({python})"] = times
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as scratch:
        results = {**fixtures(rounds, Path(scratch)), **cold_starts(rounds * 4, Path(scratch))}
    for name, values in results.items():
        print(f"{name:70s} median {statistics.median(values) * 1000:8.1f} ms  (of {len(values)})")


if __name__ == "__main__":
    main()
