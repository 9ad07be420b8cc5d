"""The demo's closing report: candidates and scores, the model chosen and why, where the
artifacts are, how long each stage took, and the commands to look further."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
    table.add_column(view.metric, justify="right")
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


def _stages(view: ExecutionView) -> Table:
    table = Table(show_edge=False)
    table.add_column("stage")
    table.add_column("type")
    table.add_column("seconds", justify="right")
    for stage in view.stages:
        if stage.kind in ("Task", "Map", "Parallel"):
            table.add_row(stage.name, stage.kind, f"{stage.seconds:.2f}" if stage.seconds is not None else "…")
    return table


def render_report(result: DemoResult, console: Console, options: DemoOptions) -> None:
    console.rule("[bold]report")
    if result.training is not None:
        console.print(render_candidates(result.training))
    out: dict[str, Any] = result.training_output or {}
    outcome = out.get("outcome") or {}
    best = out.get("best") or {}
    if out:
        test = best.get("test") or {}
        console.print(
            f"[bold]chosen model[/bold]: {best.get('candidate_id')} ({best.get('family')}), "
            f"test {out.get('metric')}: {test.get(out.get('metric'), best.get('test_score'))}"
        )
        console.print(f"[bold]why[/bold]: {outcome.get('reason', '')}")
        if outcome.get("registered"):
            console.print(f"[bold]registered[/bold]: version {outcome.get('version')} as {outcome.get('alias')}")
    if result.training is not None:
        console.print("[bold]training stages[/bold]")
        console.print(_stages(result.training))
    if result.inference is not None:
        console.print("[bold]batch inference stages[/bold]")
        console.print(_stages(result.inference))
    if result.inference_output:
        console.print(f"[bold]batch inference[/bold]: {_summary(result.inference_output)}")
    if result.artifacts_bucket:
        console.print(
            f"[bold]artifacts[/bold]: s3://{result.artifacts_bucket}/runs/ (splits, models, metrics, lineage), "
            f"registry/ (model registry), predictions/ (batch results)"
        )
    if result.problem:
        console.print(f"[bold red]{result.problem}[/bold red]")
    state = options.state_dir / "endpoint"
    console.print("\nto look at the runs afterwards, start the endpoint on the demo's state and ask it:")
    console.print(f"  stepkit up --state-dir {state} &")
    console.print(f"  stepkit executions {result.names.get('training', 'training')}")
    if result.training is not None:
        console.print(f"  stepkit history {result.training.arn}")
    console.print(f"  stepkit logs {result.names.get('train', 'train')}")


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
