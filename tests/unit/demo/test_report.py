"""The demo's report: scores labelled as validation or test, stage times that include a cold
start said so, Map items counted per Map, follow-up commands with the port to use."""

import contextlib
import io
import socket
from pathlib import Path

from rich.console import Console
from test_watch import DEFINITION, train

from stepkit import run
from stepkit.demo.pipeline import DemoOptions, DemoResult
from stepkit.demo.report import _stages, follow_up_port, render_report
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
