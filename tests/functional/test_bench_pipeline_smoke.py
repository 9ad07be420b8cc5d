"""The training-pipeline benchmark still runs (``--quick``: one cold and one warm run of each
side) and prints its table. No timing is asserted: the figures go to bench/README.md."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("moto")
pytest.importorskip("sklearn")

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_pipeline_benchmark_runs() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "pipeline.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, f"pipeline.py failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    out = proc.stdout
    assert "Training pipeline, warm runs" in out
    for row in ("preprocess", "train fan-out", "select_model", "register_model", "total", "cold (first run)"):
        assert f"\n{row} " in out, row
    assert "cores busy" in out and "CPUs" in out and "load average" in out
    assert "goal (issue 5): stepkit's overhead under 5%" in out
    assert out.count("registered True") == 2  # both sides ran the whole pipeline
