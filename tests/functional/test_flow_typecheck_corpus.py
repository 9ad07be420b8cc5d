"""The type checker over every definition of the conformance corpus (both query languages, every
state type and field): it follows them all without raising, and what it finds names real states."""

import json
import re

import pytest
from pydantic import BaseModel
from test_conformance import CORPUS

from stepkit import flow
from stepkit.flow.typecheck import check_definition
from stepkit.testing.corpus import iter_cases

pytestmark = pytest.mark.skipif(CORPUS is None, reason="the conformance corpus is not on this machine")


class Wanted(BaseModel):
    count: int


class Given(BaseModel):
    label: str


def body(event: Wanted) -> Given:
    return Given(label=str(event.count))


def test_every_corpus_definition_is_followed_and_findings_name_its_states():
    cases = list(iter_cases(CORPUS))
    functions = {m.group(1) for case in cases
                 for m in re.finditer(r"function:([A-Za-z0-9_-]+)", json.dumps(case["definition"]))}
    tasks = [flow.Task(body, name=name) for name in sorted(functions)]
    checked = with_findings = 0
    for case in cases:
        definition = case["definition"]
        findings = check_definition(definition, tasks)
        checked += 1
        with_findings += bool(findings)
        text = json.dumps(definition)
        for finding in findings:
            assert json.dumps(finding.state) + ":" in text, (case["id"], finding)
            assert finding.field == "count" and finding.task.endswith("(Wanted)"), (case["id"], finding)
    assert checked >= 1049
    assert with_findings > 0  # literal payloads without count exist in the corpus: the check does find them
