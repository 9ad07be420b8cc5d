"""bench/simulate.py still runs (tiny sizes, no timing assertions)."""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "simulate.py"


def test_simulate_benchmark_runs() -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "INLINE" in proc.stdout and "DISTRIBUTED" in proc.stdout
