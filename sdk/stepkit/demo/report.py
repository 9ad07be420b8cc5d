"""The demo's closing report: candidates and scores, the model chosen and why, where the
artifacts are, how long each stage took, and the commands to look further."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from rich.console import Console
from rich.table import Table

from stepkit.demo.watch import ExecutionView

if TYPE_CHECKING:
    from stepkit.demo.pipeline import DemoOptions, DemoResult


def render_candidates(view: ExecutionView) -> Table:
    table = Table(title="candidates", title_justify="left", show_edge=False)
    table.add_column("candidate")
    table.add_column("family")
    table.add_column("status")
    table.add_column(f"validation {view.metric}", justify="right")
    table.add_column("train s", justify="right")
    ranked = sorted(view.candidates.values(), key=lambda c: (c.score is None, -(c.score or 0)))
    for c in ranked:
        table.add_row(
            c.candidate_id,
            c.family,
            "[green]ok[/green]" if c.status == "SUCCEEDED" else f"[red]{c.status.lower()}[/red]",
            f"{c.score:.4f}" if c.score is not None else (c.error or "")[:60],
            f"{c.seconds:.2f}" if c.seconds is not None else "",
        )
    return table


def _stages(view: ExecutionView, cold_starts: list[float]) -> Table:
    """Each Task, Map and Parallel stage: its time, whether that time includes a cold start
    (a REPORT with an Init Duration while it ran), and a Map's items."""
    table = Table(show_edge=False)
    table.add_column("stage")
    table.add_column("type")
    table.add_column("seconds", justify="right")
    table.add_column("includes")
    table.add_column("map items", justify="right")
    for stage in view.stages:
        if stage.kind not in ("Task", "Map", "Parallel"):
            continue
        seconds = f"{stage.seconds:.2f}" if stage.seconds is not None else "…"
        end = stage.ended if stage.ended is not None else float("inf")
        cold = sum(stage.started <= t <= end for t in cold_starts)
        includes = "" if not cold else f"{cold} cold start{'s' if cold > 1 else ''}"
        items = view.maps.get(stage.name)
        table.add_row(stage.name, stage.kind, seconds, includes, items.describe() if items else "")
    return table


def follow_up_port(endpoint_url: str) -> int:
    """The port to suggest for `stepkit up` on the demo's state: 4566 when it is free, else
    the port the demo's own endpoint had (free again now that it stopped)."""
    own = urlparse(endpoint_url).port or 4566
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", 4566))
        except OSError:
            return own
    return 4566


def render_report(result: DemoResult, console: Console, options: DemoOptions) -> None:
    console.print("[bold]── report ──[/bold]")
    if result.training is not None:
        console.print(render_candidates(result.training))
    out: dict[str, Any] = result.training_output or {}
    outcome = out.get("outcome") or {}
    best = out.get("best") or {}
    if out:
        metric = out.get("metric")
        test, validation = best.get("test") or {}, best.get("validation") or {}
        scores = f"test-set {metric}: {test.get(metric, best.get('test_score'))}"
        if validation.get(metric) is not None:
            scores = f"validation {metric}: {validation[metric]}, {scores}"
        console.print(f"[bold]chosen model[/bold]: {best.get('candidate_id')} ({best.get('family')}), {scores}")
        console.print(f"[bold]why[/bold]: {outcome.get('reason', '')}")
        if outcome.get("registered"):
            console.print(f"[bold]registered[/bold]: version {outcome.get('version')} as {outcome.get('alias')}")
    if result.training is not None:
        console.print("[bold]training stages[/bold]")
        console.print(_stages(result.training, result.cold_starts))
    if result.inference is not None:
        console.print("[bold]batch inference stages[/bold]")
        console.print(_stages(result.inference, result.cold_starts))
    if result.cold_starts:
        console.print("[dim]a stage with a cold start includes starting a function's worker (its Init Duration)[/dim]")
    if result.inference_output:
        console.print(f"[bold]batch inference[/bold]: {_summary(result.inference_output)}")
    if result.artifacts_bucket:
        console.print(
            f"[bold]artifacts[/bold]: s3://{result.artifacts_bucket}/runs/ (splits, models, metrics, lineage), "
            f"registry/ (model registry), predictions/ (batch results)"
        )
    if result.serving is not None:
        _serving(result.serving.summary(), console)
    if result.problem:
        console.print(f"[bold red]{result.problem}[/bold red]")
    _follow_up(result, console, options)


def _serving(served: dict[str, Any], console: Console) -> None:
    """Traffic and accuracy per version in each phase, the rollout's decision, the bandit's speed."""
    latency = served["latency_ms"] or {}
    console.print(f"[bold]serving[/bold]: {served['requests']} requests to {served['url']}/predict, "
                  f"{served['errors']} errors, by model version {served['by_version']}, latency p50 "
                  f"{latency.get('p50')} ms, p99 {latency.get('p99')} ms (held-out rows, labels as feedback)")
    table = Table("phase", "policy", "version", "requests", "share", "accuracy", box=None)
    for name, phase in (served.get("phases") or {}).items():
        for version, n in phase["by_version"].items():
            table.add_row(name, phase["policy"]["kind"], version, str(n), f"{phase['share_by_version'][version]:.1%}",
                          f"{phase['accuracy_by_version'].get(version, 0):.3f}")
    console.print(table)
    rollout = served.get("rollout") or {}
    if rollout:
        console.print(f"[bold]rollout[/bold] of version {rollout.get('challenger')} against {rollout.get('champion')}: "
                      f"{rollout.get('action')} ({'; '.join(rollout.get('reasons') or [])})")
    bandit = served.get("bandit") or {}
    if bandit:
        moved = bandit.get("moved_after_requests")
        console.print(f"[bold]bandit[/bold]: the better version is {bandit['better_version']}; "
                      + (f"after {moved} requests it answered >= 90% of every 100 from then on"
                         if moved is not None else "it never answered >= 90% of 100 requests in a row")
                      + f" (last 100: {bandit['final_share']:.0%})")


def _follow_up(result: DemoResult, console: Console, options: DemoOptions) -> None:
    state = options.state_dir / "endpoint"
    port = follow_up_port(result.endpoint_url)
    url = f"--endpoint-url http://127.0.0.1:{port}"
    console.print("\nto look at the runs afterwards, start the endpoint on the demo's state and ask it:")
    console.print(f"  stepkit up --state-dir {state} --port {port} &", markup=False)
    console.print(f"  stepkit executions {result.names.get('training', 'training')} {url}", markup=False)
    if result.training is not None:
        machine, execution = result.training.arn.split(":")[-2:]
        console.print(f"  stepkit history {machine} {execution} {url}", markup=False)
    console.print(f"  stepkit logs {result.names.get('train', 'train')} {url}", markup=False)
    if result.training is not None:
        console.print(f"  stepkit cost --execution {result.training.arn} {url}", markup=False)
    console.print(f"  open http://127.0.0.1:{port}/_stepkit/ui/ to see the executions as graphs and timelines",
                  markup=False)


def _summary(output: dict[str, Any]) -> str:
    summary = output.get("summary") or {}
    model = output.get("model") or {}
    predictions = summary.get("predictions") or {}
    counts = ", ".join(f"{k}: {v}" for k, v in (summary.get("class_counts") or {}).items())
    return (
        f"{summary.get('rows')} rows scored ({summary.get('failed_rows', 0)} failed) by {model.get('model_name')} "
        f"version {model.get('version')} ({model.get('family')}); {counts}; "
        f"predictions in s3://{predictions.get('bucket')}/{predictions.get('key')}"
    )
