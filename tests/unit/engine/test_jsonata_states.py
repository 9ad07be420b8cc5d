"""JSONata states and workflow variables through the whole engine."""

import pytest

from stepkit import InvalidDefinition, StateMachine, run
from stepkit.asl.validation import validate_definition


def machine(states: dict, start: str = "A", **top) -> dict:
    return {"QueryLanguage": "JSONata", "StartAt": start, "States": states, **top}


def test_output_and_assign_see_the_same_old_variables():
    definition = machine(
        {
            "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "B"},
            "B": {
                "Type": "Pass",
                "Assign": {"x": "{% $x + 1 %}", "y": "{% $x %}"},
                "Output": {"x": "{% $x %}"},
                "Next": "C",
            },
            "C": {
                "Type": "Pass",
                "Output": {"x": "{% $x %}", "y": "{% $y %}", "before": "{% $states.input.x %}"},
                "End": True,
            },
        }
    )
    assert run(definition, {}).output == {"x": 2, "y": 1, "before": 1}


def test_mixing_query_languages_per_state():
    definition = {
        "StartAt": "Path",
        "States": {
            "Path": {"Type": "Pass", "Parameters": {"n.$": "$.n"}, "Assign": {"fromPath.$": "$.n"}, "Next": "Ata"},
            "Ata": {
                "Type": "Pass",
                "QueryLanguage": "JSONata",
                "Output": "{% $states.input.n * 10 + $fromPath %}",
                "Assign": {"fromAta": "{% $states.input.n %}"},
                "Next": "Back",
            },
            "Back": {"Type": "Pass", "Parameters": {"v.$": "$", "ata.$": "$fromAta"}, "End": True},
        },
    }
    assert run(definition, {"n": 4}).output == {"v": 44, "ata": 4}


def test_map_items_item_selector_and_output():
    definition = machine(
        {
            "A": {
                "Type": "Map",
                "Items": "{% $states.input.values %}",
                "ItemSelector": {
                    "v": "{% $states.context.Map.Item.Value %}",
                    "i": "{% $states.context.Map.Item.Index %}",
                },
                "ItemProcessor": {
                    "StartAt": "P",
                    "States": {"P": {"Type": "Pass", "Output": "{% $states.input.v * $states.input.i %}", "End": True}},
                },
                "Output": "{% $sum($states.result) %}",
                "End": True,
            }
        }
    )
    assert run(definition, {"values": [5, 6, 7]}).output == 0 * 5 + 1 * 6 + 2 * 7


def test_choice_condition_and_rule_output():
    definition = machine(
        {
            "A": {
                "Type": "Choice",
                "Choices": [
                    {"Condition": "{% $states.input.n > 10 %}", "Next": "Big", "Output": {"size": "big"}},
                ],
                "Default": "Small",
                "Output": {"size": "small"},
            },
            "Big": {"Type": "Succeed"},
            "Small": {"Type": "Succeed"},
        }
    )
    assert run(definition, {"n": 11}).output == {"size": "big"}
    assert run(definition, {"n": 1}).output == {"size": "small"}


def test_condition_that_is_not_boolean_fails_with_query_evaluation_error():
    definition = machine(
        {
            "A": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.n %}", "Next": "E"}], "Default": "E"},
            "E": {"Type": "Succeed"},
        }
    )
    ex = run(definition, {"n": 3})
    assert ex.error == "States.QueryEvaluationError"
    assert "Expected 'boolean'" in ex.cause
    assert "EvaluationFailed" in ex.event_types


def test_catch_sees_error_output():
    definition = machine(
        {
            "A": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Next": "H",
                        "Output": {"err": "{% $states.errorOutput.Error %}", "in": "{% $states.input.k %}"},
                        "Assign": {"cause": "{% $states.errorOutput.Cause %}"},
                    }
                ],
                "End": True,
            },
            "H": {"Type": "Pass", "Output": {"seen": "{% $states.input %}", "cause": "{% $cause %}"}, "End": True},
        }
    )

    def fail(event):
        from stepkit.asl.errors import StatesError

        raise StatesError("Oops", "went wrong")

    ex = run(definition, {"k": "v"}, functions={"f": fail})
    assert ex.output == {"seen": {"err": "Oops", "in": "v"}, "cause": "went wrong"}


def test_undefined_output_names_the_field():
    definition = machine({"A": {"Type": "Pass", "Output": {"r": "{% $nothing %}"}, "End": True}})
    ex = run(definition, {})
    assert ex.error == "States.QueryEvaluationError"
    assert ex.cause.endswith(
        "The JSONata expression '$nothing' specified for the field 'Output/r' returned nothing (undefined)."
    )


def test_task_arguments_and_result():
    definition = machine(
        {
            "A": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": {"FunctionName": "double", "Payload": {"n": "{% $states.input.n %}"}},
                "Output": "{% $states.result.Payload %}",
                "End": True,
            }
        }
    )
    ex = run(definition, {"n": 3}, functions={"double": lambda e: e["n"] * 2})
    assert ex.output == 6


def test_wait_seconds_and_fail_fields_as_expressions():
    definition = machine(
        {
            "A": {"Type": "Wait", "Seconds": "{% $states.input.s %}", "Next": "F"},
            "F": {
                "Type": "Fail",
                "Error": "{% 'E' & $string($states.input.s) %}",
                "Cause": "{% 'waited ' & $states.input.s %}",
            },
        }
    )
    ex = run(definition, {"s": 5}, skip_waits=True)
    assert (ex.error, ex.cause) == ("E5", "waited 5")


def test_step_functions_functions_in_a_state():
    definition = machine(
        {
            "A": {
                "Type": "Pass",
                "Output": {
                    "parts": "{% $partition([1,2,3,4,5], 2) %}",
                    "range": "{% $range(0, 10, 5) %}",
                    "hash": "{% $hash('abc', 'SHA-256') %}",
                    "parsed": "{% $parse('{\"a\":1}') %}",
                    "uuid": "{% $length($uuid()) %}",
                    "random": "{% $random(7) = $random(7) %}",
                },
                "End": True,
            }
        }
    )
    out = run(definition, {}).output
    assert out["parts"] == [[1, 2], [3, 4], [5]]
    assert out["range"] == [0, 5, 10]
    assert out["hash"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert out["parsed"] == {"a": 1}
    assert out["uuid"] == 36
    assert out["random"] is True


def test_jsonata_state_may_not_use_jsonpath_fields():
    definition = machine({"A": {"Type": "Pass", "InputPath": "$.x", "End": True}})
    with pytest.raises(InvalidDefinition):
        StateMachine(definition)


def test_syntax_error_is_reported_with_its_location_before_running():
    definition = machine({"A": {"Type": "Pass", "Output": {"x": "{% $states.input.[ %}"}, "End": True}})
    problems = validate_definition(definition)
    assert any(p.location.startswith("/States/A/Output") for p in problems if p.severity == "ERROR")


def test_inner_scope_cannot_assign_an_outer_variable():
    definition = machine(
        {
            "A": {"Type": "Pass", "Assign": {"total": 0}, "Next": "M"},
            "M": {
                "Type": "Map",
                "Items": [1],
                "ItemProcessor": {
                    "StartAt": "P",
                    "States": {"P": {"Type": "Pass", "Assign": {"total": 1}, "End": True}},
                },
                "End": True,
            },
        }
    )
    ex = run(definition, {}, validate=False)
    assert ex.status == "FAILED"
    assert "outer scope" in ex.cause


def test_variable_size_limit():
    definition = machine(
        {"A": {"Type": "Pass", "Assign": {"big": "{% $join($map([1..70000], function($v){'xxxx'})) %}"}, "End": True}}
    )
    ex = run(definition, {})
    assert ex.status == "FAILED" and "over the limit" in ex.cause


def test_now_and_millis_read_the_executions_clock():
    """``$now()`` and ``$millis()`` are the execution's time: a Wait on a virtual clock moves
    them by exactly its seconds, and a manual clock fixes them."""
    from stepkit.engine.clock import ManualClock

    start = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    definition = machine(
        {
            "A": {"Type": "Pass", "Assign": {"t0": "{% $millis() %}", "iso": "{% $now() %}"}, "Next": "W"},
            "W": {"Type": "Wait", "Seconds": 3600, "Next": "B"},
            "B": {"Type": "Pass", "Output": {"t0": "{% $t0 %}", "iso": "{% $iso %}", "t1": "{% $millis() %}",
                                             "later": "{% $now() %}"}, "End": True},
        }
    )
    out = run(definition, {}, clock=ManualClock(start)).output
    assert out == {"t0": 1_700_000_000_000, "iso": "2023-11-14T22:13:20.000Z", "t1": 1_700_003_600_000,
                   "later": "2023-11-14T23:13:20.000Z"}
