"""JSONata as Step Functions evaluates it: stepkit.asl.jsonata and its functions."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from jsonata import Jsonata
from jsonata.jexception import JException

from stepkit.asl.jsonata import (
    UNDEFINED,
    CompiledTemplate,
    Expression,
    JsonataEvaluationError,
    JsonataSyntaxError,
    compile_expression,
    compile_template,
    is_expression,
)
from stepkit.asl.jsonata_functions import JavaRandom, js_number

STATES: dict[str, Any] = {"input": {}, "context": {}}


def evaluate(text: str, states: dict[str, Any] | None = None, variables: dict[str, Any] | None = None) -> Any:
    return compile_expression(text).evaluate(states if states is not None else STATES, variables)


def failure(text: str, states: dict[str, Any] | None = None, variables: dict[str, Any] | None = None) -> str:
    """The reason ('CODE: message') an expression fails with."""
    with pytest.raises(JsonataEvaluationError) as caught:
        evaluate(text, states, variables)
    assert caught.value.kind == JsonataEvaluationError.FAILED
    assert caught.value.reason is not None
    return caught.value.reason


def exact(value: Any) -> str:
    """A rendering that tells 1 from 1.0 and True from 1."""
    return json.dumps(value, sort_keys=True)


# --- is_expression ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{% $x %}", True),
        ("{%$x%}", True),
        ("{% %}", True),
        ("{%%}", True),
        (" {% $x %}", False),
        ("{% $x %} ", False),
        (" {% states.input %} ", False),
        ("{%}", False),
        ("{% $x", False),
        ("$x %}", False),
        ("$states.input", False),
        (42, False),
        (None, False),
        (["{% $x %}"], False),
    ],
)
def test_is_expression_follows_the_exact_delimiter_rule(value: Any, expected: bool) -> None:
    assert is_expression(value) is expected


# --- compiling -------------------------------------------------------------------------------


def test_compile_is_memoised_and_quotes_the_trimmed_source() -> None:
    first = compile_expression("{%   $states.input.a  %}")
    assert compile_expression("{%   $states.input.a  %}") is first
    assert isinstance(first, Expression)
    assert first.source == "$states.input.a"
    assert first.text == "{%   $states.input.a  %}"


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("{% 1 + %}", "S0207", "Unexpected end of expression"),
        ("{% %}", "S0207", "Unexpected end of expression"),
        ("{% a[1,2) %}", "S0202", 'Expected "]", got ","'),
        ('{% "unterminated %}', "S0101", "String literal must be terminated by a matching quote"),
        ('{% {"a":} %}', "S0211", 'The symbol "}" cannot be used as a unary operator'),
        ("{% $x := %}", "S0207", "Unexpected end of expression"),
        ('{% $match("a", /abc %}', "S0302", "No terminating / in regular expression"),
        ("{% 'a\\q' %}", "S0103", 'Unsupported escape sequence: \\"q"'),
        ("{% 1e400 %}", "S0102", 'Number out of range: "1e400"'),
        ("{% 1 2 %}", "S0201", "Syntax error: 2"),
    ],
)
def test_syntax_errors_carry_jsonatas_code_and_message(text: str, code: str, message: str) -> None:
    with pytest.raises(JsonataSyntaxError) as caught:
        compile_expression(text)
    assert caught.value.code == code
    assert str(caught.value) == message
    assert caught.value.source == text[2:-2].strip()
    assert caught.value.position >= 0
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("body", "reference"),
    [
        ("phone", "phone"),
        ("a.b", "a"),
        ("$count(items)", "items"),
        ("{'k': v}", "v"),
        ("$exists($states.input.a) ? a : 1", "a"),
        ("'a' & b", "b"),
        ("$", "$"),
        ("$.a", "$"),
        ("$[0]", "$"),
        ("$$", "$$"),
        ("$states.input.items[price > $$.min]", "$$"),
        ("$map($states.input, function($v){ $$ })", "$$"),
    ],
)
def test_reading_the_top_level_context_is_refused_as_aws_refuses_it(body: str, reference: str) -> None:
    with pytest.raises(JsonataSyntaxError) as caught:
        compile_expression("{% " + body + " %}")
    assert caught.value.diagnostic == JsonataSyntaxError.UNSUPPORTED
    assert str(caught.value) == f"Reference to '{reference}' at the top level is not supported."


@pytest.mark.parametrize(
    "body",
    [
        "$states.input.items[price > 1].name",
        "$states.input.items[$.price > 1]",
        "$states.input.(a + b)",
        "$states.input{type: price}",
        "$states.input^(name)",
        "$map($states.input.items, function($v){ $v.name & name })",
        "$states.input ~> |a|{'b': c}|",
        "$x.$",
        "{'k': 1, 'j': $states.input}",
    ],
)
def test_names_in_nested_contexts_are_allowed(body: str) -> None:
    assert isinstance(compile_expression("{% " + body + " %}"), Expression)


def test_a_syntax_error_is_an_invalid_expression() -> None:
    with pytest.raises(JsonataSyntaxError) as caught:
        compile_expression("{% 1 + %}")
    assert caught.value.diagnostic == JsonataSyntaxError.INVALID == "INVALID_JSONATA_EXPRESSION"


def test_compiling_a_plain_string_is_refused() -> None:
    with pytest.raises(JsonataSyntaxError, match="must start with"):
        compile_expression("$states.input")


# --- values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{% 1 + 2 %}", 3),
        ("{% 3 / 2 %}", 1.5),
        ("{% 6 / 2 %}", 3),
        ("{% 2.5 * 2 %}", 5),
        ("{% 0.1 + 0.2 %}", 0.30000000000000004),
        ("{% 5.5 % 2 %}", 1.5),
        ("{% -7 % 3 %}", -1),
        ("{% 1 / 0 %}", "Infinity"),
        ("{% -1 / 0 %}", "-Infinity"),
        ("{% 0 / 0 %}", "NaN"),
        ("{% 1e18 %}", 1000000000000000000),
        ("{% 1e20 %}", 1e20),
        ("{% 1e19 * 10 %}", 1e20),
        ("{% 'a' & 'b' %}", "ab"),
        ("{% true and false %}", False),
        ("{% null %}", None),
        ("{% [1, null, 'x'] %}", [1, None, "x"]),
        ("{% {'a': null, 'b': [true]} %}", {"a": None, "b": [True]}),
        ("{% [1..3] %}", [1, 2, 3]),
        ("{% $count([1..3]) %}", 3),
        ("{% $nothing %}", UNDEFINED),
        ("{% {'a': $nothing} %}", {}),
        ("{% [$nothing] %}", []),
        ("{% $sum %}", UNDEFINED),
        ("{% [$sum, 1] %}", [None, 1]),
        ("{% {'f': $sum, 'g': 1} %}", {"g": 1}),
        ("{% $y := 3 %}", 3),
        ("{% ($a := 2; $a * $a) %}", 4),
    ],
)
def test_values_come_back_as_aws_writes_them(text: str, expected: Any) -> None:
    result = evaluate(text)
    if expected is UNDEFINED:
        assert result is UNDEFINED
    else:
        assert exact(result) == exact(expected)


def test_whole_numbers_from_the_input_are_ints_and_huge_ones_floats() -> None:
    states = {"input": {"f": 1.0, "big": 2**63, "long": 2**63 - 1, "list": [2.0, 2.5]}}
    result = evaluate("{% $states.input %}", states)
    assert exact(result) == exact({"f": 1, "big": 9.223372036854776e18, "long": 2**63 - 1, "list": [2, 2.5]})


def test_the_result_is_plain_json_and_never_the_caller_s_objects() -> None:
    states = {"input": {"items": [{"id": 1}, {"id": 2}]}}
    result = evaluate("{% $states.input.items %}", states)
    assert result == [{"id": 1}, {"id": 2}]
    assert type(result) is list and all(type(item) is dict for item in result)
    result[0]["id"] = 99
    assert states["input"]["items"][0]["id"] == 1
    mapped = evaluate("{% $states.input.items.id %}", states)
    assert type(mapped) is list and mapped == [1, 2]


def test_undefined_is_a_falsy_singleton() -> None:
    assert not UNDEFINED
    assert repr(UNDEFINED) == "UNDEFINED"
    assert evaluate("{% $states.input.missing %}", {"input": {"a": 1}}) is UNDEFINED


# --- $states and variables -------------------------------------------------------------------


def test_states_and_variables_are_bound() -> None:
    states = {
        "input": {"a": 2},
        "context": {"Execution": {"Name": "run-1"}},
        "result": {"Payload": [1, 2]},
        "errorOutput": {"Error": "E", "Cause": "c"},
    }
    variables = {"total": 40, "name": "x"}
    assert evaluate("{% $states.input.a + $total %}", states, variables) == 42
    assert evaluate("{% $states.context.Execution.Name %}", states) == "run-1"
    assert evaluate("{% $sum($states.result.Payload) %}", states) == 3
    assert evaluate("{% $states.errorOutput.Error & ':' & $name %}", states, variables) == "E:x"
    assert evaluate("{% $keys($states) %}", states) == ["input", "context", "result", "errorOutput"]


def test_states_wins_over_a_variable_named_states_and_variables_shadow_functions() -> None:
    states = {"input": {"a": 1}}
    assert evaluate("{% $states.input.a %}", states, {"states": {"input": {"a": 2}}}) == 1
    assert evaluate("{% $sum %}", states, {"sum": 5}) == 5


def test_bindings_do_not_leak_between_evaluations() -> None:
    expression = compile_expression("{% ($seen := $exists($counter); $counter := 1; $seen) %}")
    assert expression.evaluate(STATES, {}) is False
    assert expression.evaluate(STATES, {}) is False


def test_evaluation_does_not_modify_its_inputs() -> None:
    states = {"input": {"list": [1, None, [None]], "n": None}}
    variables = {"v": [None, {"k": None}]}
    snapshot = json.dumps([states, variables])
    evaluate("{% [$states.input.list, $v, $map($v, function($x){$x})] %}", states, variables)
    evaluate("{% $states.input.* %}", states)
    assert json.dumps([states, variables]) == snapshot


# --- JSON null is JSONata's null, not undefined ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{% $n %}", None),
        ("{% $exists($n) %}", True),
        ("{% $type($n) %}", "null"),
        ("{% $n = null %}", True),
        ("{% {'a': $n} %}", {"a": None}),
        ("{% $map($x, function($v){$type($v)}) %}", ["number", "null", "number"]),
        ("{% $x[$ = null] %}", None),
        ("{% $x.($type($)) %}", ["number", "null", "number"]),
        ("{% $count($filter($x, function($v){$v = null})) %}", 1),
        ("{% $reduce($x, function($a, $b){$a & $type($b)}, '') %}", "numbernullnumber"),
        ("{% $nested[0] ~> $map(function($v){$type($v)}) %}", ["null", "number"]),
        ("{% $each($o, function($v){$type($v)}) %}", ["null", "number", "array"]),
        ("{% $sift($o, function($v){$v = null}) %}", {"k": None}),
        ("{% $o.* ~> $map(function($v){$type($v)}) %}", ["null", "number", "null"]),
        ("{% $lookup($o, 'l') ~> $map(function($v){$type($v)}) %}", "null"),
        ("{% $count(null) %}", 1),
        ("{% $count($n) %}", 1),
        ("{% $states.input.list ~> $map(function($v){$type($v)}) %}", ["null", "string"]),
        ("{% $states.input.rows.cells ~> $map(function($v){$type($v)}) %}", ["null", "number"]),
    ],
)
def test_json_null_is_null_inside_expressions(text: str, expected: Any) -> None:
    states = {"input": {"list": [None, "s"], "rows": [{"cells": [None]}, {"cells": [1]}]}}
    variables = {
        "n": None,
        "x": [1, None, 2],
        "nested": [[None, 1]],
        "o": {"k": None, "j": 1, "l": [None]},
    }
    assert exact(evaluate(text, states, variables)) == exact(expected)


# --- Step Functions' functions ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{% $partition([1,2,3,4,5], 2) %}", [[1, 2], [3, 4], [5]]),
        ("{% $partition([0], 1) %}", [[0]]),
        ("{% $partition([0, 1], 5) %}", [[0, 1]]),
        ("{% $partition([1,2,3], 2.9) %}", [[1, 2], [3]]),
        ("{% $partition([1,2,3]) %}", [[1, 2, 3]]),
        ("{% $partition([1,2,3], 0) %}", UNDEFINED),
        ("{% $partition([1,2,3], -0.5) %}", UNDEFINED),
        ("{% $partition([], 2) %}", UNDEFINED),
        ("{% $partition($nothing, 2) %}", UNDEFINED),
        ("{% $range(0, 10, 2) %}", [0, 2, 4, 6, 8, 10]),
        ("{% $range(0, 9, 3) %}", [0, 3, 6, 9]),
        ("{% $range(0, 10, 3) %}", [0, 3, 6, 9]),
        ("{% $range(1, 9, 2) %}", [1, 3, 5, 7, 9]),
        ("{% $range(1, 9, 9) %}", 1),
        ("{% [$range(1, 9, 9)] %}", [1]),
        ("{% $range(5, 5, 1) %}", 5),
        ("{% $range(10, 0, -4) %}", [10, 6, 2]),
        ("{% $range(1.9, 4.7, 1.5) %}", [1, 2, 3, 4]),
        ("{% $range(-2.5, 0, 1) %}", [-2, -1, 0]),
        ("{% $range(0, 10, 0) %}", UNDEFINED),
        ("{% $range(0, 10, -1) %}", UNDEFINED),
        ("{% $range(10, 0, 1) %}", UNDEFINED),
        ("{% $range(0, 10) %}", UNDEFINED),
        ("{% $uuid() = $uuid() %}", False),
        ("{% $parse('-0') %}", 0),
        ("{% $parse('1.1') %}", 1.1),
        ("{% $parse('1.0') %}", 1),
        ("{% $parse('true') %}", True),
        ("{% $parse('null') %}", None),
        ("{% $parse('\"HelloWorld\"') %}", "HelloWorld"),
        ('{% $parse(\'{"Arg1": 1, "Arg2": []}\') %}', {"Arg1": 1, "Arg2": []}),
        ("{% $parse('[1, null]') ~> $map(function($v){$type($v)}) %}", ["number", "null"]),
        ("{% $parse($nothing) %}", UNDEFINED),
        ("{% $hash('abc', $nothing) %}", UNDEFINED),
    ],
)
def test_step_functions_functions(text: str, expected: Any) -> None:
    result = evaluate(text)
    if expected is UNDEFINED:
        assert result is UNDEFINED
    else:
        assert exact(result) == exact(expected)


@pytest.mark.parametrize(
    ("algorithm", "name"),
    [("MD5", "md5"), ("SHA-1", "sha1"), ("SHA-256", "sha256"), ("SHA-384", "sha384"), ("SHA-512", "sha512")],
)
def test_hash_is_the_hex_digest_of_the_utf8_bytes(algorithm: str, name: str) -> None:
    text = "héllo wörld"
    expected = hashlib.new(name, text.encode("utf-8")).hexdigest()
    assert evaluate(f"{{% $hash($states.input.t, '{algorithm}') %}}", {"input": {"t": text}}) == expected


def test_seeded_random_is_java_util_random() -> None:
    # new java.util.Random(seed).nextDouble(), as the JDK computes it.
    assert JavaRandom(0).next_double() == 0.730967787376657
    assert JavaRandom(42).next_double() == 0.7275636800328681
    assert evaluate("{% $random(42) %}") == 0.7275636800328681
    assert evaluate("{% $random(42.9) %}") == evaluate("{% $random(42) %}")
    assert evaluate("{% $random(-1.5) %}") == JavaRandom(-1).next_double()
    assert evaluate("{% $random($states.input.seed) %}", {"input": {"seed": 7}}) == JavaRandom(7).next_double()


def test_unseeded_random_is_in_the_unit_interval() -> None:
    values = {evaluate("{% $random() %}") for _ in range(50)}
    assert all(isinstance(value, float) and 0 <= value < 1 for value in values)
    assert len(values) > 1


def test_uuid_is_version_4() -> None:
    value = evaluate("{% $uuid() %}")
    assert uuid.UUID(value).version == 4
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "{% $partition('a', 2) %}",
            'T0412: Argument 1 of function "partition" must be an array of undefined',
        ),
        (
            "{% $partition([1], 'x') %}",
            'T0410: Argument 2 of function "partition" does not match function signature',
        ),
        ("{% $partition([1], -2) %}", "D3137: Second argument must be zero or greater"),
        (
            "{% $partition([1], 1, 1) %}",
            'T0410: Argument 3 of function "partition" does not match function signature',
        ),
        (
            "{% $range('a', 2, 1) %}",
            'T0410: Argument 1 of function "range" does not match function signature',
        ),
        (
            "{% $range(1, $nothing, 1) %}",
            'T0410: Argument 2 of function "range" does not match function signature',
        ),
        (
            "{% $range(1, 2, true) %}",
            'T0410: Argument 3 of function "range" does not match function signature',
        ),
        (
            "{% $range(1, 2, 1, 1) %}",
            'T0410: Argument 4 of function "range" does not match function signature',
        ),
        ("{% $hash(1, 'MD5') %}", 'T0410: Argument 1 of function "hash" does not match function signature'),
        ("{% $hash('a', 5) %}", 'T0410: Argument 2 of function "hash" does not match function signature'),
        (
            "{% $hash('a', 'sha256') %}",
            "D3137: Hash algorithm 'sha256' must be one of SHA-1, SHA-384, SHA-256, SHA-512, MD5",
        ),
        ("{% $random('a') %}", 'T0410: Argument 1 of function "random" does not match function signature'),
        ("{% $random(1, 2) %}", 'T0410: Argument 2 of function "random" does not match function signature'),
        ("{% $uuid(1) %}", 'T0410: Argument 1 of function "uuid" does not match function signature'),
        ("{% $parse(1) %}", 'T0410: Argument 1 of function "parse" does not match function signature'),
        ("{% $parse('{') %}", "D3137: Invalid JSON"),
        ("{% $parse('') %}", "D3137: Invalid JSON"),
        ("{% $parse('1 2') %}", "D3137: Invalid JSON"),
        ("{% $parse('NaN') %}", "D3137: Invalid JSON"),
        ('{% $parse(\'{"a": 1, "a": 2}\') %}', "D3137: Invalid JSON"),
        ("{% $parse('x', 1) %}", 'T0410: Argument 2 of function "parse" does not match function signature'),
        ("{% $eval('1 + 1') %}", "T1006: Attempted to invoke a non-function"),
    ],
)
def test_function_argument_errors_read_as_aws_writes_them(text: str, reason: str) -> None:
    assert failure(text) == reason


# --- JSONata's own functions where jsonata-python answers differently ------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{% $string(1e20) %}", "100000000000000000000"),
        ("{% $string(1e21) %}", "1e+21"),
        ("{% $string(1/3) %}", "0.333333333333333"),
        ("{% $string([0.1 + 0.2, 1e-7]) %}", "[0.3,1e-7]"),
        ("{% $string({'a': [1, null, true], 'b': 'q\"'}) %}", '{"a":[1,null,true],"b":"q\\""}'),
        ("{% $string({'a': [1]}, true) %}", '{\n  "a": [\n    1\n  ]\n}'),
        ("{% $string({'f': $sum}) %}", '{"f":""}'),
        ("{% $string('x') %}", "x"),
        ("{% 'n=' & 1e20 %}", "n=100000000000000000000"),
        ("{% 'n=' & $nothing %}", "n="),
        ("{% $number('12') %}", 12),
        ("{% $number('-1.5e2') %}", -150),
        ("{% $number('0x1F') %}", 31),
        ("{% $number(true) %}", 1),
        ("{% $now() ~> $type() %}", "string"),
    ],
)
def test_corrected_builtins(text: str, expected: Any) -> None:
    assert exact(evaluate(text)) == exact(expected)


def test_now_and_millis_describe_the_same_instant() -> None:
    now, millis = evaluate("{% [$now(), $millis()] %}")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", now)
    assert isinstance(millis, int)
    assert evaluate(f"{{% $toMillis('{now}') %}}") == millis


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{% $number('abc') %}", 'D3030: Unable to cast value to a number: "abc"'),
        ("{% $number(' 1') %}", 'D3030: Unable to cast value to a number: " 1"'),
        ("{% $string(1/0) %}", "D3001: Attempting to invoke string function on Infinity or NaN"),
        ("{% 1/0 + 1 %}", "D1001: Number out of range: null"),
        ("{% $sum('a') %}", 'T0412: Argument 1 of function "sum" must be an array of "numbers"'),
        (
            "{% $substring('abc', 'x') %}",
            'T0410: Argument 2 of function "substring" does not match function signature',
        ),
        ("{% $substring() %}", 'T0410: Argument 1 of function "substring" does not match function signature'),
        ("{% $count(1, 2) %}", 'T0410: Argument 2 of function "count" does not match function signature'),
        ("{% 'a' + 1 %}", 'T2001: The left side of the "+" operator must evaluate to a number'),
        ("{% 1 - 'a' %}", 'T2002: The right side of the "-" operator must evaluate to a number'),
        (
            "{% 'a' < 1 %}",
            'T2009: The values "a" and 1 either side of operator "<" must be of the same data type',
        ),
        ("{% -'a' %}", 'D1002: Cannot negate a non-numeric value: "a"'),
        ("{% $x() %}", "T1006: Attempted to invoke a non-function"),
        (
            "{% $replace('abc', '', 'x') %}",
            "D3010: Second argument of replace function cannot be an empty string",
        ),
        ("{% $error('boom') %}", "D3137: boom"),
        ("{% $assert(false, 'nope') %}", "D3141: nope"),
        (
            "{% $formatBase(10, 99) %}",
            "D3100: The radix of the formatBase function must be between 2 and 36.  It was given 99",
        ),
        ("{% [1..'a'] %}", "T2004: The right side of the range operator (..) must evaluate to an integer"),
        ("{% {'a': 1, 'a': 2} %}", 'D1009: Multiple key definitions evaluate to same key: "a"'),
    ],
)
def test_jsonata_errors_read_as_jsonata_writes_them(text: str, reason: str) -> None:
    assert failure(text, variables={"x": 1}) == reason


# --- the error AWS reports -------------------------------------------------------------------


def test_evaluation_error_detail_names_the_expression_and_the_field() -> None:
    with pytest.raises(JsonataEvaluationError) as caught:
        evaluate("{% $randomSeeded($states.input.FunctionInput.fst) %}")
    error = caught.value
    assert error.source == "$randomSeeded($states.input.FunctionInput.fst)"
    assert error.field is None
    located = error.at("Output/FunctionResult")
    # The text AWS recorded (localstack test_math_operations_jsonata snapshot).
    assert located.detail == (
        "The JSONata expression '$randomSeeded($states.input.FunctionInput.fst)' specified for the field "
        "'Output/FunctionResult' threw an error during evaluation. T1006: Attempted to invoke a non-function"
    )
    assert located.code == "T1006" and located.field == "Output/FunctionResult"
    assert located.__cause__ is error.__cause__
    assert str(located) == located.detail
    assert error.detail.startswith("The JSONata expression '$randomSeeded(") and "for the field" not in error.detail


def test_an_uncoded_message_runs_on_after_a_colon() -> None:
    error = JsonataEvaluationError("$f()", JsonataEvaluationError.FAILED, message="stack overflow")
    assert error.at("Output").detail == (
        "The JSONata expression '$f()' specified for the field 'Output' threw an error during evaluation: "
        "stack overflow"
    )


def test_a_python_failure_inside_the_library_is_an_internal_error() -> None:
    with pytest.raises(JsonataEvaluationError) as caught:
        evaluate("{% $sort([1, 'a']) %}")
    assert caught.value.kind == JsonataEvaluationError.INTERNAL
    assert caught.value.at("Output").detail == (
        "The JSONata expression '$sort([1, 'a'])' specified for the field 'Output' threw an internal error "
        "during evaluation."
    )
    assert caught.value.__cause__ is not None


# --- templates -------------------------------------------------------------------------------


def test_templates_evaluate_expressions_at_any_depth() -> None:
    template = compile_template(
        {
            "static": "Hello",
            "title": "{% $states.input.title %}",
            "name": "{% $customerName %}",
            "not-evaluated": "$customerName",
            "padded": " {% $customerName %} ",
            "nested": {"list": [1, "{% $states.input.n * 2 %}", {"deep": ["{% $upper %}"]}], "none": None},
        }
    )
    states = {"input": {"title": "Doctor", "n": 21}}
    variables = {"customerName": "María", "upper": [True]}
    assert template.has_expressions
    assert template.evaluate(states, variables) == {
        "static": "Hello",
        "title": "Doctor",
        "name": "María",
        "not-evaluated": "$customerName",
        "padded": " {% $customerName %} ",
        "nested": {"list": [1, 42, {"deep": [[True]]}], "none": None},
    }


@pytest.mark.parametrize("value", [0, 0.1, True, None, "text", [], {}, [1, {"a": [None]}]])
def test_a_template_without_expressions_is_a_fresh_copy_of_itself(value: Any) -> None:
    template = compile_template(value)
    assert not template.has_expressions
    result = template.evaluate(STATES, {})
    assert exact(result) == exact(value)
    if isinstance(value, (list, dict)):
        assert result is not value
        assert template.evaluate(STATES, {}) is not result


def test_a_template_that_is_one_expression_returns_its_value() -> None:
    assert compile_template("{% [1, 2] %}").evaluate(STATES) == [1, 2]
    assert isinstance(compile_template("{% 1 %}"), CompiledTemplate)


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"result": "{% $doesNotExist %}"}, "Output/result"),
        ("{% $doesNotExist %}", "Output"),
        ({"a": {"b": ["x", "{% $doesNotExist %}"]}}, "Output/a/b[1]"),
        (["{% $doesNotExist %}"], "Output[0]"),
        ([{"k": "{% $doesNotExist %}"}], "Output[0]/k"),
    ],
)
def test_undefined_inside_a_template_names_its_field_path(value: Any, field: str) -> None:
    with pytest.raises(JsonataEvaluationError) as caught:
        compile_template(value).evaluate(STATES, {})
    error = caught.value.at("Output")
    assert error.undefined
    assert error.field == field
    assert error.detail == (
        f"The JSONata expression '$doesNotExist' specified for the field '{field}' returned nothing (undefined)."
    )


def test_an_error_inside_a_template_carries_its_path() -> None:
    with pytest.raises(JsonataEvaluationError) as caught:
        compile_template({"Payload": {"n": "{% 'a' + 1 %}"}}).evaluate(STATES, {})
    assert caught.value.path == "/Payload/n"
    assert caught.value.at("Arguments").field == "Arguments/Payload/n"


def test_a_template_reports_where_an_expression_does_not_parse() -> None:
    with pytest.raises(JsonataSyntaxError) as caught:
        compile_template({"ok": "{% 1 %}", "bad": [0, "{% 1 + %}"]})
    assert caught.value.path == "/bad[1]"
    assert caught.value.code == "S0207"


def test_expressions_in_one_template_do_not_see_each_other_s_bindings() -> None:
    template = compile_template({"a": "{% $t := 1 %}", "b": "{% $exists($t) %}"})
    assert template.evaluate(STATES, {}) == {"a": 1, "b": False}


# --- the fast path for plain paths agrees with the evaluator ---------------------------------

_PATH_DATA = [
    {"a": {"b": 1}},
    {"a": {"b": [1]}},
    {"a": {"b": [1, 2]}},
    {"a": {"b": []}},
    {"a": {"b": {"c": [1]}}},
    {"a": {"b": [[1], [2]]}},
    {"a": [{"b": 1}, {"b": 2}]},
    {"a": [{"b": 1}]},
    {"a": [{"b": [1, 2]}, {"b": 3}]},
    {"a": [[{"b": 1}], {"b": 2}]},
    {"a": [{"x": 1}]},
    {"a": "text"},
    {"a": 3},
    {},
]
_PATHS = ["$v", "$v.a", "$v.a.b", "$states.input.a.b", "[$v.a.b]", "$count($v.a.b)", "$v.a.b[0]", "$v.a.b + 0"]


@pytest.mark.parametrize("data", _PATH_DATA, ids=json.dumps)
@pytest.mark.parametrize("path", _PATHS)
def test_plain_paths_answer_what_jsonata_python_answers(data: dict[str, Any], path: str) -> None:
    """Plain paths skip jsonata-python's path machinery; the library itself is the oracle."""
    try:
        oracle = Jsonata(path).evaluate(None, {"v": data, "states": {"input": data}})
    except JException as error:
        with pytest.raises(JsonataEvaluationError) as caught:
            evaluate("{% " + path + " %}", {"input": data}, {"v": data})
        assert caught.value.code == error.error
        return
    result = evaluate("{% " + path + " %}", {"input": data}, {"v": data})
    assert (UNDEFINED if oracle is None else exact(oracle)) == (UNDEFINED if result is UNDEFINED else exact(result))


@pytest.mark.parametrize(
    "data",
    [{"a": {"b": None}}, {"a": {"b": [None]}}, {"a": [{"b": None}, {"b": 1}]}, {"a": None}, {"a": [None, {"b": 2}]}],
    ids=json.dumps,
)
def test_plain_paths_through_nulls_answer_what_a_general_step_answers(data: dict[str, Any]) -> None:
    # ``.(b)`` is a block step, which the plain-path walk never takes.
    for plain, general in [("$v.a.b", "$v.a.(b)"), ("[$v.a.b]", "[$v.a.(b)]"), ("$v.a", "$v.(a)")]:
        fast = evaluate("{% " + plain + " %}", variables={"v": data})
        slow = evaluate("{% " + general + " %}", variables={"v": data})
        assert (UNDEFINED if fast is UNDEFINED else exact(fast)) == (UNDEFINED if slow is UNDEFINED else exact(slow)), (
            plain
        )


# --- threads ---------------------------------------------------------------------------------


def test_one_expression_evaluates_correctly_on_many_threads() -> None:
    expression = compile_expression("{% $sum($states.input.values) * $k & '/' & $string($random($k)) %}")
    barrier = threading.Barrier(8)

    def run(k: int) -> list[Any]:
        barrier.wait()
        states = {"input": {"values": [k, k, k]}}
        return [expression.evaluate(states, {"k": k}) for _ in range(30)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, range(1, 9)))
    for k, values in zip(range(1, 9), results, strict=True):
        # $string writes a number to 15 significant digits.
        expected = f"{3 * k * k}/{js_number(float(format(JavaRandom(k).next_double(), '.15g')))}"
        assert set(values) == {expected}


# --- JavaScript number notation --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (-0.0, "0"),
        (100.0, "100"),
        (1.5, "1.5"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1.5e300, "1.5e+300"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (-1.25e-9, "-1.25e-9"),
        (123456789.125, "123456789.125"),
        (2**53, "9007199254740992"),
        (2**64, "18446744073709552000"),
    ],
)
def test_js_number(value: float, text: str) -> None:
    assert js_number(value) == text


# --- the AWS-recorded conformance corpus ------------------------------------------------------

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "conformance" / "cases"
_PREFIX = re.compile(r"An error occurred while executing the state '[^']*' \(entered at the event id #\d+\)\. ")
_UNEXPECTED_TYPE = re.compile(r"Expected 'array', but was '(\w+)' for value: (.*)", re.S)


def _jsonata_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def _is_jsonata(definition: dict[str, Any], state: dict[str, Any]) -> bool:
    return state.get("QueryLanguage", definition.get("QueryLanguage")) == "JSONata"


def _is_bare_pass(processor: dict[str, Any]) -> bool:
    states = list(processor["States"].values())
    fields = {"Type", "End", "Comment"}
    return len(states) == 1 and states[0]["Type"] == "Pass" and set(states[0]) <= fields


def _standalone(case: dict[str, Any]) -> tuple[str, Any, dict[str, Any]] | None:
    """``(field, template, variables)`` for a case whose result one template decides, else None.

    Three shapes qualify: a JSONata Pass state that is the whole machine (its ``Output``, or
    its ``Assign`` when that fails); a Map whose items go through an empty Pass, so the output
    is its ``Items``; and the same Map after a Pass that only assigns the variables ``Items``
    reads.
    """
    definition = case["definition"]
    states = definition["States"]
    start = states[definition["StartAt"]]
    if not _is_jsonata(definition, start) or "$states.context" in json.dumps(definition):
        return None
    variables: dict[str, Any] = {}
    if start["Type"] == "Pass" and start.get("End"):
        if "Output" in start and "Assign" not in start:
            return "Output", start["Output"], variables
        if "Assign" in start and "Output" not in start and case["expected"]["status"] == "FAILED":
            return "Assign", start["Assign"], variables
        return None
    if start["Type"] == "Pass" and "Assign" in start and set(start) <= {"Type", "Assign", "Next"}:
        assigned = compile_template(start["Assign"]).evaluate({"input": case["input"], "context": {}}, {})
        variables = dict(assigned)
        start = states[start["Next"]]
        if not _is_jsonata(definition, start):
            return None
    if start["Type"] == "Map" and "Items" in start and start.get("End") and _is_bare_pass(start["ItemProcessor"]):
        return "Items", start["Items"], variables
    return None


def _corpus_cases() -> list[Any]:
    if not CORPUS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"conformance corpus not found at {CORPUS}"))]
    found = []
    for path in sorted(CORPUS.glob("*/*.json")):
        case = json.loads(path.read_text())
        if '"QueryLanguage": "JSONata"' in json.dumps(case["definition"]) and _standalone(case):
            found.append(pytest.param(case, id=f"{path.parent.name}/{path.stem}"))
    return found


@pytest.mark.conformance
@pytest.mark.parametrize("case", _corpus_cases())
def test_corpus_expressions_evaluate_as_aws_recorded(case: dict[str, Any]) -> None:
    field, value, variables = _standalone(case)  # type: ignore[misc]
    expected = case["expected"]
    states = {"input": case["input"], "context": {}}
    template = compile_template(value)
    if expected["status"] == "SUCCEEDED":
        assert exact(template.evaluate(states, variables)) == exact(expected["output"])
        return
    assert expected["error"] == "States.QueryEvaluationError"
    detail = _PREFIX.sub("", expected["cause"], count=1)
    unexpected_type = _UNEXPECTED_TYPE.search(detail)
    if unexpected_type:
        # Items evaluated to something other than an array: the engine words that error, but
        # the value and its JSONata type are what this module computed.
        items = template.evaluate(states, variables)
        assert _jsonata_type(items) == unexpected_type.group(1)
        assert json.dumps(items, separators=(",", ":"), ensure_ascii=False) == unexpected_type.group(2)
        return
    with pytest.raises(JsonataEvaluationError) as caught:
        template.evaluate(states, variables)
    assert caught.value.at(field).detail == detail
