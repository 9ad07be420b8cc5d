"""A workflow written as a function body, compiled to ASL and run with its tasks in workers."""

from pathlib import Path

import pytest

from stepkit.runner import check_definition

FLOWS = Path(__file__).resolve().parents[1] / "fixtures" / "flows"


@pytest.fixture(scope="module")
def body():
    import sys

    sys.path.insert(0, str(FLOWS))
    try:
        import body

        yield body
    finally:
        sys.path.remove(str(FLOWS))


def test_the_body_compiles_to_one_state_per_statement_in_source_order(body):
    definition = body.pipeline.definition()
    check_definition(definition)
    assert definition["QueryLanguage"] == "JSONata"
    assert definition["Comment"] == "Count the items, square each, add them up."
    types = {name: state["Type"] for name, state in definition["States"].items()}
    assert list(types.items())[:4] == [("Start", "Pass"), ("count", "Task"), ("If line 31", "Choice"),
                                       ("Raise TooFew", "Fail")]
    assert [t for t in types.values()].count("Map") == 1 and "Sleep line 43" in types
    catch = definition["States"]["square 2"]["Catch"]
    assert catch == [{"ErrorEquals": ["ValueError"], "Next": "Set first", "Assign": {"e": "{% $states.errorOutput %}"}}]


@pytest.mark.parametrize(
    ("items", "status", "output"),
    [
        ([1, 2, 3, 4], "SUCCEEDED", {"label": "few", "first": 1, "summary": "4 items"}),
        ([2, 3], "SUCCEEDED", {"label": "few", "first": -1, "summary": "2 items"}),  # caught
        ([], "FAILED", None),
        ([1, -2, 3], "FAILED", None),  # a Map iteration fails: not inside the try
    ],
)
def test_it_runs_each_path(body, items, status, output):
    execution = body.pipeline.run({"items": items}, skip_waits=True)
    assert execution.status == status, execution.cause
    if status == "SUCCEEDED":
        assert execution.output == output
    else:
        assert execution.error == ("TooFew" if not items else "ValueError")
