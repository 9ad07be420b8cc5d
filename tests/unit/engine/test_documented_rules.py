"""Rules of the AWS developer guide (and the ASL spec where AWS is silent) the engine and the
validator follow, one test each; the docstring of each test names its source."""

from __future__ import annotations

from typing import Any

import pytest

import stepkit
from stepkit.asl.validation import validate_definition
from stepkit.runner import InvalidDefinition

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def errors_of(definition: dict) -> list[str]:
    return [d.message for d in validate_definition(definition) if d.severity == "ERROR"]


def map_of(**fields: Any) -> dict:
    return {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": PASS, "End": True, **fields}}}


# -- the context object ------------------------------------------------------------------
@pytest.mark.parametrize("language", ["JSONPath", "JSONata"])
def test_map_item_source_is_state_data_for_items_from_the_input(language: str) -> None:
    """Context object page, "Context object data for Map states": the example's output, with
    ``ContextSource`` "STATE_DATA" for state input, in JSONPath and in JSONata."""
    if language == "JSONPath":
        selector = {"ContextIndex.$": "$$.Map.Item.Index", "ContextValue.$": "$$.Map.Item.Value",
                    "ContextSource.$": "$$.Map.Item.Source"}
    else:
        selector = {"ContextIndex": "{% $states.context.Map.Item.Index %}",
                    "ContextValue": "{% $states.context.Map.Item.Value %}",
                    "ContextSource": "{% $states.context.Map.Item.Source %}"}
    definition = map_of(ItemSelector=selector, QueryLanguage=language)
    people = [{"who": "bob"}, {"who": "meg"}, {"who": "joe"}]
    assert stepkit.run(definition, people).output == [
        {"ContextIndex": i, "ContextValue": person, "ContextSource": "STATE_DATA"} for i, person in enumerate(people)
    ]


# -- QueryLanguage inside Map and Parallel ------------------------------------------------
def _nested(kind: str) -> dict:
    inner = {"StartAt": "In", "States": {"In": {"Type": "Pass", "Parameters": {"v.$": "$.v"}, "End": True}}}
    state: dict[str, Any] = {"Type": kind, "QueryLanguage": "JSONata", "End": True}
    if kind == "Map":
        state |= {"Items": "{% [$states.input] %}", "ItemProcessor": inner}
    else:
        state |= {"Branches": [inner]}
    return {"StartAt": "S", "States": {"S": state}}


@pytest.mark.parametrize("kind", ["Map", "Parallel"])
def test_states_inside_a_jsonata_map_or_parallel_default_to_the_machines_language(kind: str) -> None:
    """"If the state does not contain a QueryLanguage field, then it will use the query language
    specified in the top-level QueryLanguage field": a JSONPath Pass (Parameters with ``.$``)
    inside a JSONata Map/Parallel of a JSONPath machine is valid and runs as JSONPath."""
    definition = _nested(kind)
    assert errors_of(definition) == []
    assert stepkit.run(definition, {"v": 1}).output == [{"v": 1}]


@pytest.mark.parametrize("kind", ["Map", "Parallel"])
def test_a_jsonata_field_inside_them_needs_its_own_query_language(kind: str) -> None:
    """The same rule seen from the other side: the validator and the engine both read the inner
    Pass as JSONPath, so its JSONata ``Output`` is refused (validator) / not evaluated."""
    definition = _nested(kind)
    inner = definition["States"]["S"].get("ItemProcessor") or definition["States"]["S"]["Branches"][0]
    inner["States"]["In"] = {"Type": "Pass", "Output": "{% 1 %}", "End": True}
    assert any("Output" in message for message in errors_of(definition))
    inner["States"]["In"]["QueryLanguage"] = "JSONata"
    assert errors_of(definition) == []
    assert stepkit.run(definition, {"v": 1}).output == [1]


# -- JSONata-valued Map fields -------------------------------------------------------------
def _jsonata_map(field: str, expression: str) -> dict:
    definition = map_of(Items="{% [1, 2] %}", **{field: expression})
    definition["QueryLanguage"] = "JSONata"
    return definition


@pytest.mark.parametrize(
    ("field", "expression", "expected"),
    [
        ("MaxConcurrency", "{% 1 %}", None),
        ("MaxConcurrency", "{% 0 %}", None),
        ("MaxConcurrency", "{% -1 %}", "Expected non-negative integer for MaxConcurrency, got '-1' instead."),
        ("MaxConcurrency", "{% 1.5 %}", "Expected 'integer', but was 'number' for value: 1.5"),
        ("MaxConcurrency", "{% '3' %}", "Expected 'integer', but was 'string' for value: \"3\""),
        ("MaxConcurrency", "{% true %}", "Expected 'integer', but was 'boolean' for value: true"),
        ("MaxConcurrency", "{% null %}", "Expected 'integer', but was 'null' for value: null"),
        ("ToleratedFailureCount", "{% 2 %}", None),
        ("ToleratedFailureCount", "{% -1 %}", "ToleratedFailureCount cannot be negative."),
        ("ToleratedFailureCount", "{% 0.5 %}", "Expected 'integer', but was 'number' for value: 0.5"),
        ("ToleratedFailurePercentage", "{% 12.5 %}", None),
        ("ToleratedFailurePercentage", "{% 100 %}", None),
        ("ToleratedFailurePercentage", "{% 101 %}", "ToleratedFailurePercentage must be between 0 and 100."),
        ("ToleratedFailurePercentage", "{% -0.5 %}", "ToleratedFailurePercentage must be between 0 and 100."),
        ("ToleratedFailurePercentage", "{% 'x' %}", "Expected 'number', but was 'string' for value: \"x\""),
    ],
)
def test_jsonata_map_settings_take_what_a_literal_may_be(field: str, expression: str, expected: str | None) -> None:
    """The spec types these fields (a non-negative integer; a number from 0 to 100), the
    validator refuses a literal outside that, and a JSONata expression must evaluate to what a
    literal may be: otherwise the state fails with States.QueryEvaluationError."""
    definition = _jsonata_map(field, expression)
    assert errors_of(definition) == []
    execution = stepkit.run(definition, {})
    if expected is None:
        assert execution.status == "SUCCEEDED"
        return
    assert (execution.status, execution.error) == ("FAILED", "States.QueryEvaluationError")
    assert execution.cause.endswith(expected)
    assert "EvaluationFailed" in execution.event_types


@pytest.mark.parametrize(
    ("field", "literal"), [("MaxConcurrency", -1), ("ToleratedFailureCount", -1), ("ToleratedFailurePercentage", 101)]
)
def test_the_validator_refuses_the_same_values_written_literally(field: str, literal: int) -> None:
    assert errors_of(map_of(**{field: literal}))


# -- Parameters and the validator's strictness -------------------------------------------
@pytest.mark.parametrize("parameters", [[{"Prop1": "Value1"}, {"Prop1.$": "$.x"}], "text", 3, True])
def test_pass_parameters_may_be_any_json_value(parameters: Any) -> None:
    """aws-toolkit-vscode#2459: AWS accepts a Pass state's Parameters as an array (or any JSON
    value); AWS's own definition schema says so since "update Parameters property to be any
    type". The paths inside an array are still evaluated."""
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": parameters, "End": True}}}
    assert errors_of(definition) == []
    expected = [{"Prop1": "Value1"}, {"Prop1": 9}] if isinstance(parameters, list) else parameters
    assert stepkit.run(definition, {"x": 9}).output == expected


def test_a_bad_path_inside_array_parameters_is_still_refused() -> None:
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": [{"a.$": "nope"}], "End": True}}}
    assert errors_of(definition) == [
        "The value for the field 'a.$' must be a valid JSONPath or a valid intrinsic function call"
    ]


@pytest.mark.parametrize("selector", [["a", {"v.$": "$$.Map.Item.Value"}], "constant"])
def test_item_selector_may_be_any_json_value(selector: Any) -> None:
    """AWS's schema: ItemSelector is "A JSON object or value" (number, string, boolean, object,
    array or null), as is the ItemBatcher's BatchInput."""
    definition = map_of(ItemSelector=selector)
    assert errors_of(definition) == []
    expected = [["a", {"v": 1}]] if isinstance(selector, list) else [selector]
    assert stepkit.run(definition, [1]).output == expected
    batched = map_of(ItemBatcher={"MaxItemsPerBatch": 1, "BatchInput": [1, 2]})
    batched["States"]["M"]["ItemProcessor"] = {
        **PASS, "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    }
    assert errors_of(batched) == []


def test_heartbeat_seconds_equal_to_timeout_seconds_is_refused() -> None:
    """The spec: "the HeartbeatSeconds interval MUST be smaller than the TimeoutSeconds value";
    no public AWS record of the equal case was found, so the spec's rule stands."""
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"},
            "End": True}
    equal = {"StartAt": "T", "States": {"T": {**task, "TimeoutSeconds": 60, "HeartbeatSeconds": 60}}}
    assert errors_of(equal) == [
        "The value for the field 'HeartbeatSeconds' must be smaller than the value for the field 'TimeoutSeconds'"
    ]
    smaller = {"StartAt": "T", "States": {"T": {**task, "TimeoutSeconds": 60, "HeartbeatSeconds": 59}}}
    assert errors_of(smaller) == []


# -- compiling without validation ------------------------------------------------------------
@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"StartAt": "A"}, "SCHEMA_VALIDATION_FAILED: 'States' must be a non-empty JSON object at /States"),
        ({"StartAt": "A", "States": {"A": {"Type": "Nope"}}},
         "SCHEMA_VALIDATION_FAILED: Unknown state type: Nope at /States/A/Type"),
        ({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}},
         "MISSING_TRANSITION_TARGET: Missing 'Next' target: B at /States/A/Next"),
        ({"StartAt": "B", "States": {"A": {"Type": "Pass", "End": True}}},
         "MISSING_TRANSITION_TARGET: Missing 'Next' target: B at /StartAt"),
        ({"StartAt": "A", "States": {"A": {"Type": "Choice"}}},
         "SCHEMA_VALIDATION_FAILED: The field 'Choices' is required but was missing at /States/A"),
        ({"StartAt": "A", "States": {"A": {"Type": "Task", "End": True}}},
         "SCHEMA_VALIDATION_FAILED: The field 'Resource' is required but was missing at /States/A"),
        ({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "InputPath": 3}}},
         "SCHEMA_VALIDATION_FAILED: A field of this state has a value of the wrong type at /States/A"),
        ({"StartAt": "A", "States": {"A": {"Type": "Map", "End": True, "ItemProcessor": {
            "StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Y"}}}}}},
         "MISSING_TRANSITION_TARGET: Missing 'Next' target: Y at /States/A/ItemProcessor/States/X/Next"),
        ({"StartAt": "A", "States": {"A": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "X", "States": {"X": {"Type": 3}}}]}}},
         "SCHEMA_VALIDATION_FAILED: Unknown state type: 3 at /States/A/Branches/0/States/X/Type"),
        ({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [
            {"Next": "A"}]}}},
         "SCHEMA_VALIDATION_FAILED: The field 'Condition' is required but was missing at /States/A"),
        ({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [
            {"Variable": "$.x", "StringEquals": "a", "Next": "A"}], "Default": "Z"}}},
         "MISSING_TRANSITION_TARGET: Missing 'Next' target: Z at /States/A/Default"),
    ],
)
def test_compiling_an_invalid_definition_without_validation_names_the_place(definition: dict, message: str) -> None:
    with pytest.raises(InvalidDefinition) as raised:
        stepkit.StateMachine(definition, validate=False)
    assert str(raised.value) == f"Invalid State Machine Definition: '{message}'"
    assert raised.value.diagnostics[0].location == message.rsplit(" at ", 1)[1]


# -- intrinsic functions ---------------------------------------------------------------------
def _parameters(expression: str) -> dict:
    return {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"r.$": expression}, "End": True}}}


def _nested_arrays(depth: int) -> str:
    expression = "$.x"
    for _ in range(depth):
        expression = f"States.Array({expression})"
    return expression


def test_intrinsic_functions_nest_up_to_ten_deep() -> None:
    """"You can nest up to 10 intrinsic functions within a field in your workflows"."""
    ten = _parameters(_nested_arrays(10))
    assert errors_of(ten) == []
    value: Any = 1
    for _ in range(10):
        value = [value]
    assert stepkit.run(ten, {"x": 1}).output == {"r": value}
    assert errors_of(_parameters(_nested_arrays(11))) == [
        "The value for the field 'r.$' must be a valid JSONPath or a valid intrinsic function call"
    ]


def test_the_documented_nested_example_runs() -> None:
    """The page's nine-deep example, with the two arguments its parts take (the page's own
    template has three ``{}`` for two arguments, which fails as a placeholder without one)."""
    arn = "arn:aws:imagebuilder:us-east-1:123456789012:image-recipe/name.with.dots/1.0.0"
    part = (
        "States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2),"
        " '.'), {})"
    )
    expression = f"States.Format('{{}}.{{}}', {part.format(0)}, {part.format(1)})"
    assert stepkit.run(_parameters(expression), {"ImageRecipe": {"Arn": arn}}).output == {"r": "1.0"}


@pytest.mark.parametrize("field", ["InputPath", "OutputPath", "ResultPath"])
def test_intrinsic_functions_only_in_the_fields_that_support_them(field: str) -> None:
    """"Fields that support intrinsic functions": Parameters, ResultSelector, Credentials (and
    ItemSelector, Assign, a Fail's ErrorPath/CausePath); a path field is not one of them."""
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", field: "States.Array($.x)", "End": True}}}
    assert errors_of(definition)
