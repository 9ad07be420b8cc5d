"""The demo's live view, fed with a real execution's history in AWS's shape."""

from stepkit import run
from stepkit.asl.errors import StatesError
from stepkit.demo.report import render_candidates
from stepkit.demo.watch import ExecutionView

DEFINITION = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Next": "TrainCandidates"},
        "TrainCandidates": {
            "Type": "Map",
            "ItemsPath": "$.grid",
            "ItemProcessor": {
                "StartAt": "Train",
                "States": {
                    "Train": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {"FunctionName": "train", "Payload.$": "$"},
                        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
                        "End": True,
                    },
                    "Failed": {"Type": "Pass", "End": True},
                },
            },
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


def train(event):
    if event["id"] == "bad":
        raise StatesError("TrainingFailedError", "diverged")
    return {
        "candidate_id": event["id"],
        "family": "logistic_regression",
        "validation": {"balanced_accuracy": event["score"]},
        "train_seconds": 0.5,
    }


def test_view_finds_stages_and_candidates_in_the_history():
    grid = [{"id": "a", "score": 0.9}, {"id": "bad", "score": 0}, {"id": "c", "score": 0.95}]
    execution = run(DEFINITION, {"grid": grid}, functions={"train": train})
    view = ExecutionView(execution.execution_arn)
    for event in execution.events():
        view.add(event)
    assert [s.name for s in view.stages] == ["Prepare", "TrainCandidates", "Done"]
    assert all(s.ended is not None for s in view.stages if s.name != "Done")
    scores = {c.candidate_id: c.score for c in view.candidates.values() if c.status == "SUCCEEDED"}
    assert scores == {"a": 0.9, "c": 0.95}
    failed = [c for c in view.candidates.values() if c.status == "FAILED"]
    assert len(failed) == 1 and failed[0].error.startswith("TrainingFailedError")
    assert view.ended["type"] == "ExecutionSucceeded"
    assert render_candidates(view).row_count == 3
