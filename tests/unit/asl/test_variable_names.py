"""Variable names in ``Assign``: the developer guide's rules (page "Passing data between states
with variables"), checked by the validator as SCHEMA_VALIDATION_FAILED."""

from __future__ import annotations

from typing import Any

import pytest

from stepkit.asl.diagnostics import invalid_definition_message
from stepkit.asl.validation import validate_definition
from stepkit.asl.variable_names import (
    MAX_VARIABLE_NAME_LENGTH,
    is_id_continue,
    is_id_start,
    variable_name_problem,
)

SYNTAX = (
    "the first character of a variable name must be a Unicode ID_Start character, and the second "
    "and subsequent characters must be Unicode ID_Continue characters"
)


def pass_machine(assign: dict[str, Any], language: str = "JSONata") -> dict[str, Any]:
    return {
        "QueryLanguage": language,
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Assign": assign, "End": True}},
    }


def errors(definition: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(d.code, d.location, d.message) for d in validate_definition(definition) if d.severity == "ERROR"]


# --- "Variable name syntax": UAX #31 ID_Start then ID_Continue, at most 80 ---------------


@pytest.mark.parametrize(
    "name",
    [
        "x",
        "productName",
        "count2",
        "snake_case_name",
        "Größe",  # Unicode letters are ID_Start
        "变量",
        "café",
        "x\u0301",  # a combining mark (Mn) continues a name
        "a" * MAX_VARIABLE_NAME_LENGTH,  # the maximum length is 80
        "statesX",  # only the reserved name itself is reserved
    ],
)
def test_documented_names_are_accepted(name: str) -> None:
    assert variable_name_problem(name) is None
    assert errors(pass_machine({name: 1})) == []


@pytest.mark.parametrize(
    "name",
    [
        "x.y",  # "you cannot "Assign":{"x.y":42}"
        "x[2]",  # "or "Assign":{"x[2]":42}"
        "1x",  # a digit is ID_Continue, not ID_Start
        "_x",  # '_' is connector punctuation: ID_Continue, not ID_Start
        "$x",  # '$' is neither
        "my-var",
        "my var",
        "a\u2e2f",  # VERTICAL TILDE: a letter modifier, but Pattern_Syntax
    ],
)
def test_names_outside_uax31_are_refused(name: str) -> None:
    message = f"The variable name '{name}' is invalid: {SYNTAX}"
    assert variable_name_problem(name) == message
    assert errors(pass_machine({name: 1})) == [
        ("SCHEMA_VALIDATION_FAILED", f"/States/P/Assign/{name}", message)
    ]


@pytest.mark.parametrize("name", ["", "a" * (MAX_VARIABLE_NAME_LENGTH + 1)])
def test_length_limit(name: str) -> None:
    message = f"The variable name '{name}' must be between 1 and 80 characters long"
    assert errors(pass_machine({name: 1})) == [("SCHEMA_VALIDATION_FAILED", f"/States/P/Assign/{name}", message)]


def test_length_counts_characters_not_bytes() -> None:
    assert variable_name_problem("é" * MAX_VARIABLE_NAME_LENGTH) is None
    assert variable_name_problem("é" * (MAX_VARIABLE_NAME_LENGTH + 1)) is not None


def test_unicode_properties() -> None:
    assert is_id_start("a") and is_id_start("Ⅻ")  # Nl: letter numbers start a name
    assert is_id_start("\u2118")  # Other_ID_Start (SCRIPT CAPITAL P, a symbol by category)
    assert not is_id_start("_") and is_id_continue("_")
    assert not is_id_start("7") and is_id_continue("7")
    assert is_id_continue("\u00b7") and not is_id_start("\u00b7")  # Other_ID_Continue
    assert not is_id_continue("\u2e2f")  # Pattern_Syntax
    assert not is_id_continue("-") and not is_id_continue(".")


# --- "Reserved variable : $states" -----------------------------------------------------


@pytest.mark.parametrize("language", ["JSONata", "JSONPath"])
def test_states_is_reserved(language: str) -> None:
    key = "states.$" if language == "JSONPath" else "states"
    value = "$.x" if language == "JSONPath" else 1
    assert errors(pass_machine({key: value}, language)) == [
        (
            "SCHEMA_VALIDATION_FAILED",
            f"/States/P/Assign/{key}",
            "The variable name 'states' is invalid: '$states' is a reserved variable",
        )
    ]


def test_dollar_states_fails_the_syntax_rule() -> None:
    assert errors(pass_machine({"$states": 1}))[0][2] == f"The variable name '$states' is invalid: {SYNTAX}"


# --- which key names which variable ------------------------------------------------------


def test_jsonpath_dynamic_key_names_the_variable_without_its_suffix() -> None:
    # "Assign": {"products.$": "$.order..product"} assigns $products.
    assert errors(pass_machine({"products.$": "$.order", "x.y.$": "$.a"}, "JSONPath")) == [
        ("SCHEMA_VALIDATION_FAILED", "/States/P/Assign/x.y.$", f"The variable name 'x.y' is invalid: {SYNTAX}")
    ]


def test_jsonata_key_is_the_name_as_written() -> None:
    # JSONata has no ".$" keys: "x.$" would be a variable named "x.$".
    assert [e[1] for e in errors(pass_machine({"x.$": 1}))] == ["/States/P/Assign/x.$"]


def test_nested_objects_are_values_not_names() -> None:
    assert errors(pass_machine({"details": {"line.items": 1, "_private": 2}})) == []


# --- every Assign: the state's, a Catcher's, a Choice rule's, nested states' ---------------


def test_catch_choice_and_nested_assigns_are_checked() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% true %}", "Next": "M", "Assign": {"a.b": 1}}],
                "Default": "M",
            },
            "M": {
                "Type": "Map",
                "Items": [1],
                "ItemProcessor": {
                    "StartAt": "I",
                    "States": {"I": {"Type": "Pass", "Assign": {"1st": 1}, "End": True}},
                },
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "E", "Assign": {"states": 1}}],
                "End": True,
            },
            "E": {"Type": "Succeed"},
        },
    }
    assert [e[1] for e in errors(definition)] == [
        "/States/C/Choices[0]/Assign/a.b",
        "/States/M/Catch[0]/Assign/states",
        "/States/M/ItemProcessor/States/I/Assign/1st",
    ]


def test_create_state_machine_wording() -> None:
    diagnostics = validate_definition(pass_machine({"x.y": 1}))
    assert invalid_definition_message(diagnostics) == (
        f"Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The variable name 'x.y' is "
        f"invalid: {SYNTAX} at /States/P/Assign/x.y'"
    )


def test_unresolved_placeholder_key_is_not_checked() -> None:
    definition = pass_machine({"${Name}": 1})
    assert [d for d in validate_definition(definition, substitutions={}) if d.severity == "ERROR"] == []


# --- "Variable scope": an inner scope may not assign a name an outer scope assigns ---------


def scoped(inner_assign: dict[str, Any], outer_assign: dict[str, Any], kind: str = "Map") -> dict[str, Any]:
    inner = {"StartAt": "I", "States": {"I": {"Type": "Pass", "Assign": inner_assign, "End": True}}}
    nested: dict[str, Any] = (
        {"Type": "Map", "Items": [1], "ItemProcessor": inner}
        if kind == "Map"
        else {"Type": "Parallel", "Branches": [inner]}
    )
    return {
        "QueryLanguage": "JSONata",
        "StartAt": "Outer",
        "States": {
            "Outer": {"Type": "Pass", "Assign": outer_assign, "Next": "Nested"},
            "Nested": {**nested, "End": True},
        },
    }


def scope_message(name: str) -> str:
    return (
        f"The variable '{name}' is assigned in an outer scope: a variable assigned in an inner scope "
        "(inside a Map or Parallel state) cannot have the same name as one assigned in an outer scope"
    )


@pytest.mark.parametrize("kind", ["Map", "Parallel"])
def test_inner_scope_cannot_assign_an_outer_name(kind: str) -> None:
    where = "ItemProcessor" if kind == "Map" else "Branches[0]"
    assert errors(scoped({"myVariable": 2, "inner": 3}, {"myVariable": 1}, kind)) == [
        ("SCHEMA_VALIDATION_FAILED", f"/States/Nested/{where}/States/I/Assign/myVariable", scope_message("myVariable"))
    ]


def test_the_rule_is_static_whatever_runs_first() -> None:
    # "A variable exists in a scope if any state in the scope assigns a value to it": an
    # outer state that assigns after the Map still owns the name.
    definition = scoped({"v": 2}, {})
    definition["States"]["Nested"] = {**definition["States"]["Nested"], "End": False, "Next": "Later"}
    definition["States"]["Later"] = {"Type": "Pass", "Assign": {"v": 1}, "End": True}
    assert [e[1] for e in errors(definition)] == ["/States/Nested/ItemProcessor/States/I/Assign/v"]


def test_a_map_catch_assigns_in_the_outer_scope() -> None:
    definition = scoped({"fromInner": 2}, {})
    definition["States"]["Nested"]["Catch"] = [
        {"ErrorEquals": ["States.ALL"], "Next": "Done", "Assign": {"fromInner": 0}}
    ]
    definition["States"]["Done"] = {"Type": "Succeed"}
    assert [e[1] for e in errors(definition)] == ["/States/Nested/ItemProcessor/States/I/Assign/fromInner"]


def test_reading_outer_variables_and_sibling_scopes_are_allowed() -> None:
    definition = scoped({"total": "{% $outer + 1 %}"}, {"outer": 1}, "Parallel")
    definition["States"]["Nested"]["Branches"].append(
        {"StartAt": "J", "States": {"J": {"Type": "Pass", "Assign": {"total": 5}, "End": True}}}
    )
    assert errors(definition) == []


def test_nested_scopes_see_every_enclosing_scope() -> None:
    definition = scoped({}, {"top": 1})
    definition["States"]["Nested"]["ItemProcessor"]["States"]["I"] = {
        "Type": "Parallel",
        "Assign": {"middle": 1},
        "Branches": [
            {"StartAt": "D", "States": {"D": {"Type": "Pass", "Assign": {"top": 2, "middle": 3}, "End": True}}}
        ],
        "End": True,
    }
    assert [e[1] for e in errors(definition)] == [
        "/States/Nested/ItemProcessor/States/I/Branches[0]/States/D/Assign/top",
        "/States/Nested/ItemProcessor/States/I/Branches[0]/States/D/Assign/middle",
    ]


def test_jsonpath_scope_names_drop_the_suffix() -> None:
    definition = scoped({"v.$": "$.x"}, {"v": 1})
    definition["QueryLanguage"] = "JSONPath"
    definition["States"]["Nested"] = {
        "Type": "Map",
        "ItemProcessor": definition["States"]["Nested"]["ItemProcessor"],
        "End": True,
    }
    assert [e[1] for e in errors(definition)] == ["/States/Nested/ItemProcessor/States/I/Assign/v.$"]
