"""to_python writes one builder call per state, and its code rebuilds the definition."""

import pytest

from stepkit import flow
from stepkit.flow import NotExpressible, from_python, to_python

DISTRIBUTED = {
    "Comment": "a distributed map over a CSV",
    "StartAt": "Rows",
    "TimeoutSeconds": 600,
    "States": {
        "Rows": {
            "Type": "Map",
            "ItemReader": {
                "Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "MaxItems": 10},
                "Parameters": {"Bucket": "b", "Key.$": "$.key"},
            },
            "ItemBatcher": {"MaxItemsPerBatch": 5, "BatchInput": {"run.$": "$.run"}},
            "ResultWriter": {
                "Resource": "arn:aws:states:::s3:putObject",
                "Parameters": {"Bucket": "out", "Prefix": "r"},
                "WriterConfig": {"Transformation": "FLATTEN", "OutputType": "JSONL"},
            },
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "Score",
                "States": {"Score": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:score",
                                     "End": True}},
            },
            "MaxConcurrency": 4,
            "ToleratedFailurePercentage": 5,
            "Label": "rows",
            "ResultPath": None,
            "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 2, "BackoffRate": 1.5,
                       "JitterStrategy": "FULL"}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed", "ResultPath": "$.error"}],
            "End": True,
        },
        "Failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
    },
}


def test_every_object_is_a_builder_call_and_no_definition_is_embedded():
    source = to_python(DISTRIBUTED)
    for call in ("flow.item_reader(", "flow.reader_config(", "flow.item_batcher(", "flow.result_writer(",
                 "flow.writer_config(", "flow.processor_config(", "flow.retry(", "flow.catch(",
                 "flow.ItemProcessor(", "workflow.map(", "workflow.fail(", "rows_items.task("):
        assert call in source
    assert '"ItemReader"' not in source and '"States"' not in source
    assert from_python(source) == DISTRIBUTED


def test_state_names_are_kept_and_variables_do_not_clash():
    definition = {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "p branch", "States": {"p branch": {"Type": "Succeed"}}},
            {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
                {"StartAt": "x", "States": {"x": {"Type": "Pass", "End": True}}}]}}},
        ]}}}
    source = to_python(definition)
    assert from_python(source) == definition
    assert "p_branch_1 = flow.Branch(" in source and "p_branch_1_2 = flow.Branch(" in source


def test_the_code_is_valid_python_that_ruff_accepts(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "distributed.py"
    path.write_text(to_python(DISTRIBUTED))
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed beside this Python")
    check = subprocess.run([str(ruff), "check", "--isolated", "--select", "E,F,W", "--line-length", "110", str(path)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "Bogus": 1}}}, "'Bogus' is not an ASL field"),
        ({"StartAt": "A", "States": {"A": {"Type": "Loop"}}}, "Type is one of"),
        ({"StartAt": "A", "States": {"A": "Pass"}}, "Type is one of"),
        ({"StartAt": "A", "States": []}, "StartAt and an object of States"),
        ({"StartAt": "A", "States": {"A": {"Type": "Parallel", "Branches": {}, "End": True}}}, "array"),
    ],
)
def test_what_no_builder_call_expresses_is_refused_with_its_place(definition, message):
    with pytest.raises(NotExpressible, match=message):
        to_python(definition)


def test_from_python_names_what_is_missing():
    with pytest.raises(ValueError, match=r"no flow\.Workflow named 'workflow'"):
        from_python("x = 1\n", filename="mine.py")


def test_json_literals_round_trip_exactly():
    odd = {"text": "line\nbreak \u2028 é \"q\"", "n": [1, 1.5, -0.0, 10**20], "flags": [True, False, None], "e": {}}
    wf = flow.Workflow("P").pass_("P", result=odd, end=True)
    assert from_python(to_python(wf.definition())) == wf.definition()
