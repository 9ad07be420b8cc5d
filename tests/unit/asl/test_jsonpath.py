"""JSONPath as Step Functions (Jayway JsonPath) evaluates it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from stepkit.asl.jsonpath import JSONPathSyntaxError, PathNotFoundError, compile_path, is_valid_path

DOC: dict[str, Any] = {
    "a": {"x": 1, "b": {"x": 2}, "c": [{"x": 3}, {"y": 4, "x": 5}], "s": "str", "n": None},
    "x": 0,
    "items": [1, 2, 3, 4, 5],
    "key with space": "spaced",
}


def miss(path: str, data: Any = DOC) -> str:
    with pytest.raises(PathNotFoundError) as info:
        compile_path(path).evaluate(data)
    assert str(info.value) == info.value.detail
    return info.value.detail


# -- definite paths -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DOC),
        ("$.x", 0),
        ("$.a.x", 1),
        ("$.a.b.x", 2),
        ("$.a.c[1].y", 4),
        ("$.a.c[-1]", {"y": 4, "x": 5}),
        ("$.a.n", None),
        ("$['a']['b']", {"x": 2}),
        ('$["a"]["b"]', {"x": 2}),
        ("$[ 'a' ][ 'c' ][ 0 ]", {"x": 3}),
        ("$['key with space']", "spaced"),
        ("$.items[4]", 5),
        ("  $.x  ", 0),
    ],
)
def test_definite_paths_return_the_value(path: str, expected: Any) -> None:
    compiled = compile_path(path)
    assert compiled.is_definite
    assert compiled.evaluate(DOC) == expected


def test_root_returns_the_document_itself() -> None:
    assert compile_path("$").evaluate(DOC) is DOC


def test_leaf_property_list_merges_into_an_object_like_jayway() -> None:
    compiled = compile_path("$['x','missing','items']")
    assert compiled.is_definite
    assert compiled.evaluate(DOC) == {"x": 0, "items": [1, 2, 3, 4, 5]}


def test_bracket_names_are_taken_literally_as_aws_does() -> None:
    # Recorded on AWS: $['Test\""Name"'] finds the key `Test\""Name"` (backslash kept).
    path = '$[\'Test\\""Name"\']'
    assert compile_path(path).evaluate({'Test\\""Name"': 'Value"\\'}) == 'Value"\\'


def test_functions_are_plain_property_names_on_aws() -> None:
    # AWS does not support Jayway functions: `.length()` is looked up as a property.
    assert compile_path("$.o.length()").evaluate({"o": {"length()": 3}}) == 3
    assert "['length()']" in miss("$.items.length()")


# -- misses: Jayway's messages ----------------------------------------------------------


def test_missing_leaf_is_no_results_for_the_whole_path() -> None:
    # Recorded on AWS: "Invalid path '$.NoSuchInputPath' : No results for path: $['NoSuchInputPath']"
    assert miss("$.NoSuchInputPath", {"int-literal": 0}) == "No results for path: $['NoSuchInputPath']"
    assert miss("$.a.b.nope") == "No results for path: $['a']['b']['nope']"


def test_missing_intermediate_is_missing_property() -> None:
    # Recorded on AWS: "Invalid path '$.no.such.result.path' : Missing property in path $['no']"
    assert miss("$.no.such.result.path", {}) == "Missing property in path $['no']"
    assert miss("$.a.nope.deeper") == "Missing property in path $['a']['nope']"


def test_property_of_a_non_object() -> None:
    expected = (
        "Expected to find an object with property ['q'] in path $['a']['s'] but found "
        "'java.lang.String'. This is not a json object according to the JsonProvider: "
        "'com.jayway.jsonpath.spi.json.JacksonJsonProvider'."
    )
    assert miss("$.a.s.q") == expected
    assert "but found 'null'" in miss("$.a.n.q")
    assert "but found 'java.util.ArrayList'" in miss("$.items.q")
    assert "but found 'java.lang.Integer'" in miss("$.x.q")
    assert "but found 'java.lang.Long'" in miss("$.big.q", {"big": 2**40})
    assert "but found 'java.lang.Double'" in miss("$.f.q", {"f": 1.5})
    assert "but found 'java.lang.Boolean'" in miss("$.t.q", {"t": True})


def test_index_misses() -> None:
    assert miss("$.items[5]") == "No results for path: $['items'][5]"
    assert miss("$.items[-6]") == "No results for path: $['items'][-6]"
    # Out of range stops the walk silently, so even a longer path reports "No results".
    assert miss("$.a.c[7].x") == "No results for path: $['a']['c'][7]['x']"
    assert miss("$.a.n[0]") == "The path $['a']['n'] is null"
    assert miss("$.a.s[0]") == "Filter: [0] can only be applied to arrays. Current context is: str"
    assert miss("$.a.b[0].x") == "Filter: [0]['x'] can only be applied to arrays. Current context is: {x=2}"


def test_an_index_never_reads_a_character_of_a_string() -> None:
    assert miss("$.s[0]", {"s": "abc"}).startswith("Filter: [0] can only be applied to arrays")


# -- indefinite paths -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.a.*", [1, {"x": 2}, [{"x": 3}, {"y": 4, "x": 5}], "str", None]),
        ("$.a[*]", [1, {"x": 2}, [{"x": 3}, {"y": 4, "x": 5}], "str", None]),
        ("$.items[*]", [1, 2, 3, 4, 5]),
        ("$.a.c[*].x", [3, 5]),
        ("$.a.c[*].y", [4]),
        ("$.items[1:3]", [2, 3]),
        ("$.items[-2:]", [4, 5]),
        ("$.items[:2]", [1, 2]),
        ("$.items[:-1]", [1, 2, 3, 4]),
        ("$.items[3:10]", [4, 5]),
        # Jayway does not resolve a negative end in [from:to]: nothing matches.
        ("$.items[1:-1]", []),
        # Jayway ignores a step.
        ("$.items[1:3:2]", [2, 3]),
        ("$.items[0,2,-1]", [1, 3, 5]),
        ("$.items[0,9]", [1]),
        ("$['x','items'].foo", []),
        ("$.a.c[?(@.x > 3)]", [{"y": 4, "x": 5}]),
        ("$.a.c[?(@.y)]", [{"y": 4, "x": 5}]),
        ("$.a.c[?(@.x == 3 || @.x == 5)].x", [3, 5]),
        ("$.a.c[?(@.x == $.a.x)]", []),
        ("$.a.c[?(@.x == $.w)]", [{"x": 3}]),
        # A filter applied to an object tests the object itself.
        ("$.a.b[?(@.x == 2)]", [{"x": 2}]),
    ],
)
def test_indefinite_paths_return_the_list_of_matches(path: str, expected: list[Any]) -> None:
    compiled = compile_path(path)
    assert not compiled.is_definite
    assert compiled.evaluate({**DOC, "w": 3}) == expected


def test_deep_scan_is_pre_order_node_before_children() -> None:
    data = {"x": 0, "a": {"b": {"x": 2}}, "e": {"x": 1}, "c": [{"x": 3}, {"d": {"x": 4}}]}
    assert compile_path("$..x").evaluate(data) == [0, 2, 1, 3, 4]  # not breadth-first
    assert compile_path("$..[0]").evaluate({"l": [[1, 2], 3], "m": [4]}) == [[1, 2], 1, 4]
    assert compile_path("$..[?(@.x > 2)]").evaluate(data) == [{"x": 3}, {"x": 4}]
    assert compile_path("$.a..x").evaluate(data) == [2]


@pytest.mark.parametrize(
    "path",
    ["$.items[*]", "$.item.items[*]", "$.item.items[1:5].itemValue", "$[*]", "$.items[:1]", "$..nothing"],
)
def test_indefinite_path_matching_nothing_is_an_empty_list(path: str) -> None:
    # Recorded on AWS with input {}: every one of these gives [].
    assert compile_path(path).evaluate({}) == []


def test_filter_on_a_scalar_matches_nothing() -> None:
    assert compile_path("$.x[?(@.y)]").evaluate(DOC) == []


def test_filter_from_the_corpus() -> None:
    data = {"users": [{"year": 1997, "status": 0}, {"year": 1998, "status": 1}]}
    assert compile_path("$.users[?(@.status == 0)]").evaluate(data) == [{"year": 1997, "status": 0}]


# -- syntax -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "must start with '$'"),
        ("a.b", "must start with '$'"),
        ("$.", "must not end with"),
        ("$..", "must not end with"),
        ("$a", "expected '.' or '['"),
        ("$$.a", "expected '.' or '['"),
        ("$...a", "is not valid"),
        ("$.a b", "bracket notion"),
        ("$['a", "not been closed"),
        ("$['a'", "terminated close square bracket"),
        ("$['a' 'b']", "separated by comma"),
        ("$['a',]", "empty property"),
        ("$[", "Unclosed"),
        ("$[0", "Unclosed"),
        ("$[a]", "Could not parse token"),
        ("$[1.5]", "Could not parse token"),
        ("$[:]", "SliceOperation"),
        ("$[*", "wildcard"),
        ("$[?(@.a == 1]", "not closed"),
        ("$[?(@.a ==)]", "Invalid filter"),
        ("$['a']x", "expected '.' or '['"),
    ],
)
def test_invalid_paths_are_rejected_with_a_reason(path: str, message: str) -> None:
    with pytest.raises(JSONPathSyntaxError, match=re.escape(message)):
        compile_path(path)
    assert not is_valid_path(path)


def test_valid_paths() -> None:
    for path in ("$", "$.a", "$..a", "$.a[*]", "$['a b'].c[0]", "$.a[?(@.b == 'x')]", "$.delivery-partner"):
        assert is_valid_path(path), path


def test_compile_is_memoised() -> None:
    assert compile_path("$.memo.test") is compile_path("$.memo.test")


# -- the AWS-recorded corpus ----------------------------------------------------------------

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "conformance" / "cases"
_PASS_FIELDS = {"Type", "Parameters", "InputPath", "OutputPath", "End", "Comment"}


def _path_cases() -> list[Any]:
    """Single-Pass-state cases whose only data handling is JSONPath on the input."""
    if not CORPUS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"conformance corpus not found at {CORPUS}"))]
    cases = []
    for file in sorted(CORPUS.glob("*/*.json")):
        case = json.loads(file.read_text())
        states = list(case["definition"]["States"].values())
        if case["definition"].get("QueryLanguage") or len(states) != 1:
            continue
        state = states[0]
        if state["Type"] != "Pass" or set(state) - _PASS_FIELDS:
            continue
        paths = [state.get("InputPath"), state.get("OutputPath"), *state.get("Parameters", {}).values()]
        paths = [p for p in paths if p is not None]
        keys = state.get("Parameters", {}).keys()
        if not paths or not all(isinstance(p, str) and p.startswith("$") and not p.startswith("$$") for p in paths):
            continue
        if not all(k.endswith(".$") for k in keys):
            continue
        cases.append(pytest.param(case, id=case["id"]))
    return cases


def _strict_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_strict_equal(x, y) for x, y in zip(a, b, strict=True))
    return (type(a) is type(b) and a == b) or (isinstance(a, int | float) and isinstance(b, int | float) and a == b)


def _run_pass(state: dict[str, Any], data: Any) -> Any:
    if "InputPath" in state:
        data = compile_path(state["InputPath"]).evaluate(data)
    if "Parameters" in state:
        data = {key[:-2]: compile_path(path).evaluate(data) for key, path in state["Parameters"].items()}
    return compile_path(state.get("OutputPath", "$")).evaluate(data)


@pytest.mark.parametrize("case", _path_cases())
def test_corpus_jsonpath_case(case: dict[str, Any]) -> None:
    state = next(iter(case["definition"]["States"].values()))
    expected = case["expected"]
    if expected["status"] == "SUCCEEDED":
        assert _strict_equal(_run_pass(state, case["input"]), expected["output"])
        return
    with pytest.raises(PathNotFoundError) as info:
        _run_pass(state, case["input"])
    cause = expected["cause"]
    if " : " in cause:  # "Invalid path '<path>' : <Jayway's message>"
        assert cause.endswith(" : " + info.value.detail)
    else:
        assert "could not be found in the input" in cause
