"""Python tasks bundled from source or with cloudpickle, run by the local runtime's workers."""

import json
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from stepkit import flow
from stepkit.runtime import LambdaRuntime

FLOWS = Path(__file__).resolve().parents[1] / "fixtures" / "flows"


@pytest.fixture
def three_steps(monkeypatch):
    monkeypatch.syspath_prepend(str(FLOWS))
    import three_steps

    return three_steps


def test_source_bundled_tasks_run_a_three_step_pipeline(three_steps):
    execution = three_steps.pipeline.run({"values": [1, 2, 4]})
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == "3 rows, mean 2.33"
    assert execution.event_types.count("LambdaFunctionSucceeded") == 3


def test_a_source_bundle_is_the_module_file_and_a_handler(three_steps, tmp_path):
    config = three_steps.summarise.bundle(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stepkit_task.py", "three_steps.py"]
    assert (config.name, config.handler, config.memory_size) == ("summarise", "stepkit_task.handler", 128)
    assert three_steps.load.bundle(tmp_path / "load").memory_size == 256
    state = three_steps.pipeline.definition()["States"]["summarise"]
    assert state["Retry"] == [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 2}]


def test_typed_input_that_does_not_validate_fails_the_task(three_steps):
    execution = three_steps.pipeline.run({"values": ["x"]})
    assert (execution.status, execution.error) == ("FAILED", "ValueError")


class Point(BaseModel):
    x: int


def scaler(factor: int) -> flow.Task:
    @flow.task(name="scale", bundle="pickle")
    def scale(point: Point) -> dict:
        return {"x": point.x * factor}

    return scale


def test_a_closure_runs_from_a_cloudpickle_bundle():
    workflow = flow.Workflow("scale").step(scaler(3), end=True)
    assert workflow.run({"x": 5}).output == {"x": 15}
    failed = workflow.run({"x": "five"})
    assert (failed.status, failed.error) == ("FAILED", "ValidationError")
    assert "Input should be a valid integer" in json.loads(failed.cause)["errorMessage"]


def test_a_closure_cannot_be_bundled_from_source(tmp_path):
    task = scaler(2)
    task.bundle_kind = "source"
    with pytest.raises(flow.TaskBundleError, match="use @task\\(bundle='pickle'\\)"):
        task.bundle(tmp_path)


def test_a_pickle_for_another_python_is_refused_where_it_is_bundled(tmp_path):
    other = f"python3.{sys.version_info.minor + 1}"
    task = flow.task(lambda event: event, name="echo", bundle="pickle", runtime=other)
    with pytest.raises(flow.TaskBundleError, match=f"only loads on the Python that wrote it.*{other}"):
        task.bundle(tmp_path)


def test_a_pickle_from_another_python_is_refused_where_it_loads(tmp_path):
    config = scaler(2).bundle(tmp_path)
    (tmp_path / "task.json").write_text(json.dumps({"python": "python3.99", "task": "scale"}))
    with LambdaRuntime([config]) as runtime:
        result = runtime.invoke("scale", b'{"x": 1}')
    error = json.loads(result.payload)
    assert error["errorType"] == "PickledForAnotherPython"
    assert "pickled by python3.99" in error["errorMessage"]
