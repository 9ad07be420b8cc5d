"""The engine refuses, before running anything, a definition whose Assign names a variable
the developer guide does not allow (the rule itself: tests/unit/asl/test_variable_names.py)."""

import pytest

from stepkit import InvalidDefinition, run


@pytest.mark.parametrize("name", ["x.y", "x[2]", "states"])
def test_run_refuses_an_invalid_variable_name(name: str) -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Assign": {name: 42}, "End": True}},
    }
    with pytest.raises(InvalidDefinition) as caught:
        run(definition, {})
    assert f"SCHEMA_VALIDATION_FAILED: The variable name '{name}' is invalid" in str(caught.value)
    assert f"at /States/P/Assign/{name}" in str(caught.value)


def test_run_accepts_documented_names() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "P",
        "States": {
            "P": {"Type": "Pass", "Assign": {"productName": "product1", "count": 42}, "Next": "Q"},
            "Q": {"Type": "Pass", "Output": "{% $productName & '/' & $string($count) %}", "End": True},
        },
    }
    assert run(definition, {}).output == "product1/42"
