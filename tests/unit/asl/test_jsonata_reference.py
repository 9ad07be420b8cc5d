"""stepkit's JSONata against jsonata-js 2.0.6, the reference implementation AWS documents.

The expected values were written by jsonata-js itself (``bench/jsonata_reference/record.py``
runs the documented example of every supported built-in, and the suspect edge cases, through
node); this test needs no node.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from stepkit.asl.jsonata import UNDEFINED, JsonataEvaluationError, compile_expression

_DOCUMENT = json.loads((Path(__file__).parent / "data" / "jsonata_js_2_0_6.json").read_text())
INPUT = _DOCUMENT["input"]
RECORDED = _DOCUMENT["cases"]


def _stepkit(expr: str) -> dict:
    try:
        value = compile_expression("{% " + expr + " %}").evaluate({"input": INPUT})
    except JsonataEvaluationError as e:
        return {"error": e.code or e.kind}
    return {"undefined": True} if value is UNDEFINED else {"value": value}


@pytest.mark.parametrize("case", RECORDED, ids=[case["expr"] for case in RECORDED])
def test_builtin_answers_as_jsonata_js(case: dict) -> None:
    expected = {k: v for k, v in case.items() if k != "expr"}
    assert _stepkit(case["expr"]) == expected


def test_the_record_covers_every_function_group() -> None:
    functions = {name for case in RECORDED for name in re.findall(r"\$(\w+)\(", case["expr"])}
    for name in ("split", "match", "replace", "formatNumber", "round", "fromMillis", "toMillis", "reduce", "zip"):
        assert name in functions
