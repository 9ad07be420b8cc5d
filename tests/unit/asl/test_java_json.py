"""Values printed the way AWS's Java runtime does (Jackson's JSON, Java's toString)."""

from __future__ import annotations

import json

import pytest

from stepkit.asl.java_json import java_double_to_string, java_json_dumps, java_to_string


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1.0"),
        (1.1, "1.1"),
        (-2.5, "-2.5"),
        (100.0, "100.0"),
        (0.001, "0.001"),
        (0.0001, "1.0E-4"),
        (1.5e-7, "1.5E-7"),
        (9999999.0, "9999999.0"),
        (1e7, "1.0E7"),
        (12345678.9, "1.23456789E7"),
        (1e20, "1.0E20"),
        (-1.25e300, "-1.25E300"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
    ],
)
def test_java_double_to_string(value: float, text: str) -> None:
    assert java_double_to_string(value) == text


def test_java_json_dumps_is_jackson_compact_json() -> None:
    value = {"a": [1, 2.0, "x"], "b": None, "c": True, "d": {"e": 1e20}, "f": 'q"\\/\n\t\x01é'}
    assert (
        java_json_dumps(value) == '{"a":[1,2.0,"x"],"b":null,"c":true,"d":{"e":1.0E20},"f":"q\\"\\\\/\\n\\t\\u0001é"}'
    )
    assert json.loads(java_json_dumps({"k": [1, {"z": "\x1f"}]})) == {"k": [1, {"z": "\x1f"}]}
    with pytest.raises(TypeError):
        java_json_dumps({"a": object()})


def test_java_to_string_prints_maps_and_lists_like_java() -> None:
    # Recorded on AWS: States.Format('{}', {"Arg1": 1, "Arg2": []}) gives {Arg1=1, Arg2=[]}.
    assert java_to_string({"Arg1": 1, "Arg2": []}) == "{Arg1=1, Arg2=[]}"
    assert java_to_string([1, 1.5, None, True, "s", {"k": [False]}]) == "[1, 1.5, null, true, s, {k=[false]}]"
    assert java_to_string(None) == "null"
    with pytest.raises(TypeError):
        java_to_string(object())
