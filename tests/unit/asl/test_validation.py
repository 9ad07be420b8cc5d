"""stepkit.asl.validation: AWS's codes, messages and locations for invalid definitions."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from stepkit.asl import definition_model
from stepkit.asl.definition_fields import format_location
from stepkit.asl.diagnostics import Diagnostic, has_errors, invalid_definition_message
from stepkit.asl.validation import validate_definition

CONFORMANCE = Path(__file__).resolve().parents[3].parent / "shared" / "conformance" / "cases"
TYPE_VALUES = "[Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map]"


def machine(states: dict[str, Any], start: str | None = None, **top: Any) -> dict[str, Any]:
    return {"StartAt": start or next(iter(states)), "States": states, **top}


def errors(definition: Any, **kwargs: Any) -> list[tuple[str, str, str]]:
    return [
        (d.code, d.location, d.message)
        for d in validate_definition(definition, **kwargs)
        if d.severity == "ERROR"
    ]


def warnings(definition: Any, **kwargs: Any) -> list[tuple[str, str]]:
    return [
        (d.code, d.location) for d in validate_definition(definition, **kwargs) if d.severity == "WARNING"
    ]


def schema(location: str, message: str) -> tuple[str, str, str]:
    return ("SCHEMA_VALIDATION_FAILED", location, message)


def only_in(other: str, field: str) -> str:
    """The message for ``field`` in a state of the language ``other`` does not own."""
    language = "JSONata" if other == "JSONPath" else "JSONPath"
    return (
        f"The QueryLanguage is set to '{language}', but field '{field}' is only supported "
        f"for the '{other}' QueryLanguage"
    )


PASS_END = {"Type": "Pass", "End": True}


def task(**fields: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
        "End": True,
        **fields,
    }


def map_state(**fields: Any) -> dict[str, Any]:
    return {
        "Type": "Map",
        "ItemProcessor": {"StartAt": "P", "States": {"P": dict(PASS_END)}},
        "End": True,
        **fields,
    }


# --- the API -----------------------------------------------------------------------------


def test_a_valid_definition_has_no_diagnostics_as_text_or_object() -> None:
    definition = machine({"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}})
    assert validate_definition(definition) == []
    assert validate_definition(json.dumps(definition)) == []
    assert not has_errors([])


def test_diagnostic_is_frozen_and_has_aws_response_shape() -> None:
    d = Diagnostic("ERROR", "MISSING_END_STATE", "Workflow has no terminal state", "")
    with pytest.raises(AttributeError):
        d.code = "X"  # type: ignore[misc]
    assert d.to_dict() == {
        "severity": "ERROR",
        "code": "MISSING_END_STATE",
        "message": "Workflow has no terminal state",
    }
    located = Diagnostic("WARNING", "NO_DOLLAR", "m", "/States/A")
    assert located.to_dict()["location"] == "/States/A"
    assert has_errors([d]) and not has_errors([located])


def test_format_location_writes_array_entries_with_brackets() -> None:
    assert format_location(()) == "/"
    assert format_location(("States", "A", "Catch", 0, "Next")) == "/States/A/Catch[0]/Next"
    assert format_location(("States", "P", "Branches", 1, "States", "X")) == "/States/P/Branches[1]/States/X"


# --- text that is no definition ---------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n"])
def test_empty_text_is_not_a_json_object(text: str) -> None:
    # Recorded on AWS: an empty definition is SCHEMA_VALIDATION_FAILED without a location.
    assert errors(text) == [schema("", "Definition must be a valid JSON object")]


def test_bad_json_is_one_invalid_json_description_with_the_position() -> None:
    [d] = validate_definition('{"StartAt": "A",\n "States": {')
    assert d.code == "INVALID_JSON_DESCRIPTION" and d.severity == "ERROR"
    assert d.location.startswith('[Source: (String)"{\\"StartAt\\"') and "line: 2" in d.location
    assert d.message.endswith("\n at " + d.location)
    assert (
        invalid_definition_message([d])
        == f"Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {d.message}'"
    )


def test_long_bad_json_is_quoted_truncated_as_jackson_does() -> None:
    [d] = validate_definition("[" + "1," * 400 + "}")
    assert "[truncated 302 chars]" in d.location


@pytest.mark.parametrize("text", ['{"a": NaN}', '{"a": Infinity}'])
def test_non_standard_json_numbers_are_refused(text: str) -> None:
    [d] = validate_definition(text)
    assert d.code == "INVALID_JSON_DESCRIPTION" and "Non-standard token" in d.message


def test_too_deeply_nested_json_does_not_raise() -> None:
    [d] = validate_definition("[" * 100_000 + "]" * 100_000)
    assert d.code == "INVALID_JSON_DESCRIPTION"


@pytest.mark.parametrize("value", ["[1, 2]", "42", '"text"', "null"])
def test_json_that_is_not_an_object(value: str) -> None:
    assert errors(value) == [schema("", "Definition must be a valid JSON object")]


# --- the top level ----------------------------------------------------------------------


def test_empty_object_lists_both_required_fields_in_aws_order() -> None:
    # Recorded on AWS: "These fields are required: [States, StartAt]" at "/".
    assert errors({}) == [schema("/", "These fields are required: [States, StartAt]")]


def test_missing_start_at() -> None:
    assert errors({"States": {"A": PASS_END}}) == [schema("/", "These fields are required: [StartAt]")]


def test_top_level_field_rules() -> None:
    definition = machine({"A": PASS_END}, Coment="typo", TimeoutSeconds=0, QueryLanguage="SQL", Version=1)
    assert errors(definition) == [
        schema("/Version", "The value for the field 'Version' must be a STRING"),
        schema(
            "/TimeoutSeconds",
            "The value for the field 'TimeoutSeconds' must be an integer between 1 and 99999999",
        ),
        schema(
            "/QueryLanguage", "The field 'QueryLanguage' should have one of these values: [JSONPath, JSONata]"
        ),
        schema("/", "Field 'Coment' is not supported"),
    ]


def test_states_must_be_a_non_empty_object() -> None:
    assert errors({"StartAt": "A", "States": {}}) == [
        schema("/States", "The field 'States' should be non-empty")
    ]
    assert errors({"StartAt": "A", "States": []}) == [
        schema("/States", "The value for the field 'States' must be an OBJECT")
    ]


# --- state types and their fields --------------------------------------------------------


def test_unknown_or_missing_type() -> None:
    definition = machine({"A": {"Type": "Bogus", "Next": "B"}, "B": {"End": True}, "C": 5})
    assert errors(definition) == [
        schema("/States/A/Type", f"The field 'Type' should have one of these values: {TYPE_VALUES}"),
        schema("/States/B", "These fields are required: [Type]"),
        schema("/States/C", "The value for the field 'C' must be an OBJECT"),
        ("MISSING_TRANSITION_TARGET", "/States/C", 'State "C" is not reachable.'),
    ]


@pytest.mark.parametrize(
    ("state", "field"),
    [
        ({"Type": "Pass", "End": True, "TimeoutSeconds": 5}, "TimeoutSeconds"),
        (map_state(TimeoutSeconds=5), "TimeoutSeconds"),
        (
            {"Type": "Parallel", "Branches": [machine({"W": PASS_END})], "End": True, "TimeoutSeconds": 5},
            "TimeoutSeconds",
        ),
        ({"Type": "Pass", "End": True, "Catch": []}, "Catch"),
        ({"Type": "Wait", "Seconds": 1, "End": True, "Retry": []}, "Retry"),
        ({"Type": "Succeed", "Next": "X"}, "Next"),
        ({"Type": "Fail", "End": True}, "End"),
        ({"Type": "Fail", "InputPath": "$"}, "InputPath"),
        (task(Result={}), "Result"),
        ({"Type": "Succeed", "Assign": {}}, "Assign"),
        ({"Type": "Pass", "End": True, "Message.$": "$.m"}, "Message.$"),
    ],
)
def test_fields_a_state_type_does_not_support(state: dict[str, Any], field: str) -> None:
    # AWS: "Field '<name>' is not supported", located at the state.
    assert schema("/States/S", f"Field '{field}' is not supported") in errors(machine({"S": state}))


@pytest.mark.parametrize(
    ("state", "message", "location"),
    [
        ({"Type": "Task", "End": True}, "These fields are required: [Resource]", "/States/S"),
        ({"Type": "Choice"}, "These fields are required: [Choices]", "/States/S"),
        ({"Type": "Choice", "Choices": []}, "The field 'Choices' should be non-empty", "/States/S/Choices"),
        ({"Type": "Parallel", "End": True}, "These fields are required: [Branches]", "/States/S"),
        (
            {"Type": "Parallel", "End": True, "Branches": []},
            "The field 'Branches' should be non-empty",
            "/States/S/Branches",
        ),
        (
            {"Type": "Parallel", "End": True, "Branches": [{"States": {"A": PASS_END}}]},
            "These fields are required: [StartAt]",
            "/States/S/Branches[0]",
        ),
        (
            {"Type": "Map", "End": True},
            "One of these fields is required: [ItemProcessor, Iterator]",
            "/States/S",
        ),
        (
            {"Type": "Wait", "End": True},
            "One of these fields is required: [Seconds, Timestamp, SecondsPath, TimestampPath]",
            "/States/S",
        ),
        (
            {"Type": "Wait", "End": True, "Seconds": 1, "TimestampPath": "$.t"},
            "Only one of these fields can be set: [Seconds, TimestampPath]",
            "/States/S/Seconds",
        ),
        (
            {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"},
            "Only one of these fields can be set: [Error, ErrorPath]",
            "/States/S/Error",
        ),
        (
            {"Type": "Fail", "Cause": "C", "CausePath": "$.c"},
            "Only one of these fields can be set: [Cause, CausePath]",
            "/States/S/Cause",
        ),
        ({"Type": "Pass"}, "One of these fields is required: [Next, End]", "/States/S"),
        ({"Type": "Pass", "End": False}, "One of these fields is required: [Next, End]", "/States/S"),
        (
            {"Type": "Pass", "End": "yes", "Next": "S"},
            "The value for the field 'End' must be a BOOLEAN",
            "/States/S/End",
        ),
        (
            {"Type": "Wait", "Seconds": -1, "End": True},
            "The value for the field 'Seconds' must be an integer between 0 and 99999999",
            "/States/S/Seconds",
        ),
        (
            {"Type": "Wait", "Timestamp": "2016-03-14 01:59:00", "End": True},
            "The value for the field 'Timestamp' must be a valid ISO-8601 timestamp",
            "/States/S/Timestamp",
        ),
        ({"Type": "Fail", "Error": 5}, "The value for the field 'Error' must be a STRING", "/States/S/Error"),
        (
            {"Type": "Fail", "ErrorPath": "States.Bogus(1)"},
            "The value for the field 'ErrorPath' must be a valid JSONPath or a valid intrinsic function call",
            "/States/S/ErrorPath",
        ),
    ],
)
def test_required_exclusive_and_typed_fields(state: dict[str, Any], message: str, location: str) -> None:
    assert schema(location, message) in errors(machine({"S": state}))


def test_next_and_end_together() -> None:
    assert errors(machine({"S": {"Type": "Pass", "Next": "S", "End": True}})) == [
        schema("/States/S/Next", "Only one of these fields can be set: [Next, End]")
    ]


def test_fail_error_path_may_be_an_intrinsic_function() -> None:
    state = {"Type": "Fail", "ErrorPath": "States.Format('E{}', $.code)", "CausePath": "$$.Execution.Id"}
    assert errors(machine({"S": state})) == []


def test_state_name_length() -> None:
    assert errors(machine({"N" * 80: PASS_END})) == []
    assert errors(machine({"N" * 81: PASS_END})) == [
        (
            "INVALID_STATE_NAME",
            f"/States/{'N' * 81}",
            f"State name '{'N' * 81}' must be between 1 and 80 characters long",
        )
    ]


# --- transitions and reachability -------------------------------------------------------


def test_missing_targets_say_next_for_every_kind_of_transition() -> None:
    definition = machine(
        {
            "A": {"Type": "Pass", "Next": "Ghost1"},
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "Ghost2"}],
                "Default": "Ghost3",
            },
            "T": task(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Ghost4"}]),
        },
        start="A",
    )
    found = [e for e in errors(definition) if e[2].startswith("Missing")]
    assert found == [
        ("MISSING_TRANSITION_TARGET", "/States/A/Next", "Missing 'Next' target: Ghost1"),
        ("MISSING_TRANSITION_TARGET", "/States/C/Choices[0]/Next", "Missing 'Next' target: Ghost2"),
        ("MISSING_TRANSITION_TARGET", "/States/C/Default", "Missing 'Next' target: Ghost3"),
        ("MISSING_TRANSITION_TARGET", "/States/T/Catch[0]/Next", "Missing 'Next' target: Ghost4"),
    ]


def test_start_at_naming_no_state() -> None:
    assert errors(machine({"A": PASS_END}, start="Nope")) == [
        ("MISSING_TRANSITION_TARGET", "/StartAt", "Missing 'Next' target: Nope")
    ]


def test_dangling_target_comes_before_missing_end_state() -> None:
    # Measured on AWS: both in one response, the dangling target first, no location for the second.
    definition = machine({"A": {"Type": "Pass", "Next": "NOPE"}})
    assert errors(definition) == [
        ("MISSING_TRANSITION_TARGET", "/States/A/Next", "Missing 'Next' target: NOPE"),
        ("MISSING_END_STATE", "", "Workflow has no terminal state"),
    ]
    assert invalid_definition_message(validate_definition(definition)) == (
        "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: NOPE at "
        "/States/A/Next, MISSING_END_STATE: Workflow has no terminal state at null'"
    )


def test_no_terminal_state_suppresses_the_unreachable_report() -> None:
    loop = {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}
    assert errors(machine({**loop, "Unused": {"Type": "Pass", "Next": "A"}}, start="A")) == [
        ("MISSING_END_STATE", "", "Workflow has no terminal state")
    ]
    assert errors(machine({**loop, "C": PASS_END}, start="A")) == [
        ("MISSING_TRANSITION_TARGET", "/States/C", 'State "C" is not reachable.')
    ]


def test_transitions_do_not_leave_their_scope() -> None:
    branch = machine({"B": {"Type": "Pass", "Next": "After"}})
    definition = machine(
        {"Par": {"Type": "Parallel", "Branches": [branch], "Next": "After"}, "After": {"Type": "Succeed"}},
        start="Par",
    )
    assert errors(definition) == [
        ("MISSING_TRANSITION_TARGET", "/States/Par/Branches[0]/States/B/Next", "Missing 'Next' target: After")
    ]


def test_nested_machines_need_no_terminal_state_but_all_states_reachable() -> None:
    loop = {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}
    assert errors(machine({"M": map_state(ItemProcessor=machine(loop, start="A"))})) == []
    processor = machine({"W": PASS_END, "Ghost": PASS_END}, start="W")
    assert errors(machine({"M": map_state(ItemProcessor=processor)})) == [
        (
            "MISSING_TRANSITION_TARGET",
            "/States/M/ItemProcessor/States/Ghost",
            'State "Ghost" is not reachable.',
        )
    ]


def test_nested_problems_carry_their_full_location() -> None:
    inner = map_state(
        MaxConcurrency=-1, ItemProcessor=machine({"Train": {"Type": "Pass", "Next": "Nowhere"}})
    )
    definition = machine({"Fanout": map_state(ItemProcessor=machine({"Inner": inner}))})
    assert errors(definition) == [
        schema(
            "/States/Fanout/ItemProcessor/States/Inner/MaxConcurrency",
            "The value for the field 'MaxConcurrency' must be an integer greater than or equal to 0",
        ),
        (
            "MISSING_TRANSITION_TARGET",
            "/States/Fanout/ItemProcessor/States/Inner/ItemProcessor/States/Train/Next",
            "Missing 'Next' target: Nowhere",
        ),
    ]


def test_state_names_are_unique_across_the_whole_machine() -> None:
    definition = machine(
        {"M": map_state(ItemProcessor=machine({"Final": PASS_END})), "Final": PASS_END}, start="M"
    )
    definition["States"]["M"] |= {"Next": "Final", "End": False}
    assert errors(definition) == [("DUPLICATE_STATE_NAME", "/States/Final", "Duplicate State name: Final")]


def test_duplicate_keys_in_the_text_are_duplicate_state_names() -> None:
    text = (
        '{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}, '
        '"A": {"Type": "Pass", "Next": "B"}}}'
    )
    assert errors(text) == [("DUPLICATE_STATE_NAME", "/States/A", "Duplicate State name: A")]


# --- query languages -------------------------------------------------------------------


def test_a_state_cannot_downgrade_a_jsonata_machine_to_jsonpath() -> None:
    # Recorded on AWS.
    definition = machine(
        {"Pass": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": True}}, QueryLanguage="JSONata"
    )
    assert errors(definition) == [
        schema(
            "/States/Pass",
            "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
        )
    ]


def test_jsonpath_fields_in_a_jsonata_state_are_located_at_the_field() -> None:
    state = {"Type": "Pass", "End": True, "InputPath": "$.a", "OutputPath": "$.b", "ResultPath": "$.c"}
    found = errors(machine({"X": state}, QueryLanguage="JSONata"))
    assert found == [
        schema(
            f"/States/X/{field}",
            only_in("JSONPath", field),
        )
        for field in ("InputPath", "OutputPath", "ResultPath")
    ]


@pytest.mark.parametrize(
    ("state", "field"),
    [
        ({"Type": "Pass", "End": True, "Parameters": {}}, "Parameters"),
        ({"Type": "Pass", "End": True, "Result": 1}, "Result"),
        (task(ResultSelector={}), "ResultSelector"),
        (task(TimeoutSecondsPath="$.t"), "TimeoutSecondsPath"),
        ({"Type": "Wait", "SecondsPath": "$.s", "End": True}, "SecondsPath"),
        ({"Type": "Fail", "ErrorPath": "$.e"}, "ErrorPath"),
        (map_state(ItemsPath="$.items"), "ItemsPath"),
        (map_state(MaxConcurrencyPath="$.m"), "MaxConcurrencyPath"),
    ],
)
def test_jsonpath_only_fields_are_refused_in_jsonata(state: dict[str, Any], field: str) -> None:
    message = only_in("JSONPath", field)
    assert schema(f"/States/S/{field}", message) in errors(machine({"S": state}, QueryLanguage="JSONata"))


@pytest.mark.parametrize(
    ("state", "field"),
    [
        ({"Type": "Pass", "End": True, "Output": {}}, "Output"),
        (task(Arguments={}), "Arguments"),
        (map_state(Items=[1]), "Items"),
    ],
)
def test_jsonata_only_fields_are_refused_in_jsonpath_at_the_state(state: dict[str, Any], field: str) -> None:
    message = only_in("JSONata", field)
    assert errors(machine({"S": state})) == [schema("/States/S", message)]


def test_a_state_may_opt_into_jsonata_alone() -> None:
    definition = machine(
        {
            "J": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $states.input %}", "Next": "P"},
            "P": {"Type": "Pass", "InputPath": "$.a", "End": True},
        },
        start="J",
    )
    assert errors(definition) == []


def test_states_inside_a_map_inherit_the_top_level_language_not_the_maps() -> None:
    inner = machine({"P": {"Type": "Pass", "Output": 1, "End": True}})
    definition = machine({"M": map_state(QueryLanguage="JSONata", Items=[1], ItemProcessor=inner)})
    message = only_in("JSONata", "Output")
    assert errors(definition) == [schema("/States/M/ItemProcessor/States/P", message)]


def test_item_processor_cannot_declare_a_query_language() -> None:
    processor = {"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": PASS_END}}
    assert errors(machine({"M": map_state(ItemProcessor=processor)})) == [
        schema("/States/M/ItemProcessor", "Field 'QueryLanguage' is not supported")
    ]


def test_jsonata_values_where_jsonata_allows_them() -> None:
    expression = "{% $states.input.n %}"
    states = {
        "W": {"Type": "Wait", "Seconds": expression, "Next": "T"},
        "T": task(
            TimeoutSeconds=expression,
            HeartbeatSeconds=expression,
            Arguments=expression,
            Output={"a": expression},
            Assign={"v": expression},
            End=False,
            Next="M",
        ),
        "M": map_state(
            Items=expression, MaxConcurrency=expression, ToleratedFailureCount=expression, Next="F", End=False
        ),
        "F": {"Type": "Fail", "Error": expression, "Cause": expression},
    }
    del states["T"]["End"], states["M"]["End"]
    assert errors(machine(states, start="W", QueryLanguage="JSONata")) == []


def test_jsonata_expressions_are_not_values_in_jsonpath() -> None:
    state = {"Type": "Wait", "Seconds": "{% 5 %}", "End": True}
    assert errors(machine({"W": state})) == [
        schema("/States/W/Seconds", "The value for the field 'Seconds' must be an INTEGER")
    ]
    state = map_state(Items="[1]")
    assert schema(
        "/States/S/Items", "The value for the field 'Items' must be an ARRAY or a JSONata expression"
    ) in errors(machine({"S": state}, QueryLanguage="JSONata"))


# --- Choice rules ----------------------------------------------------------------------

_GOOD_OPERANDS = {
    "string": "text",
    "number": 1.5,
    "boolean": True,
    "timestamp": "2012-10-09T19:00:55Z",
    "path": "$.other",
}


def choice(*rules: dict[str, Any], language: str = "JSONPath") -> dict[str, Any]:
    return machine(
        {"C": {"Type": "Choice", "Choices": list(rules), "Default": "D"}, "D": {"Type": "Succeed"}},
        start="C",
        QueryLanguage=language,
    )


@pytest.mark.parametrize("operator", sorted(definition_model.COMPARISON_OPERATORS))
def test_every_comparison_operator_is_accepted_with_its_kind_of_value(operator: str) -> None:
    kind = definition_model.COMPARISON_OPERATORS[operator]
    assert errors(choice({"Variable": "$.x", operator: _GOOD_OPERANDS[kind], "Next": "D"})) == []


def test_there_are_all_the_comparison_operators() -> None:
    operators = definition_model.COMPARISON_OPERATORS
    assert len(operators) == 39
    assert {"StringMatches", "IsTimestamp", "TimestampGreaterThanEqualsPath", "BooleanEqualsPath"} <= set(
        operators
    )


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("StringEquals", 5, "must be a STRING"),
        ("NumericEquals", "5", "must be a NUMBER"),
        ("NumericLessThan", True, "must be a NUMBER"),
        ("BooleanEquals", "true", "must be a BOOLEAN"),
        ("IsPresent", 1, "must be a BOOLEAN"),
        ("TimestampEquals", "yesterday", "must be a valid ISO-8601 timestamp"),
        ("StringEqualsPath", "other", "must be a valid JSONPath"),
        ("NumericEqualsPath", "$.a[", "must be a valid JSONPath"),
    ],
)
def test_comparison_values_have_the_operators_type(operator: str, value: Any, expected: str) -> None:
    assert errors(choice({"Variable": "$.x", operator: value, "Next": "D"})) == [
        schema(f"/States/C/Choices[0]/{operator}", f"The value for the field '{operator}' {expected}")
    ]


def test_choice_rule_structure() -> None:
    found = errors(
        choice(
            {"Next": "D"},
            {"Variable": "$.x", "StringEquals": "a", "NumericEquals": 1, "Next": "D"},
            {"StringEquals": "a", "Next": "D"},
            {"Variable": "$.x", "And": [{"Variable": "$.y", "IsNull": False}], "Next": "D"},
            {"Not": {"Variable": "$.y", "IsNull": False, "Next": "D"}, "Next": "D"},
            {"Or": [], "Next": "D"},
            {"Variable": "$.x", "IsNull": True},
            {"And": [{"Variable": "$.a", "IsNull": True}, {"Not": {"Variable": "$.b"}}], "Next": "D"},
        )
    )
    assert found == [
        schema("/States/C/Choices[4]/Not", "Field 'Next' is not supported"),
        schema("/States/C/Choices[5]/Or", "The field 'Or' should be non-empty"),
        schema("/States/C/Choices[6]", "These fields are required: [Next]"),
        schema(
            "/States/C/Choices[0]", "One of these fields is required: [a comparison operator, And, Or, Not]"
        ),
        schema(
            "/States/C/Choices[1]/StringEquals",
            "Only one of these fields can be set: [StringEquals, NumericEquals]",
        ),
        schema("/States/C/Choices[2]", "These fields are required: [Variable]"),
        schema("/States/C/Choices[3]", "Field 'Variable' is not supported"),
        schema(
            "/States/C/Choices[7]/And[1]/Not",
            "One of these fields is required: [a comparison operator, And, Or, Not]",
        ),
    ]


def test_jsonata_choice_rules_use_condition() -> None:
    good = choice(
        {"Condition": "{% $states.input.x > 1 %}", "Next": "D"},
        {"Condition": True, "Next": "D"},
        language="JSONata",
    )
    assert errors(good) == []
    bad = choice({"Variable": "$.x", "IsPresent": True, "Next": "D"}, language="JSONata")
    assert errors(bad) == [
        schema(
            "/States/C/Choices[0]/Variable",
            only_in("JSONPath", "Variable"),
        ),
        schema(
            "/States/C/Choices[0]/IsPresent",
            only_in("JSONPath", "IsPresent"),
        ),
        schema("/States/C/Choices[0]", "These fields are required: [Condition]"),
    ]
    assert errors(choice({"Condition": "x > 1", "Next": "D"}, language="JSONata")) == [
        schema(
            "/States/C/Choices[0]/Condition",
            "The value for the field 'Condition' must be a BOOLEAN or a JSONata expression",
        )
    ]
    assert errors(choice({"Condition": True, "Next": "D"})) == [
        schema(
            "/States/C/Choices[0]/Condition",
            only_in("JSONata", "Condition"),
        )
    ]


# --- Retry and Catch -------------------------------------------------------------------


def test_a_full_retrier_and_catcher_are_accepted() -> None:
    retrier = {
        "ErrorEquals": ["States.Timeout", "Custom"],
        "IntervalSeconds": 3,
        "MaxAttempts": 0,
        "BackoffRate": 1,
        "MaxDelaySeconds": 10,
        "JitterStrategy": "FULL",
        "Comment": "c",
    }
    catcher = {"ErrorEquals": ["States.ALL"], "Next": "S", "ResultPath": "$.error", "Comment": "c"}
    assert (
        errors(machine({"S": task(Retry=[retrier, {"ErrorEquals": ["States.ALL"]}], Catch=[catcher])})) == []
    )


@pytest.mark.parametrize(
    ("retrier", "location", "message"),
    [
        ({"ErrorEquals": []}, "ErrorEquals", "The field 'ErrorEquals' should be non-empty"),
        ({}, "", "These fields are required: [ErrorEquals]"),
        (
            {"ErrorEquals": ["E", 5]},
            "ErrorEquals[1]",
            "The value for the field 'ErrorEquals[1]' must be a STRING",
        ),
        (
            {"ErrorEquals": ["E"], "IntervalSeconds": 0},
            "IntervalSeconds",
            "The value for the field 'IntervalSeconds' must be an integer between 1 and 99999999",
        ),
        (
            {"ErrorEquals": ["E"], "MaxAttempts": -1},
            "MaxAttempts",
            "The value for the field 'MaxAttempts' must be an integer between 0 and 99999999",
        ),
        (
            {"ErrorEquals": ["E"], "MaxAttempts": 1.5},
            "MaxAttempts",
            "The value for the field 'MaxAttempts' must be an INTEGER",
        ),
        (
            {"ErrorEquals": ["E"], "BackoffRate": 0.5},
            "BackoffRate",
            "The value for the field 'BackoffRate' must be greater than or equal to 1.0",
        ),
        (
            {"ErrorEquals": ["E"], "MaxDelaySeconds": 0},
            "MaxDelaySeconds",
            "The value for the field 'MaxDelaySeconds' must be an integer between 1 and 31622400",
        ),
        (
            {"ErrorEquals": ["E"], "JitterStrategy": "HALF"},
            "JitterStrategy",
            "The field 'JitterStrategy' should have one of these values: [FULL, NONE]",
        ),
    ],
)
def test_retrier_fields(retrier: dict[str, Any], location: str, message: str) -> None:
    where = "/States/S/Retry[0]" + (f"/{location}" if location else "")
    where = where.replace("/ErrorEquals[1]", "/ErrorEquals[1]")
    assert errors(machine({"S": task(Retry=[retrier])})) == [schema(where, message)]


def test_states_all_must_be_alone_and_last() -> None:
    found = errors(
        machine(
            {
                "S": task(
                    Retry=[{"ErrorEquals": ["States.ALL", "X"]}, {"ErrorEquals": ["Y"]}],
                    Catch=[{"ErrorEquals": ["States.ALL"], "Next": "S"}, {"ErrorEquals": ["Z"], "Next": "S"}],
                )
            }
        )
    )
    assert found == [
        schema("/States/S/Retry[0]/ErrorEquals", "'States.ALL' must appear alone in the field 'ErrorEquals'"),
        schema("/States/S/Retry[0]", "'States.ALL' must appear in the last entry of the field 'Retry'"),
        schema("/States/S/Catch[0]", "'States.ALL' must appear in the last entry of the field 'Catch'"),
    ]


def test_catcher_fields() -> None:
    catch = [
        {"ErrorEquals": ["E"], "ResultPath": "$.a[*]", "Extra": 1},
        {"ErrorEquals": ["E"], "Next": "S", "Output": 1},
    ]
    assert errors(machine({"S": task(Catch=catch)})) == [
        schema(
            "/States/S/Catch[1]/Output",
            only_in("JSONata", "Output"),
        ),
        schema("/States/S/Catch[0]", "These fields are required: [Next]"),
        schema(
            "/States/S/Catch[0]/ResultPath",
            "The value for the field 'ResultPath' must be a valid ReferencePath",
        ),
        schema("/States/S/Catch[0]", "Field 'Extra' is not supported"),
    ]


# --- Task ------------------------------------------------------------------------------


def test_task_timeouts() -> None:
    assert errors(machine({"S": task(TimeoutSeconds=0)})) == [
        schema(
            "/States/S/TimeoutSeconds",
            "The value for the field 'TimeoutSeconds' must be an integer between 1 and 99999999",
        )
    ]
    assert errors(machine({"S": task(TimeoutSeconds=10, HeartbeatSeconds=10)})) == [
        schema(
            "/States/S/HeartbeatSeconds",
            "The value for the field 'HeartbeatSeconds' must be smaller than the value "
            "for the field 'TimeoutSeconds'",
        )
    ]
    assert errors(machine({"S": task(TimeoutSeconds=10, HeartbeatSeconds=9)})) == []
    assert errors(
        machine({"S": task(TimeoutSeconds=10, TimeoutSecondsPath="$.t", HeartbeatSecondsPath="$.h[*]")})
    ) == [
        schema(
            "/States/S/HeartbeatSecondsPath",
            "The value for the field 'HeartbeatSecondsPath' must be a valid ReferencePath",
        ),
        schema(
            "/States/S/TimeoutSeconds",
            "Only one of these fields can be set: [TimeoutSeconds, TimeoutSecondsPath]",
        ),
    ]


def test_task_resource_must_be_an_arn() -> None:
    # AWS's wording for a resource it does not recognise.
    assert errors(machine({"S": task(Resource="my-function")})) == [
        schema(
            "/States/S/Resource",
            "The resource provided my-function is not recognized. The value is not a valid resource ARN, "
            "or the resource is not available in this region.",
        )
    ]


def test_task_credentials() -> None:
    assert errors(machine({"S": task(Credentials={"RoleArn.$": "$.role"})})) == []
    assert errors(machine({"S": task(Credentials={"Role": "x"})})) == [
        schema("/States/S/Credentials", "Field 'Role' is not supported"),
        schema("/States/S/Credentials", "These fields are required: [RoleArn]"),
    ]


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        # Recorded on AWS (the trailing space is AWS's).
        (
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Express state machine does not support '.waitForTaskToken' service integration ",
        ),
        (
            "arn:aws:states:::states:startExecution.sync:2",
            "Express state machine does not support '.sync:2' service integration ",
        ),
        (
            "arn:aws:states:us-east-1:123456789012:activity:work",
            "Express state machine does not support Activity ARN",
        ),
    ],
)
def test_express_workflows_refuse_waiting_integrations(resource: str, message: str) -> None:
    definition = machine({"S": task(Resource=resource)})
    assert errors(definition) == []
    assert errors(definition, state_machine_type="EXPRESS") == [schema("/States/S/Resource", message)]


# --- Map and Parallel -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "location", "message"),
    [
        (
            {"MaxConcurrency": 2, "MaxConcurrencyPath": "$.limit"},
            "MaxConcurrency",
            "Only one of these fields can be set: [MaxConcurrency, MaxConcurrencyPath]",
        ),
        (
            {"ItemSelector": {}, "Parameters": {}},
            "ItemSelector",
            "Only one of these fields can be set: [ItemSelector, Parameters]",
        ),
        (
            {"ToleratedFailureCount": 1, "ToleratedFailureCountPath": "$.n"},
            "ToleratedFailureCount",
            "Only one of these fields can be set: [ToleratedFailureCount, ToleratedFailureCountPath]",
        ),
        (
            {"ToleratedFailurePercentage": 101},
            "ToleratedFailurePercentage",
            "The value for the field 'ToleratedFailurePercentage' must be between 0 and 100",
        ),
        (
            {"MaxConcurrencyPath": "$.limits[*]"},
            "MaxConcurrencyPath",
            "The value for the field 'MaxConcurrencyPath' must be a valid ReferencePath",
        ),
        (
            {"Iterator": {"StartAt": "I", "States": {"I": PASS_END}}},
            "ItemProcessor",
            "Only one of these fields can be set: [ItemProcessor, Iterator]",
        ),
        (
            {"Label": "has space"},
            "Label",
            "The value for the field 'Label' must be at most 40 characters, without whitespace, "
            "brackets, wildcards, special or control characters",
        ),
    ],
)
def test_map_fields(fields: dict[str, Any], location: str, message: str) -> None:
    assert schema(f"/States/M/{location}", message) in errors(machine({"M": map_state(**fields)}))


def test_map_accepts_large_max_concurrency_and_the_legacy_iterator() -> None:
    assert errors(machine({"M": map_state(MaxConcurrency=9223372036854775807)})) == []
    legacy = {
        "Type": "Map",
        "Iterator": machine({"I": PASS_END}),
        "ItemsPath": "$.items",
        "Parameters": {"v.$": "$$.Map.Item.Value"},
        "End": True,
    }
    assert errors(machine({"M": legacy})) == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"Mode": "PARALLEL"}, "The field 'Mode' should have one of these values: [INLINE, DISTRIBUTED]"),
        ({"Mode": "INLINE", "ExecutionType": "STANDARD"}, "Field 'ExecutionType' is not supported"),
        ({"Mode": "DISTRIBUTED"}, "These fields are required: [ExecutionType]"),
        (
            {"Mode": "DISTRIBUTED", "ExecutionType": "FAST"},
            "The field 'ExecutionType' should have one of these values: [STANDARD, EXPRESS]",
        ),
    ],
)
def test_processor_config(config: dict[str, Any], message: str) -> None:
    processor = {"ProcessorConfig": config, "StartAt": "P", "States": {"P": PASS_END}}
    [(_, location, found)] = errors(machine({"M": map_state(ItemProcessor=processor)}))
    assert found == message and location.startswith("/States/M/ItemProcessor/ProcessorConfig")


def distributed(**fields: Any) -> dict[str, Any]:
    processor = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
        "StartAt": "P",
        "States": {"P": PASS_END},
    }
    return machine({"M": map_state(ItemProcessor=processor, **fields)})


def test_distributed_map_reader_batcher_writer() -> None:
    good = distributed(
        ItemReader={
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "MaxItems": 10},
            "Parameters": {"Bucket": "b", "Key": "k"},
        },
        ItemBatcher={"MaxItemsPerBatch": 5, "BatchInput": {"run.$": "$$.Execution.Id"}},
        ResultWriter={
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": "b", "Prefix": "p"},
            "WriterConfig": {"Transformation": "FLATTEN", "OutputType": "JSONL"},
        },
        Label="Fanout",
        ToleratedFailurePercentage=5.5,
    )
    assert errors(good) == []
    bad = distributed(
        ItemReader={
            "Resource": "arn:aws:states:::s3:unknownOperation",
            "ReaderConfig": {"InputType": "UNSUPPORTED", "MaxItems": 1, "MaxItemsPath": "$.m"},
        },
        ItemBatcher={"BatchInput": {}},
        ResultWriter={
            "Resource": "arn:aws:states:::s3:putObject",
            "WriterConfig": {"Transformation": "COMPACT"},
        },
    )
    assert errors(bad) == [
        schema(
            "/States/M/ItemReader/Resource",
            "The value for the field 'Resource' must be one of the supported resources: "
            "[arn:aws:states:::s3:getObject, arn:aws:states:::s3:listObjectsV2]",
        ),
        schema(
            "/States/M/ItemReader/ReaderConfig/InputType",
            "The field 'InputType' should have one of these values: [CSV, JSON, JSONL, MANIFEST, PARQUET]",
        ),
        schema("/States/M/ResultWriter/WriterConfig", "These fields are required: [OutputType]"),
        schema(
            "/States/M/ItemReader/ReaderConfig/MaxItems",
            "Only one of these fields can be set: [MaxItems, MaxItemsPath]",
        ),
        schema(
            "/States/M/ItemBatcher",
            "One of these fields is required: [MaxItemsPerBatch, MaxItemsPerBatchPath, "
            "MaxInputBytesPerBatch, MaxInputBytesPerBatchPath]",
        ),
        schema("/States/M/ResultWriter", "These fields are required: [Parameters]"),
    ]
    assert errors(distributed(ResultWriter={})) == [
        schema("/States/M/ResultWriter", "One of these fields is required: [Resource, WriterConfig]")
    ]


def test_result_writer_arguments_belong_to_jsonata() -> None:
    writer = {
        "Resource": "arn:aws:states:::s3:putObject",
        "Parameters": {"Bucket": "b"},
        "Arguments": {"Bucket": "x"},
    }
    assert errors(distributed(ResultWriter=writer)) == [
        schema(
            "/States/M/ResultWriter/Arguments",
            only_in("JSONata", "Arguments"),
        )
    ]


def test_parallel_branches_are_validated_recursively() -> None:
    branches = [machine({"A": PASS_END}), machine({"B": {"Type": "Wait", "End": True}})]
    assert errors(machine({"P": {"Type": "Parallel", "Branches": branches, "End": True}})) == [
        schema(
            "/States/P/Branches[1]/States/B",
            "One of these fields is required: [Seconds, Timestamp, SecondsPath, TimestampPath]",
        )
    ]


# --- paths, payload templates and intrinsic functions ------------------------------------


def test_path_fields() -> None:
    state = {
        "Type": "Pass",
        "InputPath": "$$.Execution.Input",
        "OutputPath": None,
        "ResultPath": "$.result['a b'][0]",
        "Parameters": {
            "a.$": "$myVariable.items[0]",
            "b.$": "States.Format('{}', $.x)",
            "n": {"c.$": "$$.State.Name"},
        },
        "End": True,
    }
    assert errors(machine({"S": state})) == []
    bad = {"Type": "Pass", "InputPath": "x", "ResultPath": "$$.Execution", "End": True}
    assert errors(machine({"S": bad})) == [
        schema("/States/S/InputPath", "The value for the field 'InputPath' must be a valid JSONPath"),
        schema("/States/S/ResultPath", "The value for the field 'ResultPath' must be a valid ReferencePath"),
    ]


@pytest.mark.parametrize(
    "value", ["not a path", "$.a[", "States.Format('{}'", "States.NoSuchFunction($.a)", 5]
)
def test_dynamic_fields_need_a_path_or_an_intrinsic(value: Any) -> None:
    state = {"Type": "Pass", "Parameters": {"outer": [{"x.$": value}]}, "End": True}
    assert errors(machine({"S": state})) == [
        schema(
            "/States/S/Parameters/outer[0]/x.$",
            "The value for the field 'x.$' must be a valid JSONPath or a valid intrinsic function call",
        )
    ]


def test_templates_are_checked_wherever_jsonpath_evaluates_them() -> None:
    bad = {"v.$": "nope"}
    states = {
        "T": task(
            ResultSelector=bad,
            Assign=bad,
            Catch=[{"ErrorEquals": ["E"], "Next": "C", "Assign": bad}],
            End=False,
            Next="C",
        ),
        "C": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.x", "IsNull": True, "Next": "T", "Assign": bad}],
            "Default": "M",
        },
        "M": map_state(ItemSelector=bad),
    }
    del states["T"]["End"]
    found = {location for _, location, _ in errors(machine(states, start="T"))}
    assert found == {
        "/States/T/ResultSelector/v.$",
        "/States/T/Assign/v.$",
        "/States/T/Catch[0]/Assign/v.$",
        "/States/C/Choices[0]/Assign/v.$",
        "/States/M/ItemSelector/v.$",
    }


def test_warnings_do_not_make_a_definition_invalid() -> None:
    definition = machine(
        {
            "P": {
                "Type": "Pass",
                "Result": {"a.$": "$.x"},
                "Parameters": {"b": "$.y", "c": "States.UUID()"},
                "Next": "F",
            },
            "F": {"Type": "Fail", "Error": "$.error", "Cause": "plain"},
        },
        start="P",
    )
    assert warnings(definition) == [
        ("NO_DOLLAR", "/States/P/Parameters/b"),
        ("NO_DOLLAR", "/States/P/Parameters/c"),
        ("PASS_RESULT_IS_STATIC", "/States/P/Result"),
        ("NO_PATH", "/States/F/Error"),
    ]
    assert errors(definition) == []
    assert (
        invalid_definition_message(validate_definition(definition)) == "Invalid State Machine Definition: ''"
    )


# --- JSONata expressions -----------------------------------------------------------------


def test_jsonata_expressions_must_parse() -> None:
    states = {
        "P": {"Type": "Pass", "Output": {"v": "{% a[1,2) %}", "ok": "{% $states.input.a %}"}, "Next": "C"},
        "C": {"Type": "Choice", "Choices": [{"Condition": "{% 1 + %}", "Next": "P"}], "Default": "E"},
        "E": {"Type": "Succeed"},
    }
    found = errors(machine(states, start="P", QueryLanguage="JSONata"))
    assert [(code, location) for code, location, _ in found] == [
        ("INVALID_JSONATA_EXPRESSION", "/States/P/Output/v"),
        ("INVALID_JSONATA_EXPRESSION", "/States/C/Choices[0]/Condition"),
    ]
    assert found[0][2].startswith(
        "The JSONata expression '{% a[1,2) %}' specified for the field 'Output/v' is invalid: "
    )


# --- the InvalidDefinition message -----------------------------------------------------


def test_invalid_definition_message_joins_errors_like_aws() -> None:
    diagnostics = [
        Diagnostic(
            "ERROR", "MISSING_TRANSITION_TARGET", "Missing 'Next' target: pass3", "/States/pass1/Next"
        ),
        Diagnostic("WARNING", "NO_DOLLAR", "ignored", "/States/pass1"),
        Diagnostic("ERROR", "MISSING_TRANSITION_TARGET", 'State "pass2" is not reachable.', "/States/pass2"),
    ]
    # The message AWS returned for this definition (quoted in localstack/localstack#12487).
    assert invalid_definition_message(diagnostics) == (
        "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3 at "
        '/States/pass1/Next, MISSING_TRANSITION_TARGET: State "pass2" is not reachable. at /States/pass2\''
    )
    assert invalid_definition_message(validate_definition({"StartAt": "A"})) == (
        "Invalid State Machine Definition: "
        "'SCHEMA_VALIDATION_FAILED: These fields are required: [States] at /'"
    )


# --- definition substitutions ---------------------------------------------------------


def test_substitutions_are_applied_as_text_before_parsing() -> None:
    text = (
        '{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${Fn}", '
        '"TimeoutSeconds": ${T}, "End": true}}}'
    )
    assert (
        validate_definition(text, substitutions={"Fn": "arn:aws:lambda:us-east-1:1:function:f", "T": "30"})
        == []
    )
    assert errors(text, substitutions={"Fn": "arn:aws:lambda:us-east-1:1:function:f", "T": "0"}) == [
        schema(
            "/States/A/TimeoutSeconds",
            "The value for the field 'TimeoutSeconds' must be an integer between 1 and 99999999",
        )
    ]


def test_unresolved_placeholders_are_tolerated_and_reported_once() -> None:
    text = (
        '{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${Fn}", '
        '"TimeoutSeconds": ${T}, "Parameters": {"x.$": "${Fn}"}, "End": true}}}'
    )
    diagnostics = validate_definition(text, substitutions={})
    assert [(d.severity, d.code, d.location) for d in diagnostics] == [
        ("WARNING", "UNRESOLVED_PLACEHOLDER", "/States/A/Resource"),
        ("WARNING", "UNRESOLVED_PLACEHOLDER", "/States/A/TimeoutSeconds"),
    ]
    assert (
        diagnostics[0].message == "'${Fn}' has no substitution value; the fields holding it were not checked"
    )
    # Without substitution handling a placeholder is just text, which AWS would refuse.
    assert validate_definition(text)[0].code == "INVALID_JSON_DESCRIPTION"


def test_substitutions_in_an_already_parsed_definition() -> None:
    definition = machine({"A": task(Resource="${Fn}")})
    assert errors(definition) != []
    assert (
        validate_definition(definition, substitutions={"Fn": "arn:aws:lambda:us-east-1:1:function:f"}) == []
    )


def test_placeholders_inside_strings_keep_their_braces_when_quoted() -> None:
    text = (
        '{"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "cost: \\"${Price}\\"", "End": true}}}'
    )
    assert errors(text, substitutions={}) == []


# --- robustness and the AWS-recorded corpus ----------------------------------------------


def _corpus() -> list[dict[str, Any]]:
    if not CONFORMANCE.is_dir():
        pytest.skip(f"the AWS-recorded conformance corpus is not at {CONFORMANCE} (../shared is absent)")
    return [
        json.loads(path.read_text()) | {"path": str(path)} for path in sorted(CONFORMANCE.glob("*/*.json"))
    ]


@pytest.mark.conformance
def test_every_definition_aws_accepted_has_no_error() -> None:
    cases = _corpus()
    assert len(cases) > 1000
    refused = {
        case["id"]: errors(case["definition"], state_machine_type=case.get("state_machine_type", "STANDARD"))
        for case in cases
    }
    assert {case_id: found for case_id, found in refused.items() if found} == {}


_ODD_VALUES: list[Any] = [None, True, -1, 0, 1.5, "", "$", "{% %}", [], {}, [None], {"Type": 1}, "x" * 90]


def _mutations(value: Any, rng: random.Random) -> Any:
    """A copy of ``value`` with one field dropped, retyped or renamed, somewhere."""
    mutated = copy.deepcopy(value)
    node, parents = mutated, []
    while isinstance(node, dict | list) and node and rng.random() < 0.8:
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        parents.append((node, key))
        node = node[key]
    if not parents:
        return rng.choice(_ODD_VALUES)
    container, key = parents[-1]
    action = rng.randrange(3)
    if action == 0 and isinstance(container, dict):
        del container[key]
    elif action == 1 and isinstance(container, dict):
        container[f"{key}X"] = container.pop(key)
    else:
        container[key] = rng.choice(_ODD_VALUES)
    return mutated


def _rich_definitions() -> list[dict[str, Any]]:
    """Definitions that use most of the language, to break in every place."""
    jsonpath = machine(
        {
            "C": {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.a", "IsPresent": True},
                            {"Not": {"Variable": "$.b", "NumericEqualsPath": "$.c"}},
                        ],
                        "Next": "T",
                    }
                ],
                "Default": "Finish",
            },
            "T": task(
                Retry=[{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}],
                Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Finish"}],
                End=False,
                Next="M",
            ),
            "M": map_state(ItemSelector={"v.$": "$$.Map.Item.Value"}, ItemsPath="$.items", Next="W"),
            "W": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Par"},
            "Par": {
                "Type": "Parallel",
                "Branches": [machine({"B": {"Type": "Fail", "ErrorPath": "States.Format('{}', $.e)"}})],
                "Next": "Finish",
            },
            "Finish": {"Type": "Pass", "Parameters": {"x.$": "States.Array($.a, 1)"}, "End": True},
        },
        start="C",
    )
    del jsonpath["States"]["T"]["End"], jsonpath["States"]["M"]["End"]
    jsonata = machine(
        {
            "Start": {
                "Type": "Pass",
                "Output": {"v": "{% $states.input.v %}"},
                "Assign": {"n": 1},
                "Next": "D",
            },
            "D": distributed(Items="{% $states.input.items %}", ItemBatcher={"MaxItemsPerBatch": 2})[
                "States"
            ]["M"],
        },
        start="Start",
        QueryLanguage="JSONata",
    )
    return [jsonpath, jsonata]


def test_broken_definitions_never_raise() -> None:
    rng = random.Random(20240601)
    samples = _rich_definitions()
    assert [validate_definition(d) for d in samples] == [[], []]
    if CONFORMANCE.is_dir():
        samples += [case["definition"] for case in rng.sample(_corpus(), 100)]
    for definition in samples:
        for _ in range(20):
            broken = _mutations(definition, rng)
            diagnostics = validate_definition(broken)
            assert all(isinstance(d, Diagnostic) and d.severity in ("ERROR", "WARNING") for d in diagnostics)
            validate_definition(json.dumps(broken)[: rng.randrange(1, 400)])


def test_one_placeholder_grammar_for_substitution_and_validation():
    """What substitution replaces is what the validator treats as a placeholder, and only that."""
    from stepkit.asl.substitutions import has_placeholder, placeholders, substitute_known

    text = '{"a": "${Train.Arn}", "b": "${env:TOKEN}", "c": "${not a name}", "d": "${}"}'
    assert placeholders(text) == ["Train.Arn", "env:TOKEN"]
    assert substitute_known(text, {"env:TOKEN": "t"}) == text.replace("${env:TOKEN}", "t")
    assert has_placeholder("x-${Stage}") and not has_placeholder("${not a name}")
    definition = {"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "${TrainArn}", "Next": "B"},
        "B": {"Type": "Task", "Resource": "${not a name}", "End": True}}}
    found = {(d.code, d.location) for d in validate_definition(definition, substitutions={})}
    assert ("UNRESOLVED_PLACEHOLDER", "/States/A/Resource") in found
    assert not any(code == "UNRESOLVED_PLACEHOLDER" and loc == "/States/B/Resource" for code, loc in found)
    assert any(loc == "/States/B/Resource" for code, loc in found if code != "UNRESOLVED_PLACEHOLDER")
