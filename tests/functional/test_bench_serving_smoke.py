"""The serving benchmark still runs (``--quick``: a few calls of each figure) and prints its
figures. No timing is asserted: the figures go to bench/README.md."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("moto")
pytest.importorskip("sklearn")
pytest.importorskip("chalice")

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_serving_benchmark_runs() -> None:
    proc = subprocess.run([sys.executable, str(BENCH / "serving.py"), "--quick"], capture_output=True, text=True,
                          timeout=900, check=False)
    assert proc.returncode == 0, f"serving.py failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    results = json.loads(proc.stdout[proc.stdout.index("{\n"):])
    for figure in ("api", "predict_invoked_directly", "handler_in_process"):
        assert results["warm"][figure]["calls"] == 30 and results["warm"][figure]["median_ms"] > 0
    assert results["concurrent_16"]["requests"] == 48 and results["concurrent_16"]["failures"] == 0
