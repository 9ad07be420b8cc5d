"""``stepkit simulate --plot FILE``: the simulated Lambda concurrency over time as an image
(PNG, or SVG/PDF by the file's suffix), drawn by matplotlib (the ``plot`` extra), headless."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed."""


def plot_simulation(document: dict[str, Any], path: Path) -> None:
    """Draw ``document`` (``simulation_document``'s): concurrency as a step line, the account's
    concurrency as a dashed limit, the makespan and the throttles in the title."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotUnavailable("--plot needs matplotlib: pip install 'stepkit[plot]'") from None
    series = document["concurrency"] or [[0.0, 0]]
    times, values = [t for t, _ in series], [n for _, n in series]
    figure = Figure(figsize=(9, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.step(times, values, where="post", color="#1565c0", linewidth=1.6, label="Lambda concurrency")
    axes.fill_between(times, values, step="post", color="#1565c0", alpha=0.15)
    limit = document["quotas"]["account_concurrency"]
    if limit <= max(values) * 1.5 or max(values) == 0:
        axes.axhline(limit, color="#c62828", linestyle="--", linewidth=1.2, label=f"account concurrency {limit:,}")
    throttles = ", ".join(f"{kind} {count:,}" for kind, count in document["throttles"].items()) or "no throttles"
    axes.set_title(f"{document['status']}: makespan {document['makespan_seconds']:,} s · "
                   f"{document['lambda']['invocations']:,} invocations · {throttles}", fontsize=10)
    axes.set_xlabel("seconds since the first execution started")
    axes.set_ylabel("concurrent Lambda invocations")
    axes.set_xlim(left=0, right=max(document["makespan_seconds"], times[-1], 1e-3))
    axes.set_ylim(bottom=0)
    axes.grid(True, color="#e5e7eb")
    axes.legend(loc="upper right", fontsize=9)
    figure.tight_layout()
    figure.savefig(path)
