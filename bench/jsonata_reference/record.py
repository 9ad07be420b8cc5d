"""Run every case of ``cases.py`` through jsonata-js 2.0.6 (the reference implementation
AWS documents) and through stepkit; write jsonata-js's answers where the unit tests read
them (so the tests need no node) and print each difference.

    npm install --prefix /tmp/jsonata-ref jsonata@2.0.6
    .venv/bin/python bench/jsonata_reference/record.py /tmp/jsonata-ref/node_modules
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from stepkit.asl.jsonata import UNDEFINED, JsonataEvaluationError, compile_expression

sys.path.insert(0, str(Path(__file__).parent))
from cases import ADDRESS, cases

HERE = Path(__file__).parent
RECORDED = HERE.parents[1] / "tests" / "unit" / "asl" / "data" / "jsonata_js_2_0_6.json"


def reference(all_cases: list[dict], node_modules: str) -> list[dict]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(all_cases, f)
    try:
        out = subprocess.run(
            ["node", str(HERE / "evaluate.js"), f.name],
            env={**os.environ, "NODE_PATH": node_modules},
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        os.unlink(f.name)
    return json.loads(out.stdout)


def stepkit(case: dict) -> dict[str, Any]:
    try:
        value = compile_expression("{% " + case["expr"] + " %}").evaluate({"input": case["input"]})
    except JsonataEvaluationError as e:
        return {"error": e.code or e.kind}
    return {"undefined": True} if value is UNDEFINED else {"value": value}


def main() -> int:
    all_cases = cases()
    answers = reference(all_cases, sys.argv[1])
    recorded = [{"expr": c["expr"], **a} for c, a in zip(all_cases, answers, strict=True)]
    RECORDED.parent.mkdir(parents=True, exist_ok=True)
    document = {"jsonata": "jsonata-js 2.0.6", "input": ADDRESS, "cases": recorded}
    RECORDED.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    differences = 0
    for case, answer in zip(all_cases, answers, strict=True):
        ours = stepkit(case)
        if ours != answer:
            differences += 1
            print(f"{case['expr']}\n  jsonata-js: {answer}\n  stepkit:    {ours}")
    print(f"{len(all_cases)} cases, {differences} differences")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
