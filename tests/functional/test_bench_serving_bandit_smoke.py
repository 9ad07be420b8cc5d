"""The serving bandit benchmark still runs (tiny sizes, no threshold on time or figures beyond
what any correct run gives): every scenario and policy reported, figures in range."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_serving_bandit_benchmark_runs() -> None:
    proc = subprocess.run([sys.executable, str(BENCH / "serving_bandit.py"), "--quick", "--json"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"serving_bandit.py failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    report = json.loads(proc.stdout)
    assert (report["requests"], report["seeds"]) == (300, 4)
    assert len(report["results"]) == 5
    for by_policy in report["results"].values():
        assert set(by_policy) == {"thompson", "thompson discount=0.998", "epsilon_greedy 0.1", "uniform split"}
        for figures in by_policy.values():
            assert 0 <= figures["share_all"] <= 1 and 0 <= figures["share_at_end"] <= 1
            assert 0 <= figures["seeds_reaching_goal"] <= 1 and figures["regret"] >= 0
    # Seeded: the same run twice gives the same figures.
    again = subprocess.run([sys.executable, str(BENCH / "serving_bandit.py"), "--quick", "--json"],
                           capture_output=True, text=True, timeout=600, check=True)
    assert json.loads(again.stdout) == report
