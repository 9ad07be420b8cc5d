"""Reference paths (ResultPath): placing a value at the one node a path names."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepkit.asl.errors import RESULT_PATH_MATCH_FAILURE, StatesError
from stepkit.asl.java_json import java_json_dumps
from stepkit.asl.jsonpath import JSONPathSyntaxError
from stepkit.asl.reference_path import compile_reference_path


def test_compile_is_memoised() -> None:
    assert compile_reference_path("$.memo") is compile_reference_path("$.memo")


def test_set_root_replaces_the_document() -> None:
    assert compile_reference_path("$").set({"a": 1}, [1]) == [1]


def test_set_copies_only_the_containers_on_the_path() -> None:
    data = {"a": {"b": 1}, "l": [1, {"z": 1}], "other": {"deep": [1]}}
    snapshot = json.loads(json.dumps(data))
    result = compile_reference_path("$.a.c").set(data, "V")
    assert result == {"a": {"b": 1, "c": "V"}, "l": [1, {"z": 1}], "other": {"deep": [1]}}
    assert data == snapshot  # the input is untouched
    assert result is not data and result["a"] is not data["a"]
    assert result["l"] is data["l"] and result["other"] is data["other"]  # shared


def test_set_replaces_existing_values_in_place_keeping_key_order() -> None:
    result = compile_reference_path("$.a").set({"a": 1, "b": 2}, 3)
    assert list(result.items()) == [("a", 3), ("b", 2)]


def test_set_creates_missing_objects() -> None:
    assert compile_reference_path("$.new.deep.er").set({"x": 1}, True) == {
        "x": 1,
        "new": {"deep": {"er": True}},
    }


def test_set_into_lists() -> None:
    data = {"l": [1, {"z": 1}]}
    assert compile_reference_path("$.l[1].z").set(data, 2) == {"l": [1, {"z": 2}]}
    assert compile_reference_path("$.l[-2]").set(data, 0) == {"l": [0, {"z": 1}]}
    assert compile_reference_path("$['l'][0]").set(data, 9) == {"l": [9, {"z": 1}]}
    assert data == {"l": [1, {"z": 1}]}


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("$.x", "just a string"),
        ("$.x", [1, 2]),
        ("$.s.x", {"s": "str"}),
        ("$.n.x", {"n": 5}),
        ("$.z.x", {"z": None}),
        ("$.l[5]", {"l": [1]}),
        ("$.l[0]", {"l": {"0": 1}}),
        ("$.missing[0]", {}),
    ],
)
def test_set_that_cannot_be_applied_is_a_result_path_match_failure(path: str, data: Any) -> None:
    with pytest.raises(StatesError) as info:
        compile_reference_path(path).set(data, 1)
    assert info.value.error == RESULT_PATH_MATCH_FAILURE
    assert info.value.cause == f"Unable to apply ReferencePath {path} to input {java_json_dumps(data)}"


@pytest.mark.parametrize("path", ["$..a", "$.a[*]", "$.a.*", "$['a','b']", "$.a[0,1]", "$.a[1:]", "$.a[?(@.b)]"])
def test_reference_paths_must_name_a_single_node(path: str) -> None:
    with pytest.raises(JSONPathSyntaxError, match="not a reference path"):
        compile_reference_path(path)


def test_reference_path_syntax_errors() -> None:
    with pytest.raises(JSONPathSyntaxError):
        compile_reference_path("$.")
