"""Type checking across tasks: what flows into each typed task, in both query languages."""

import inspect
from typing import Literal

import pytest
from pydantic import BaseModel

from stepkit import flow
from stepkit.flow.shapes import ANY, INTEGER, NULL, STRING, Arr, Obj, mismatches, obj, of_annotation, union


class Dataset(BaseModel):
    bucket: str
    key: str


class Rows(BaseModel):
    bucket: str
    count: int
    parts: list[str]


class Summary(BaseModel):
    total: int
    label: str


class Report(BaseModel):
    total: int
    name: str
    note: str = ""


class Part(BaseModel):
    name: str


@flow.task
def load(event: Dataset) -> Rows:
    return Rows(bucket=event.bucket, count=1, parts=[event.key])


@flow.task
def summarise(rows: Rows) -> Summary:
    return Summary(total=rows.count, label=rows.bucket)


@flow.task
def report(summary: Report) -> dict:
    return {}


@flow.task
def store(part: Part) -> None:
    return None


@flow.task
def anything(event):
    return event


def line_of(fn, text: str) -> int:
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(lines) if text in line)


# --- JSONata: the function-body compiler checks as it compiles ----------------------------------


def test_a_flow_whose_data_fits_compiles():
    @flow.workflow
    def pipeline(event: Dataset):
        rows = load(event)
        summary = summarise(rows)
        report(total=summary["total"], name=summary["label"])
        for part in rows["parts"]:
            store(name=part)

    assert pipeline.check_types() == []
    assert pipeline.input_type is Dataset


def test_a_missing_field_is_reported_with_state_field_and_line():
    with pytest.raises(flow.FlowTypeError) as caught:
        @flow.workflow
        def pipeline(event):
            rows = load(event)
            summary = summarise(rows)
            report(summary)

    [finding] = caught.value.findings
    assert (finding.state, finding.field) == ("report", "name")
    assert finding.task == "report (Report)"
    assert finding.reason == "is required but missing (the input has total, label)"
    line = line_of(test_a_missing_field_is_reported_with_state_field_and_line, "report(summary)")
    assert finding.source == f"{__file__}:{line}"
    assert f"{finding.source}: state 'report' calls report (Report): field 'name'" in str(caught.value)


def test_a_wrong_json_type_is_reported():
    with pytest.raises(flow.FlowTypeError) as caught:
        @flow.workflow
        def pipeline(event):
            rows = load(event)
            summarise(bucket=rows["bucket"], count=rows["bucket"], parts=[rows["count"]])

    reasons = {(f.field, f.reason) for f in caught.value.findings}
    assert reasons == {("count", "is a string, not an integer"), ("parts[]", "is an integer, not a string")}


def test_the_workflow_input_model_feeds_the_first_task():
    class Wrong(BaseModel):
        bucket: int

    with pytest.raises(flow.FlowTypeError, match="field 'bucket' is an integer, not a string"):
        @flow.workflow
        def pipeline(event: Wrong):
            load(event)


def test_map_items_and_operators_are_followed():
    with pytest.raises(flow.FlowTypeError) as caught:
        @flow.workflow
        def pipeline(event):
            rows = load(event)
            for part in rows["parts"]:
                store(name=len(part))
            summarise(bucket=f"{rows['bucket']}x", count=rows["count"] + 1, parts=[])

    [finding] = caught.value.findings
    assert (finding.state, finding.field, finding.reason) == ("store", "name", "is an integer, not a string")


def test_every_path_into_a_task_is_checked():
    with pytest.raises(flow.FlowTypeError) as caught:
        @flow.workflow
        def pipeline(event):
            if event["fast"]:  # noqa: SIM108 (a Choice: the compiler takes statements)
                got = load(event)
            else:
                got = summarise(event)
            summarise(got)

    # the load path fits; the summarise path (a Summary) does not
    assert {(f.state, f.field) for f in caught.value.findings} == {
        ("summarise 2", "bucket"), ("summarise 2", "count"), ("summarise 2", "parts")}


def test_untyped_tasks_and_unknown_data_satisfy_everything():
    @flow.workflow
    def pipeline(event):
        raw = anything(event)
        rows = load(raw)
        again = anything(rows)
        summarise(again)
        summary = summarise(rows)
        report(total=summary["total"], name=raw["whatever"])

    assert pipeline.check_types() == []


def test_a_caught_error_is_an_error_output():
    with pytest.raises(flow.FlowTypeError, match="field 'name' is an object, not a string"):
        @flow.workflow
        def pipeline(event):
            try:
                load(event)
            except Exception as e:
                store(name=e)


# --- JSONPath: the builder, checked by check_types() and before run() ------------------------------


def jsonpath_flow(**selector):
    w = flow.Workflow("load")
    w.step(load, next="summarise", result_path="$.rows")
    w.step(summarise, input_path="$.rows", next="report", **selector)
    w.step(report, end=True)
    return w


def test_jsonpath_paths_and_result_selector_that_fit():
    w = jsonpath_flow(result_selector={"total.$": "$.total", "name.$": "$.label"})
    assert w.check_types() == []


def test_jsonpath_result_selector_dropping_a_field_is_reported():
    w = jsonpath_flow(result_selector={"total.$": "$.total"})
    [finding] = w.check_types()
    assert (finding.state, finding.field) == ("report", "name")
    assert finding.reason == "is required but missing (the input has total)"
    assert finding.source is not None and finding.source.startswith(f"{__file__}:")


def test_jsonpath_result_path_and_output_path():
    w = flow.Workflow("load")
    w.step(load, next="summarise", result_path="$.rows", output_path="$.rows")
    w.step(summarise, end=True)
    assert w.check_types() == []
    w = flow.Workflow("start")  # the input is known: a template's object
    w.pass_("start", parameters={"bucket": "b", "key": "k"}, next="load")
    w.step(load, next="summarise", result_path="$.rows")
    w.step(summarise, end=True)
    assert {f.field for f in w.check_types()} == {"count", "parts"}


def test_jsonpath_parameters_reading_nothing_is_reported():
    w = flow.Workflow("load")
    w.step(load, next="summarise", result_path="$.rows")
    w.step(summarise, parameters={"bucket.$": "$.rows.bucket", "count.$": "$.rows.nope", "parts": []}, end=True)
    [finding] = w.check_types()
    assert (finding.field, finding.reason) == ("count", "is required but its path or expression selects nothing")


def test_jsonpath_lambda_invoke_payload_and_result():
    w = flow.Workflow("load")
    w.step(load, next="report")
    w.task("report", resource="arn:aws:states:::lambda:invoke", end=True,
           parameters={"FunctionName": report.arn(), "Payload": {"total.$": "$.count", "name.$": "$.count"}})
    [finding] = flow.check_types(w, tasks=[report])
    assert (finding.state, finding.field, finding.reason) == ("report", "name", "is an integer, not a string")

    w = flow.Workflow("load")
    w.task("load", resource="arn:aws:states:::lambda:invoke", next="summarise",
           parameters={"FunctionName": "load", "Payload.$": "$"}, result_selector={"rows.$": "$.Payload"})
    w.step(summarise, input_path="$.rows", end=True)
    assert flow.check_types(w, tasks=[load]) == []


def test_jsonpath_parallel_result_is_an_array():
    branch = flow.Branch("load")
    branch.step(load, end=True)
    w = flow.Workflow("both")
    w.parallel("both", branches=[branch], next="summarise")
    w.step(summarise, end=True)
    [finding] = w.check_types()
    assert (finding.field, finding.reason) == ("", "is an array, not an object (Rows)")
    assert "the input is an array" in str(finding)


def test_jsonpath_map_item_selector_reads_the_item():
    processor = flow.ItemProcessor("store")
    processor.step(store, end=True)
    w = flow.Workflow("load")
    w.step(load, next="each")
    w.map("each", items_path="$.parts", item_selector={"name.$": "$$.Map.Item.Value"},
          item_processor=processor, end=True)
    assert w.check_types() == []
    processor = flow.ItemProcessor("store")
    processor.step(store, end=True)
    w = flow.Workflow("load")
    w.step(load, next="each")
    w.map("each", items_path="$.parts", item_selector={"name.$": "$.count"}, item_processor=processor, end=True)
    [finding] = w.check_types()
    assert (finding.state, finding.field) == ("store", "name")


def test_run_refuses_before_anything_runs():
    w = jsonpath_flow(result_selector={"total.$": "$.total"})
    with pytest.raises(flow.FlowTypeError, match="state 'report' calls report"):
        w.run({"bucket": "b", "key": "k"})


# --- shapes ------------------------------------------------------------------------------------------


def test_shapes_of_pydantic_types():
    class Thing(BaseModel):
        a: int | None = None
        b: Literal["x", "y"]
        c: list[Part]

    accepted = of_annotation(Thing, dumped=False)
    assert isinstance(accepted, Obj) and not accepted.closed
    assert accepted.get("a").required is False and accepted.get("a").shape == union(INTEGER, NULL)
    assert accepted.get("b").shape == STRING
    assert accepted.get("c").shape == Arr(Obj(of_annotation(Part, dumped=False).fields, closed=False, title="Part"))
    assert of_annotation(Thing, dumped=True).closed


def test_mismatches_of_unions():
    assert mismatches(union(INTEGER, NULL), of_annotation(int | None, dumped=False)) == []
    assert mismatches(union(INTEGER, NULL), INTEGER) == [("", "is null, not an integer")]
    assert mismatches(ANY, INTEGER) == []
    assert mismatches(obj({"a": STRING}), obj({"a": ANY})) == []


def test_jsonata_builder_output_assign_and_items():
    w = flow.Workflow("load", query_language="JSONata")
    w.step(load, arguments={"bucket": "b", "key": "k"}, assign={"rows": "{% $states.result %}"},
           output="{% {'total': $states.result.count} %}", next="each")
    processor = flow.ItemProcessor("store")
    processor.step(store, arguments={"name": "{% $states.input %}"}, end=True)
    w.map("each", items="{% $rows.parts %}", item_processor=processor, next="report")
    w.step(report, arguments="{% {'total': $rows.count, 'name': $rows.count & ''} %}", end=True)
    assert w.check_types() == []

    w = flow.Workflow("load", query_language="JSONata")
    w.step(load, arguments={"bucket": "b", "key": 3}, output="{% {'total': $states.result.count} %}",
           next="report")
    w.step(report, end=True)
    assert {(f.state, f.field, f.reason) for f in w.check_types()} == {
        ("load", "key", "is an integer, not a string"),
        ("report", "name", "is required but missing (the input has total)"),
    }
