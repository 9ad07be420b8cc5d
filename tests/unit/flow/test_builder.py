"""The builder offers exactly the definition model's fields and writes valid ASL."""

import inspect

import pytest

from stepkit import flow
from stepkit.asl import definition_model as model
from stepkit.flow.fields import aliases, snake
from stepkit.runner import check_definition, run

STATE_METHODS = {
    "Task": flow.Workflow.task,
    "Pass": flow.Workflow.pass_,
    "Wait": flow.Workflow.wait,
    "Choice": flow.Workflow.choice,
    "Succeed": flow.Workflow.succeed,
    "Fail": flow.Workflow.fail,
    "Parallel": flow.Workflow.parallel,
    "Map": flow.Workflow.map,
}
OBJECT_FUNCTIONS = {
    model.Retrier: flow.retry,
    model.Catcher: flow.catch,
    model.ChoiceRule: flow.rule,
    model.ProcessorConfig: flow.processor_config,
    model.ReaderConfig: flow.reader_config,
    model.ItemReader: flow.item_reader,
    model.ItemBatcher: flow.item_batcher,
    model.WriterConfig: flow.writer_config,
    model.ResultWriter: flow.result_writer,
}


def parameters(function) -> set[str]:
    return set(inspect.signature(function).parameters) - {"self", "name"}


@pytest.mark.parametrize("state_type", model.STATE_TYPES)
def test_each_state_method_takes_every_field_of_its_state(state_type):
    assert parameters(STATE_METHODS[state_type]) == set(aliases(model.STATE_MODELS[state_type]))


@pytest.mark.parametrize("owner", OBJECT_FUNCTIONS, ids=lambda m: m.__name__)
def test_each_object_function_takes_every_field_of_its_object(owner):
    assert parameters(OBJECT_FUNCTIONS[owner]) == set(aliases(owner))


def test_containers_take_every_field_but_their_states():
    assert parameters(flow.Workflow.__init__) == set(aliases(model.StateMachineSchema)) - {"states"}
    assert parameters(flow.Branch.__init__) == set(aliases(model.BranchSchema)) - {"states"}
    assert parameters(flow.ItemProcessor.__init__) == set(aliases(model.ItemProcessorSchema)) - {"states"}


@pytest.mark.parametrize(
    ("alias", "name"),
    [("ResultPath", "result_path"), ("CSVHeaderLocation", "csv_header_location"), ("And", "and_"),
     ("MaxInputBytesPerBatchPath", "max_input_bytes_per_batch_path"), ("IsNull", "is_null")],
)
def test_parameter_names_are_the_asl_names_in_snake_case(alias, name):
    assert snake(alias) == name


def test_none_is_json_null_and_a_left_out_argument_is_left_out():
    wf = flow.Workflow("P")
    wf.pass_("P", result_path=None, end=True)
    assert wf.definition()["States"]["P"] == {"Type": "Pass", "ResultPath": None, "End": True}


def test_a_state_name_is_defined_once():
    wf = flow.Workflow("A").pass_("A", end=True)
    with pytest.raises(ValueError, match="already defined"):
        wf.pass_("A", end=True)


def test_a_jsonata_workflow_with_every_kind_of_state_validates_and_runs():
    double = flow.ItemProcessor("Double", processor_config=flow.processor_config(mode="INLINE"))
    double.pass_("Double", output="{% $states.input * 2 %}", end=True)
    left = flow.Branch("Left").pass_("Left", output="{% 'left' %}", end=True)
    right = flow.Branch("Right").succeed("Right", output="{% 'right' %}")
    wf = flow.Workflow("Items", query_language="JSONata", comment="every state type")
    wf.map("Items", items="{% $states.input.numbers %}", item_processor=double,
           assign={"doubled": "{% $states.result %}"}, next="Both")
    wf.parallel("Both", branches=[left, right], next="Pause",
                catch=[flow.catch(["States.ALL"], "Broken")], retry=[flow.retry(["States.ALL"], max_attempts=1)])
    wf.wait("Pause", seconds=1, next="Pick")
    wf.choice("Pick", choices=[flow.rule("Done", condition="{% $sum($doubled) > 10 %}")], default="Small")
    wf.task("Small", resource="arn:aws:states:::aws-sdk:s3:listBuckets", next="Done")
    wf.succeed("Done", output="{% {'doubled': $doubled, 'branches': $states.input} %}")
    wf.fail("Broken", error="Broken", cause="a branch failed")
    check_definition(wf.definition())
    execution = run(wf.definition(), {"numbers": [3, 4]}, skip_waits=True)
    assert execution.status == "SUCCEEDED"
    assert execution.output == {"doubled": [6, 8], "branches": ["left", "right"]}


def test_a_jsonpath_choice_with_nested_rules():
    wf = flow.Workflow("Check")
    wf.choice("Check", choices=[
        flow.rule("Yes", and_=[flow.rule(variable="$.n", numeric_greater_than=1),
                               flow.rule(not_=flow.rule(variable="$.n", numeric_equals=5))]),
    ], default="No")
    wf.pass_("Yes", result="yes", end=True)
    wf.pass_("No", result="no", end=True)
    assert [run(wf.definition(), {"n": n}).output for n in (2, 5, 0)] == ["yes", "no", "no"]
