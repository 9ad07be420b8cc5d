"""The demo's steps, in the order a user would take them."""

from __future__ import annotations

import importlib.util
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from stepkit.demo.report import render_candidates, render_report
from stepkit.demo.scheduled import ScheduledRun, demo_clock, scheduled_drift_check
from stepkit.demo.serving import ServingRun
from stepkit.demo.watch import Candidate, ExecutionView, StageTime, cold_starts, follow, wait_for_new_execution


@dataclass
class DemoOptions:
    project_root: Path
    state_dir: Path
    dataset: str = "breast_cancer"
    inference_rows: int = 200
    serving_requests: int = 1000
    """At least this many requests to the serving API, A/B phase and bandit phase together."""
    canary_feedback: int = 150
    """Feedbacks the rollout waits for on the challenger before it decides."""
    stage: str = "dev"


@dataclass
class DemoResult:
    endpoint_url: str = ""
    deploy_seconds: float = 0.0
    deployed: list[str] = field(default_factory=list)
    training: ExecutionView | None = None
    training_output: dict[str, Any] | None = None
    inference: ExecutionView | None = None
    inference_output: dict[str, Any] | None = None
    artifacts_bucket: str = ""
    names: dict[str, str] = field(default_factory=dict)  # logical name -> deployed name
    cold_starts: list[float] = field(default_factory=list)  # when each cold start's invocation ended
    serving: ServingRun | None = None
    second_training: ExecutionView | None = None
    second_training_output: dict[str, Any] | None = None
    serving_seconds: float = 0.0
    scheduled: ScheduledRun | None = None
    status: str = "FAILED"
    problem: str | None = None

    def summary(self) -> dict[str, Any]:
        """What ``stepkit demo --json`` prints."""
        views = {"training": self.training, "inference": self.inference}
        return {
            "status": self.status, "problem": self.problem, "endpoint_url": self.endpoint_url,
            "deploy_seconds": round(self.deploy_seconds, 3), "artifacts_bucket": self.artifacts_bucket,
            "names": self.names, "cold_starts": len(self.cold_starts),
            "executions": {k: v.arn for k, v in views.items() if v is not None},
            "training_output": self.training_output, "inference_output": self.inference_output,
            "serving": self.serving.summary() if self.serving is not None else None,
            "second_training_output": self.second_training_output,
            "serving_seconds": round(self.serving_seconds, 3),
            **(self.scheduled.summary() if self.scheduled is not None else {"schedule": None, "drift": None}),
        }


def _load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_demo(options: DemoOptions, console: Console) -> DemoResult:
    """Run the whole demo; the endpoint stops at the end, its state stays in ``state_dir``."""
    from stepkit.deploy.service import Deployment
    from stepkit.endpoint import LocalEndpoint

    result = DemoResult()
    datasets = _load_module(options.project_root / "functions" / "sample_datasets.py")
    options.state_dir.mkdir(parents=True, exist_ok=True)
    with console.status("starting the local AWS endpoint…"):
        endpoint = LocalEndpoint(state_dir=options.state_dir / "endpoint", clock=demo_clock()).start()
    result.endpoint_url = endpoint.url
    console.print(f"[bold]1. local endpoint[/bold] at {endpoint.url} (Step Functions, Lambda, S3, EventBridge, …)")
    try:
        environ = {**os.environ, "STEPKIT_ENDPOINT_URL": endpoint.url, "AWS_ACCESS_KEY_ID": "stepkit",
                   "AWS_SECRET_ACCESS_KEY": "stepkit", "AWS_REGION": endpoint.region}
        # The demo's deploy record lives with its endpoint's state, not in the project's
        # .stepkit/deployments (which a user's own `stepkit deploy --target local` uses).
        deployment = Deployment.open(options.project_root / "infra" / "stack.yaml", stage=options.stage,
                                     target="local", environ=environ, records_dir=options.state_dir / "deployments")
        started = time.monotonic()
        with console.status("deploying the stack (functions, state machines, bucket, triggers)…") as status:
            def progress(op: str, kind: str, name: str, phase: str) -> None:
                status.update(f"deploying: {op} {kind} {name}")
                if phase == "done":
                    result.deployed.append(f"{op} {kind} {name}")

            _, outcome = deployment.deploy(progress=progress, environ=environ)
        result.deploy_seconds = time.monotonic() - started
        if outcome.failed is not None:
            raise RuntimeError(f"deploy failed at {outcome.failed}: {outcome.error}")
        console.print(f"[bold]2. deployed[/bold] the repository's stack in {result.deploy_seconds:.1f}s "
                      f"({len(outcome.done)} changes)")
        names = deployment.names
        bucket = names.bucket("artifacts")
        result.artifacts_bucket = bucket
        result.names = {"training": names.state_machine("training"), "train": names.function("train")}
        s3, sfn, logs = endpoint.client("s3"), endpoint.client("stepfunctions"), endpoint.client("logs")
        training_arn = names.state_machine_arn("training")
        inference_arn = names.state_machine_arn("batch_inference")

        known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=training_arn)["executions"]}
        key = dataset_key = f"datasets/{options.dataset}-{uuid.uuid4().hex[:6]}.csv"
        datasets.upload_dataset(s3, bucket, key, options.dataset)
        console.print(f"[bold]3. uploaded[/bold] the {options.dataset} dataset to s3://{bucket}/{key}")
        arn = wait_for_new_execution(sfn, training_arn, known)
        console.print(f"   the upload started the training pipeline: {arn.rsplit(':', 1)[-1]}")
        result.training = watch(sfn, arn, console, "training")
        result.training_output = output(sfn, arn)
        if result.training_output is None:
            result.cold_starts = _cold_starts(logs, names.function_log_group(""))
            result.problem = "the training pipeline failed"
            return result

        known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=inference_arn)["executions"]}
        key = f"incoming/batch-{uuid.uuid4().hex[:6]}.csv"
        datasets.upload_inference_file(s3, bucket, key, options.dataset, rows=options.inference_rows)
        console.print(f"[bold]5. uploaded[/bold] {options.inference_rows} rows to s3://{bucket}/{key}")
        arn = wait_for_new_execution(sfn, inference_arn, known)
        console.print(f"   the upload started batch inference: {arn.rsplit(':', 1)[-1]}")
        result.inference = watch(sfn, arn, console, "batch inference")
        result.inference_output = output(sfn, arn)
        result.cold_starts = _cold_starts(logs, names.function_log_group(""))
        if result.inference_output is None:
            result.problem = "batch inference failed"
            return result
        from stepkit.demo.online import serve

        started = time.monotonic()
        problem = serve(result, deployment, endpoint, dataset_key, options, console)
        result.serving_seconds = time.monotonic() - started
        result.scheduled = scheduled_drift_check(endpoint, names, console)
        result.problem = problem or (f"the serving API did not answer {result.serving.errors} requests"
                                     if result.serving is not None and result.serving.errors else None)
        result.status = "FAILED" if result.problem else "SUCCEEDED"
        return result
    finally:
        endpoint.stop()
        render_report(result, console, options)


def _cold_starts(logs: Any, prefix: str) -> list[float]:
    """The cold starts of the stack's functions (their log groups share ``prefix``)."""
    groups = [g["logGroupName"] for page in logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=prefix) for g in page["logGroups"]]
    return cold_starts(logs, groups)


def output(sfn: Any, arn: str) -> dict[str, Any] | None:
    described = sfn.describe_execution(executionArn=arn)
    if described["status"] != "SUCCEEDED":
        return None
    return json.loads(described.get("output") or "null")


def watch(sfn: Any, arn: str, console: Console, title: str, step: str | None = None) -> ExecutionView:
    """Follow one execution live: a line per top-level state, a table of candidates."""
    view = ExecutionView(arn)
    table_holder: dict[str, Table] = {"table": render_candidates(view)}
    step = step or ("4" if title == "training" else "6")
    console.print(f"[bold]{step}. {title}[/bold]")
    with Live(table_holder["table"], console=console, refresh_per_second=4, transient=True) as live:
        for event in follow(sfn, arn):
            changed = view.add(event)
            if isinstance(changed, StageTime) and changed.ended is None:
                live.console.print(f"   [dim]→[/dim] {changed.name} [dim]({changed.kind})[/dim]")
            elif isinstance(changed, Candidate):
                shown = f"{changed.score:.4f}" if changed.score is not None else changed.error or ""
                status = changed.status.lower()
                live.console.print(f"     candidate [cyan]{changed.candidate_id}[/cyan] {status} {shown}")
            live.update(render_candidates(view))
    view.count_map_runs(sfn)
    ended = view.ended or {}
    if ended.get("type") == "ExecutionSucceeded":
        console.print(f"   [green]succeeded[/green] in {_duration(view):.1f}s")
    else:
        details = ended.get("executionFailedEventDetails") or {}
        console.print(f"   [red]failed[/red]: {details.get('error')}: {details.get('cause')}")
    return view


def _duration(view: ExecutionView) -> float:
    if not view.stages:
        return 0.0
    end = view.ended["timestamp"].timestamp() if view.ended else time.time()
    return end - view.stages[0].started
