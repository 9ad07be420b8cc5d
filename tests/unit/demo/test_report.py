"""The demo's report: scores labelled as validation or test, stage times that include a cold
start said so, Map items counted per Map, follow-up commands with the port to use; the JSON
summary's scheduled step."""

import contextlib
import io
import json
import socket
from pathlib import Path

from rich.console import Console
from test_watch import DEFINITION, train

from stepkit import run
from stepkit.demo.pipeline import DemoOptions, DemoResult
from stepkit.demo.report import _stages, follow_up_port, render_report
from stepkit.demo.scheduled import ScheduledRun
from stepkit.demo.watch import ExecutionView


def _view() -> ExecutionView:
    grid = [{"id": "a", "score": 0.9}, {"id": "bad", "score": 0}, {"id": "c", "score": 0.95}]
    execution = run(DEFINITION, {"grid": grid}, functions={"train": train})
    view = ExecutionView(execution.execution_arn)
    for event in execution.events():
        view.add(event)
    return view


def _text(renderable) -> str:
    console = Console(file=io.StringIO(), width=300)
    console.print(renderable)
    return console.file.getvalue()


def test_map_items_are_counted_per_map_and_cold_starts_named_per_stage():
    view = _view()
    assert view.maps["TrainCandidates"].describe() == "3/3 items"
    stage = next(s for s in view.stages if s.name == "TrainCandidates")
    table = _text(_stages(view, [stage.started]))
    row = next(line for line in table.splitlines() if "TrainCandidates" in line)
    assert "1 cold start" in row and "3/3 items" in row
    assert "cold" not in _text(_stages(view, [stage.ended + 60]))  # after the stage: not in its time


def test_report_labels_scores_and_prints_commands_with_the_port_to_use(tmp_path: Path):
    view = _view()
    result = DemoResult(endpoint_url="http://127.0.0.1:50123", training=view, names={"training": "p-dev-training",
                                                                                   "train": "p-dev-train"})
    result.training_output = {"metric": "balanced_accuracy", "best": {
        "candidate_id": "c", "family": "logistic_regression", "validation": {"balanced_accuracy": 0.95},
        "test": {"balanced_accuracy": 0.93}}}
    holder = socket.socket()
    try:
        with contextlib.suppress(OSError):  # 4566 taken (by us, or already by someone): the demo's own port
            holder.bind(("127.0.0.1", 4566))
        assert follow_up_port(result.endpoint_url) == 50123
        out = Console(file=io.StringIO(), width=300)
        render_report(result, out, DemoOptions(tmp_path, tmp_path / "state"))
    finally:
        holder.close()
    text = out.file.getvalue()
    assert "validation balanced_accuracy" in text  # the candidates' column
    assert "validation balanced_accuracy: 0.95, test-set balanced_accuracy: 0.93" in text
    machine, execution = view.arn.split(":")[-2:]
    assert f"stepkit up --state-dir {tmp_path / 'state' / 'endpoint'} --port 50123 &" in text
    assert f"stepkit history {machine} {execution} --endpoint-url http://127.0.0.1:50123" in text
    assert "stepkit logs p-dev-train --endpoint-url http://127.0.0.1:50123" in text


def test_the_json_summary_carries_the_schedule_and_the_drift_check() -> None:
    assert {"schedule": None, "drift": None}.items() <= DemoResult().summary().items()  # the step did not run
    run = ScheduledRun(name="demo-drift-1", expression="at(2027-01-15T09:00:00)",
                       target_arn="arn:aws:lambda:us-east-1:123456789012:function:p-dev-drift_check",
                       clock_before=1_800_000_000.0, advanced_seconds=3600.0, fired=1, deleted_after_completion=True,
                       check={"message": "drift checked", "function_request_id": "r-1", "batch_key": "incoming/b.csv",
                              "drift": 0.1, "drifted": False, "threshold": 0.5})
    summary = json.loads(json.dumps(DemoResult(scheduled=run).summary()))
    assert summary["schedule"]["started"] == {"function": "p-dev-drift_check", "request_id": "r-1"}
    assert summary["schedule"]["clock"]["after"] == "2027-01-15T09:00:00Z" and summary["schedule"]["fired"] == 1
    assert summary["drift"]["batch_key"] == "incoming/b.csv" and summary["drift"]["drifted"] is False
    assert summary["drift"]["published"] is None  # a field the line lacks is null, not missing
