"""The intrinsic functions, checked against AWS's documented and recorded behaviour."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from stepkit.asl.errors import INTRINSIC_FAILURE, RUNTIME, StateEvaluationError
from stepkit.asl.intrinsics import (
    FUNCTION_NAMES,
    ArgumentPathNotFound,
    IntrinsicSyntaxError,
    _JavaRandom,
    compile_intrinsic,
    is_intrinsic,
)
from stepkit.asl.jsonpath import compile_path
from stepkit.asl.reference_path import compile_reference_path

CONTEXT = {
    "Execution": {"Id": "arn:aws:states:us-east-1:111111111111:execution:my-machine:run-1", "Name": "run-1"},
    "StateMachine": {
        "Id": "arn:aws:states:us-east-1:111111111111:stateMachine:my-machine",
        "Name": "my-machine",
    },
}


def run(text: str, data: Any = None, variables: dict[str, Any] | None = None) -> Any:
    return compile_intrinsic(text).evaluate(data, CONTEXT, variables)


def failure(text: str, data: Any = None, variables: dict[str, Any] | None = None) -> str:
    with pytest.raises(StateEvaluationError) as info:
        run(text, data, variables)
    assert info.value.error == INTRINSIC_FAILURE
    assert info.value.cause == info.value.detail  # the engine adds the state's prefix
    name = text[: text.index("(")]
    assert info.value.detail.startswith(f"Invalid arguments in {name}: ")
    return info.value.detail


# -- syntax -----------------------------------------------------------------------------


def test_is_intrinsic() -> None:
    assert is_intrinsic("States.Format('x')")
    assert is_intrinsic("States.UUID()")
    assert is_intrinsic("States.NoSuchThing(1)")  # looks like a call; compiling rejects it
    assert not is_intrinsic("$.States.Format")
    assert not is_intrinsic("States.Format")
    assert not is_intrinsic(" States.UUID()")
    assert not is_intrinsic("Format('x')")


def test_there_are_eighteen_functions() -> None:
    assert len(FUNCTION_NAMES) == 18


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("States.Array('a', 'b')", ["a", "b"]),
        ("States.Array(1, -2, 0, 1.5, -0.25, 2e3, 1E-2)", [1, -2, 0, 1.5, -0.25, 2000.0, 0.01]),
        ("States.Array(true, false, null)", [True, False, None]),
        ("States.Array()", []),
        ("States.Array( 'a' ,\t'b' ,\n1 )", ["a", "b", 1]),
        (
            "States.Array('it\\'s', '\\{\\}', 'back\\\\slash', '{\"k\": [1]}')",
            ["it's", "{}", "back\\slash", '{"k": [1]}'],
        ),
        ("States.Array('a,b)c')", ["a,b)c"]),
        ("States.Array('')", [""]),
    ],
)
def test_literals(text: str, expected: Any) -> None:
    result = run(text)
    assert result == expected
    assert [type(v) for v in result] == [type(v) for v in expected]


def test_path_arguments() -> None:
    data = {"a": {"b": [10, 20]}, "k": "v", "odd key": 3, "list": [{"x": 1}, {"x": 2}]}
    variables = {"myVar": {"nested": [7]}, "_x1": 5}
    assert run("States.Array($, $.k, $.a.b[1])", data) == [data, "v", 20]
    assert run("States.Array($['odd key'], $.list[?(@.x > 1)])", data) == [3, [{"x": 2}]]
    assert run("States.Array($$, $$.Execution.Name)", data) == [CONTEXT, "run-1"]
    assert run("States.Array($['a,b)'], $['it\\'s'])", {"a,b)": 1, "it\\'s": 2}) == [1, 2]
    with pytest.raises(IntrinsicSyntaxError, match="Unterminated quoted name"):
        compile_intrinsic("States.Array($['a)")
    assert run("States.Array($myVar, $myVar.nested[0], $_x1)", data, variables) == [{"nested": [7]}, 7, 5]


def test_nested_calls() -> None:
    text = (
        "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), "
        "States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))"
    )
    assert run(text) == "machine"


def test_compile_is_memoised_and_reusable() -> None:
    compiled = compile_intrinsic("States.Array($.v)")
    assert compiled is compile_intrinsic("States.Array($.v)")
    assert compiled.evaluate({"v": 1}, None) == [1]
    assert compiled.evaluate({"v": 2}, None) == [2]


def _nest(depth: int) -> str:
    return "States.Array(" * depth + ")" * depth


def test_up_to_ten_nested_calls() -> None:
    assert compile_intrinsic(_nest(10))
    with pytest.raises(IntrinsicSyntaxError, match="nested at most 10"):
        compile_intrinsic(_nest(11))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("States.Nope(1)", "Unknown intrinsic function 'States.Nope'"),
        ("Format('x')", "Expected an intrinsic function call"),
        ("States.Format('x'", "Expected ',' or ')'"),
        ("States.Format('x') ", "Unexpected text after"),
        ("States.Format('x'))", "Unexpected text after"),
        ("States.Format('x' 'y')", "Expected ',' or ')'"),
        ("States.Format('unterminated)", "Unterminated string literal"),
        ("States.Format('bad \\n escape')", "Invalid escape"),
        ("States.Format('trailing \\", "Invalid escape"),
        ("States.Array(1,)", "Unexpected character ')'"),
        ("States.Array(,1)", "Unexpected character ','"),
        ("States.Array(01)", "Expected ',' or ')' after the argument"),
        ("States.Array(1.)", "Expected ',' or ')' after the argument"),
        ("States.Array(+1)", "Unexpected character '+'"),
        ("States.Array(True)", "Unexpected character 'T'"),
        ("States.Array(nullx)", "Expected ',' or ')' after the argument"),
        ('States.Array("double")', "Unexpected character '\"'"),
        ("States.Array($.a b)", "Invalid path argument"),
        ("States.Array($..)", "Invalid path argument"),
        ("States.Array(", "Unexpected end of text"),
    ],
)
def test_syntax_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(IntrinsicSyntaxError, match=re.escape(message)):
        compile_intrinsic(text)


# -- paths that match nothing -------------------------------------------------------------


def test_argument_path_that_matches_nothing_is_a_runtime_error() -> None:
    with pytest.raises(ArgumentPathNotFound) as info:
        run("States.Format('{}', $.missing.deeper)", {"a": 1})
    error = info.value
    assert isinstance(error, StateEvaluationError)
    assert error.error == RUNTIME
    assert error.path == "$.missing.deeper"
    assert error.reason == "Missing property in path $['missing']"
    assert error.detail == "The JSONPath '$.missing.deeper' could not be found in the input '{\"a\":1}'"


def test_context_and_variable_paths_that_match_nothing() -> None:
    with pytest.raises(ArgumentPathNotFound) as info:
        run("States.Array($$.Execution.Nope)", {})
    assert info.value.path == "$$.Execution.Nope"
    with pytest.raises(ArgumentPathNotFound) as info:
        run("States.Array($undefinedVar)", {}, {"other": 1})
    assert info.value.reason == "The variable 'undefinedVar' is not defined"
    with pytest.raises(ArgumentPathNotFound):
        run("States.Array($v.x)", {}, None)


def test_indefinite_argument_paths_give_lists() -> None:
    assert run("States.ArrayLength($.items[*].x)", {"items": [{"x": 1}, {"y": 2}, {"x": 3}]}) == 2
    assert run("States.ArrayLength($.none[*])", {}) == 0


# -- Format -------------------------------------------------------------------------------


def test_format_prints_values_as_aws_does() -> None:
    data = {
        "s": "HelloWorld",
        "n": None,
        "i": 1,
        "f": 1.1,
        "o": {"Arg1": 1, "Arg2": []},
        "b": True,
        "big": 1e20,
    }
    text = "States.Format('{}|{}|{}|{}|{}|{}|{}', $.s, $.n, $.i, $.f, $.o, $.b, $.big)"
    assert run(text, data) == "HelloWorld|null|1|1.1|{Arg1=1, Arg2=[]}|true|1.0E20"


def test_format_escaped_braces_are_not_placeholders() -> None:
    assert run("States.Format('\\{\\} {} \\{x\\}', 'v')") == "{} v {x}"
    assert run("States.Format('{ } {}', 1)") == "{ } 1"


def test_format_template_from_a_path() -> None:
    data = {"template": "Hello, my name is {}.", "name": "Arnav"}
    assert run("States.Format($.template, $.name)", data) == "Hello, my name is Arnav."


def test_format_leaves_arguments_beyond_the_placeholders_unused() -> None:
    assert run("States.Format('{}', 1, 2)") == "1"
    assert run("States.Format('no placeholder', $.a)", {"a": {"x": 1}}) == "no placeholder"


def test_format_failures() -> None:
    assert "2 placeholder(s)" in failure("States.Format('{} {}', 1)")
    assert "must be a string" in failure("States.Format($.t)", {"t": 5})
    assert "at least 1 arguments but received 0" in failure("States.Format()")


# -- JSON ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("  \n", None),
        ("null", None),
        ("-0", 0),
        ("1", 1),
        ("1.1", 1.1),
        ("true", True),
        ('"HelloWorld"', "HelloWorld"),
        ('[1, 2, "HelloWorld"]', [1, 2, "HelloWorld"]),
        ('{"Arg1": 1, "Arg2": []}', {"Arg1": 1, "Arg2": []}),
    ],
)
def test_string_to_json(text: str, expected: Any) -> None:
    assert run("States.StringToJson($.s)", {"s": text}) == expected


@pytest.mark.parametrize("text", ["{", "NaN", "Infinity", "[1,]", "{'a': 1}", "tru"])
def test_string_to_json_of_invalid_json_fails(text: str) -> None:
    assert "not valid JSON" in failure("States.StringToJson($.s)", {"s": text})


def test_string_to_json_needs_a_string() -> None:
    assert "must be a string, but was object {}" in failure("States.StringToJson($.s)", {"s": {}})
    assert "expected 1 argument but received 2" in failure("States.StringToJson('1', '2')")


def test_json_to_string_is_compact_jackson_json() -> None:
    data = {"o": {"Arg1": 1, "Arg2": [], "f": 1e-5, "s": 'q"'}}
    assert run("States.JsonToString($.o)", data) == '{"Arg1":1,"Arg2":[],"f":1.0E-5,"s":"q\\""}'
    assert run("States.JsonToString($.s)", {"s": "HelloWorld"}) == '"HelloWorld"'
    assert run("States.JsonToString($.n)", {"n": None}) == "null"


def test_json_merge_is_shallow_and_later_wins() -> None:
    data = {"a": {"x": {"a1": 1}, "b": 2, "d": 3}, "b": {"x": {"a3": 1}, "c": 3, "d": 4}}
    result = run("States.JsonMerge($.a, $.b, false)", data)
    assert result == {"x": {"a3": 1}, "b": 2, "d": 4, "c": 3}
    assert list(result) == ["x", "b", "d", "c"]
    assert data["a"] == {"x": {"a1": 1}, "b": 2, "d": 3}  # inputs untouched


def test_json_merge_failures() -> None:
    assert "deep merging is not supported" in failure("States.JsonMerge($.a, $.a, true)", {"a": {}})
    assert "first argument must be an object" in failure("States.JsonMerge($.l, $.a, false)", {"a": {}, "l": []})
    assert "second argument must be an object" in failure("States.JsonMerge($.a, 'x', false)", {"a": {}})
    assert "third argument must be a boolean" in failure("States.JsonMerge($.a, $.a, 'false')", {"a": {}})
    assert "expected 3 arguments but received 2" in failure("States.JsonMerge($.a, $.a)", {"a": {}})


# -- arrays -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("array", "size", "expected"),
    [([], 1, []), ([0], 5, [[0]]), ([0, 1, 2], 2, [[0, 1], [2]]), ([0, 1, 2, 3], 2, [[0, 1], [2, 3]])],
)
def test_array_partition(array: list[int], size: int, expected: list[list[int]]) -> None:
    assert run("States.ArrayPartition($.a, $.n)", {"a": array, "n": size}) == expected


def test_array_partition_failures() -> None:
    assert "greater than 0" in failure("States.ArrayPartition($.a, 0)", {"a": [1]})
    assert "must be an integer" in failure("States.ArrayPartition($.a, 1.5)", {"a": [1]})
    assert "must be an array" in failure("States.ArrayPartition('x', 1)")


def test_array_contains_uses_json_equality() -> None:
    data = {"a": [[1, 2, 3], 2, {"1": 2, "2": []}, True, 1.5, None]}
    for value, expected in [
        ("[1, 2, 3]", True),
        ('{"2": [], "1": 2}', True),  # key order does not matter
        ("true", True),
        ("1.5", True),
        ("null", True),
        ("[]", False),
        ("1", False),  # not equal to true
        ("2.0", False),  # a double is not an integer
        ('"2"', False),
    ]:
        assert run("States.ArrayContains($.a, States.StringToJson($.v))", {**data, "v": value}) is expected, value


def test_array_range() -> None:
    assert run("States.ArrayRange(0, 9, 3)") == [0, 3, 6, 9]
    assert run("States.ArrayRange(0, 10, 3)") == [0, 3, 6, 9]
    assert run("States.ArrayRange(1, 9, 9)") == [1]
    assert run("States.ArrayRange(5, 1, -2)") == [5, 3, 1]
    assert run("States.ArrayRange(5, 1, 1)") == []
    assert run("States.ArrayRange(1, 1000, 1)") == list(range(1, 1001))


def test_array_range_failures() -> None:
    assert "1001 items, more than the 1000 allowed" in failure("States.ArrayRange(0, 1000, 1)")
    assert "step must not be 0" in failure("States.ArrayRange(0, 3, 0)")
    assert "must be an integer" in failure("States.ArrayRange(0.5, 3, 1)")
    assert "must be an integer" in failure("States.ArrayRange(0, true, 1)")


def test_array_get_item_and_length() -> None:
    data = {"a": [1, 2, 3, 4, 5, 6, 7, 8, 9]}
    assert run("States.ArrayGetItem($.a, 5)", data) == 6
    assert run("States.ArrayGetItem($.a, 0.0)", data) == 1
    assert run("States.ArrayLength($.a)", data) == 9
    assert "out of bounds for an array of length 9" in failure("States.ArrayGetItem($.a, 9)", data)
    assert "out of bounds" in failure("States.ArrayGetItem($.a, -1)", data)
    assert "must be an array, but was string" in failure("States.ArrayLength($.s)", {"s": "abc"})


def test_array_unique_keeps_first_occurrences_in_order() -> None:
    data = {"a": [1, 2, 2, 3, 1.0, True, {"a": 1, "b": 2}, {"b": 2, "a": 1}, [None], [None], "1", 3]}
    assert run("States.ArrayUnique($.a)", data) == [1, 2, 3, 1.0, True, {"a": 1, "b": 2}, [None], "1"]


# -- encoding and hashing -------------------------------------------------------------------


def test_base64_round_trip() -> None:
    assert run("States.Base64Encode('Data to encode')") == "RGF0YSB0byBlbmNvZGU="
    assert run("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')") == "Data to encode"
    assert run("States.Base64Encode('')") == ""
    assert run("States.Base64Decode('')") == ""
    assert run("States.Base64Encode('héllo ✓')") == "aMOpbGxvIOKckw=="
    assert run("States.Base64Decode('aMOpbGxvIOKckw==')") == "héllo ✓"


def test_base64_decode_accepts_missing_padding_like_java() -> None:
    assert run("States.Base64Decode('SGk')") == "Hi"
    assert run("States.Base64Decode('SA')") == "H"
    assert run("States.Base64Decode('/w==')") == "\ufffd"  # not UTF-8: replaced, as Java does


@pytest.mark.parametrize(
    "text", ["S", "SGk=A", "SG=", "SGk==", "S GVsbG8=", "SGVsbG8*", "SGVsbG8===", "=", "SGVs\nbG8="]
)
def test_base64_decode_of_invalid_input_fails(text: str) -> None:
    assert "not valid Base64" in failure("States.Base64Decode($.s)", {"s": text})


def test_base64_and_hash_input_limit() -> None:
    assert run("States.Base64Encode($.s)", {"s": "a" * 10_000})
    assert "longer than 10000 characters" in failure("States.Base64Encode($.s)", {"s": "a" * 10_001})
    assert "longer than 10000 characters" in failure("States.Base64Decode($.s)", {"s": "QUFB" * 2501})
    assert "longer than 10000 characters" in failure("States.Hash($.s, 'MD5')", {"s": "a" * 10_001})


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [
        ("MD5", "812f45842bc6d66ee14572ce20db8e86"),
        ("SHA-1", "aaff4a450a104cd177d28d18d74485e8cae074b7"),
        ("SHA-256", "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"),
        ("SHA-384", hashlib.sha384(b"input data").hexdigest()),
        ("SHA-512", hashlib.sha512(b"input data").hexdigest()),
    ],
)
def test_hash(algorithm: str, digest: str) -> None:
    assert run("States.Hash('input data', $.alg)", {"alg": algorithm}) == digest


def test_hash_failures() -> None:
    assert "unsupported algorithm 'sha256'" in failure("States.Hash('x', 'sha256')")
    assert "the data must be a string" in failure("States.Hash(1, 'MD5')")


# -- math -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (-9, 3, -6),
        (1.49, 1.5, 3),
        (1.5, 1.51, 4),
        (-1.49, -1.5, -2),
        (-1.5, -1.51, -3),
        (-0.5, 0.5, 1),
        (-0.5, 0, 0),
        (2.5, 0, 3),
        (-2.5, 0, -2),
        (0.49999999999999994, 0, 0),
        (10**12, 1, 10**12 + 1),
    ],
)
def test_math_add_rounds_each_argument_half_up(a: float, b: float, expected: int) -> None:
    # The cases with halves were recorded on AWS (Java Math.round).
    result = run("States.MathAdd($.a, $.b)", {"a": a, "b": b})
    assert result == expected
    assert type(result) is int


def test_math_add_literals_and_failures() -> None:
    assert run("States.MathAdd(5, -1)") == 4
    assert "must be a number, but was string" in failure("States.MathAdd('1', 2)")
    assert "must be a number, but was boolean" in failure("States.MathAdd(true, 2)")
    assert "expected 2 arguments but received 3" in failure("States.MathAdd(1, 2, 3)")


def test_math_random_stays_in_range() -> None:
    for start, end in [(12.5, 44.51), (9999, 99999), (-99999, -9999), (0, 1)]:
        value = run("States.MathRandom($.s, $.e)", {"s": start, "e": end})
        assert type(value) is int
        assert round(start + 0.0001) <= value < round(end)


def test_math_random_with_a_seed_is_deterministic() -> None:
    values = {run("States.MathRandom(0, 999, 3)") for _ in range(5)}
    assert len(values) == 1
    assert values.pop() == _JavaRandom(3).next_int(999)


def test_java_random_matches_java() -> None:
    # new java.util.Random(42).nextInt(10) == 0, a widely quoted value.
    assert _JavaRandom(42).next_int(10) == 0
    assert 0 <= _JavaRandom(7).next_int(1 << 20) < 1 << 20


def test_math_random_failures() -> None:
    assert "must be less than the end" in failure("States.MathRandom(5, 5)")
    assert "expected 2 to 3 arguments but received 1" in failure("States.MathRandom(5)")
    assert "must be a number" in failure("States.MathRandom('a', 5)")


# -- strings and ids ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "delimiter", "expected"),
    [
        (" ", ",", [" "]),
        (" , ", ",", [" ", " "]),
        (", , ,", ",", [" ", " "]),
        (",,,,", ",", []),
        ("1,2,3,4,5", ",", ["1", "2", "3", "4", "5"]),
        ("This.is+a,test=string", ".+,=", ["This", "is", "a", "test", "string"]),
        ("split on T and \nnew line", "T\n", ["split on ", " and ", "new line"]),
        ("a]b^c-d", "]^-", ["a", "b", "c", "d"]),
        ("abc", "", ["abc"]),
        ("", ",", []),
    ],
)
def test_string_split_is_a_string_tokenizer(text: str, delimiter: str, expected: list[str]) -> None:
    assert run("States.StringSplit($.t, $.d)", {"t": text, "d": delimiter}) == expected


def test_string_split_failures() -> None:
    assert "must be a string" in failure("States.StringSplit(1, ',')")
    assert "delimiter must be a string" in failure("States.StringSplit('a', 1)")


def test_uuid_is_a_random_version_4_uuid() -> None:
    first, second = run("States.UUID()"), run("States.UUID()")
    assert uuid.UUID(first).version == 4
    assert str(uuid.UUID(first)) == first
    assert first != second
    assert "expected 0 arguments but received 1" in failure("States.UUID(1)")


# -- the AWS-recorded corpus ----------------------------------------------------------------

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "conformance" / "cases" / "intrinsic_functions"
_PASS_FIELDS = {"Type", "Parameters", "InputPath", "ResultPath", "OutputPath", "End", "Comment"}


def _context(case_input: Any) -> dict[str, Any]:
    machine, execution = "intrinsic-test-machine", "execution-1"
    return {
        "Execution": {
            "Id": f"arn:aws:states:us-east-1:111111111111:execution:{machine}:{execution}",
            "Input": case_input,
            "Name": execution,
            "RoleArn": "arn:aws:iam::111111111111:role/stepkit",
            "StartTime": "2024-01-01T00:00:00.000Z",
        },
        "StateMachine": {
            "Id": f"arn:aws:states:us-east-1:111111111111:stateMachine:{machine}",
            "Name": machine,
        },
        "State": {"Name": "state", "EnteredTime": "2024-01-01T00:00:00.000Z", "RetryCount": 0},
    }


def _uninterpretable(case: dict[str, Any]) -> str | None:
    """Why the harness cannot run this case, or None when it can."""
    definition = case["definition"]
    states = definition["States"]
    if len(states) != 1:
        return f"{len(states)} states"
    state = next(iter(states.values()))
    language = state.get("QueryLanguage", definition.get("QueryLanguage", "JSONPath"))
    if language != "JSONPath":
        return f"uses {language}, not an intrinsic function"
    if state["Type"] != "Pass" or set(state) - _PASS_FIELDS:
        return f"not a plain Pass state: {sorted(state)}"
    parameters = state.get("Parameters")
    if not isinstance(parameters, dict) or len(parameters) != 1:
        return "Parameters is not a single field"
    (key, value), *_ = parameters.items()
    if not key.endswith(".$") or not isinstance(value, str) or not is_intrinsic(value):
        return "the Parameters field is not an intrinsic function"
    if case["expected"]["status"] != "SUCCEEDED":
        return f"expected status {case['expected']['status']}"
    return None


def _intrinsic_cases() -> list[Any]:
    if not CORPUS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"conformance corpus not found at {CORPUS}"))]
    params = []
    for file in sorted(CORPUS.glob("*.json")):
        case = json.loads(file.read_text())
        reason = _uninterpretable(case)
        if reason is not None and reason.startswith("uses JSONata"):
            continue  # JSONata's functions, not intrinsics: tests/functional/test_conformance.py runs them
        marks = [pytest.mark.skip(reason=f"harness cannot interpret {case['id']}: {reason}")] if reason else []
        params.append(pytest.param(case, id=case["id"], marks=marks))
    return params


def _matches(expected: Any, actual: Any, pointer: str, wildcards: set[str], patterns: dict[str, str]) -> bool:
    """The corpus's comparison: wildcards accept anything, patterns are regexes, numbers
    compare by value and booleans never equal numbers."""
    if pointer in wildcards:
        return True
    if pointer in patterns:
        return isinstance(actual, str) and re.fullmatch(patterns[pointer], actual) is not None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(_matches(expected[k], actual[k], f"{pointer}/{k}", wildcards, patterns) for k in expected)
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(
                _matches(e, a, f"{pointer}/{i}", wildcards, patterns)
                for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            )
        )
    if isinstance(expected, int | float):
        return isinstance(actual, int | float) and expected == actual
    return type(expected) is type(actual) and expected == actual


@pytest.mark.parametrize("case", _intrinsic_cases())
def test_corpus_intrinsic_case(case: dict[str, Any]) -> None:
    state = next(iter(case["definition"]["States"].values()))
    (key, text), *_ = state["Parameters"].items()
    raw = case["input"]
    effective = compile_path(state.get("InputPath", "$")).evaluate(raw)
    result = {key[:-2]: compile_intrinsic(text).evaluate(effective, _context(raw))}
    output = compile_reference_path(state.get("ResultPath", "$")).set(raw, result)
    output = compile_path(state.get("OutputPath", "$")).evaluate(output)
    assert _matches(
        case["expected"]["output"],
        output,
        "/output",
        set(case.get("wildcards", [])),
        case.get("patterns") or {},
    ), f"{text} on {json.dumps(raw)} gave {json.dumps(output)}"
