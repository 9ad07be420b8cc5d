"""bench/viewer_live.py still runs (tiny sizes, no timing assertions): it lists, opens and
watches an execution in Chromium and reports every figure."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_viewer_live_benchmark_runs() -> None:
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("no Chromium at /usr/bin/chromium (Debian: apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra has it)")
    args = ["--finished", "2", "--running", "1", "--items", "600", "--fast", "10", "--watch", "2"]
    proc = subprocess.run([sys.executable, str(BENCH / "viewer_live.py"), *args], capture_output=True, text=True,
                          timeout=900, check=False, cwd=BENCH)
    assert proc.returncode == 0, f"viewer_live.py failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    for figure in ("list: api/executions", "list: the machine's page shows its rows", "open: its page opens",
                   "live: ", "main thread busy"):
        assert figure in proc.stdout, proc.stdout
