"""The ASL benchmarks still run (tiny sizes, no timing assertions): both engines agree on
every workload, the large Map finishes, moto's JSONata failure is reported."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("moto")

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _run(script: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), "--quick", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_asl_engine_benchmark_runs() -> None:
    out = _run("asl_engine.py")
    assert "outputs (status, output, error, cause) equal on both engines" in out
    for workload in ("pass-chain", "inline-map", "choice-loop"):
        assert f"\n{workload} " in out
    assert "jsonpath-ng" in out and "CPUs" in out and "python" in out
    assert out.count("SUCCEEDED") == 2  # the large Map, inline and distributed


def test_asl_jsonata_benchmark_runs() -> None:
    out = _run("asl_jsonata.py")
    assert "stepkit, JSONata machine" in out and "output checked" in out
    assert "moto, JSONata machine" in out
    assert "moto, JSONPath twin" in out


def test_api_gateway_benchmark_runs() -> None:
    """Every call answered (the benchmark checks each body), 16 concurrent clients without a failure."""
    results = json.loads(_run("api_gateway.py"))
    assert set(results["warm"]) >= {"rest_overhead_median_ms", "http_overhead_median_ms", "http_round_trip_median_ms"}
    assert results["concurrent_16"]["requests"] == 320 and results["concurrent_16"]["failures"] == 0
