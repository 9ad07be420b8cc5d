"""@task's settings, types and how a workflow's steps call it (no worker runs here)."""

import pydantic
import pytest
from pydantic import BaseModel

from stepkit import flow


class In(BaseModel):
    n: int


class Out(BaseModel):
    total: int


@flow.task(memory=512, timeout=60, retry=[flow.retry(["States.Timeout"], max_attempts=1)])
def add_one(event: In) -> Out:
    return Out(total=event.n + 1)


@flow.task
def plain(event):
    return event


def test_settings_types_and_the_default_name():
    assert (add_one.name, add_one.memory, add_one.timeout) == ("add-one", 512, 60)
    assert (add_one.input_type, add_one.output_type) == (In, Out)
    assert (plain.name, plain.input_type, plain.output_type) == ("plain", None, None)
    assert add_one(In(n=1)) == Out(total=2)


def test_the_handler_validates_the_event_and_dumps_the_result():
    assert add_one.lambda_handler({"n": 4}, None) == {"total": 5}
    with pytest.raises(pydantic.ValidationError):
        add_one.lambda_handler({"n": "four"}, None)


def test_bad_settings_fail_where_the_decorator_is():
    with pytest.raises(pydantic.ValidationError, match="memory_size"):
        flow.task(memory=64)(plain.fn)
    with pytest.raises(ValueError, match="'source' or 'pickle'"):
        flow.task(bundle="zip")(plain.fn)


def test_a_step_calls_the_task_with_its_retry_first_and_nested_tasks_are_found():
    inner = flow.Branch("plain").step(plain, end=True)
    wf = flow.Workflow("Add")
    wf.step(add_one, "Add", retry=[flow.retry(["States.ALL"])], next="Both")
    wf.parallel("Both", branches=[inner], end=True)
    state = wf.definition()["States"]["Add"]
    assert state["Resource"] == "arn:aws:lambda:us-east-1:123456789012:function:add-one"
    assert [r["ErrorEquals"] for r in state["Retry"]] == [["States.Timeout"], ["States.ALL"]]
    assert [t.name for t in wf.tasks()] == ["add-one", "plain"]
