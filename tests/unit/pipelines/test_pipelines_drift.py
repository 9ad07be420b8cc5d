"""The checked-in definitions are generated from the Python pipelines: this fails when they drift.

Regenerate after changing ``pipelines/*.py`` with ``make pipelines`` (one ``stepkit compile`` per
pipeline); after a change made to a definition file, port it to the pipeline's Python
(``stepkit decompile statemachines/<name>.asl.json`` prints the builder code of every state).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from stepkit.asl.validation import ERROR, validate_definition
from stepkit.flow.stack import import_flow

REPO = Path(__file__).resolve().parents[3]
#: Each pipeline: its Workflow (``pipelines/<name>.py``, variable ``<name>``) and the file generated from it.
PIPELINES = {name: (f"pipelines.{name}:{name}", f"statemachines/{name}.asl.json")
             for name in ("training", "batch_inference")}


def drift(generated: dict[str, Any], committed: dict[str, Any]) -> list[str]:
    """What differs, state by state (and the top-level fields), in words."""
    found = [f"top-level {key}: the Python has {generated.get(key)!r}, the file {committed.get(key)!r}"
             for key in sorted({*generated, *committed} - {"States"}) if generated.get(key) != committed.get(key)]
    ours, theirs = generated.get("States", {}), committed.get("States", {})
    found += [f"state {name!r} is only in the file" for name in theirs if name not in ours]
    found += [f"state {name!r} is only in the Python" for name in ours if name not in theirs]
    found += [f"state {name!r} differs:\n  Python: {json.dumps(ours[name], sort_keys=True)}\n"
              f"  file:   {json.dumps(theirs[name], sort_keys=True)}"
              for name in ours if name in theirs and ours[name] != theirs[name]]
    return found


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_the_committed_definition_is_what_the_python_compiles_to(name):
    target, file = PIPELINES[name]
    generated = import_flow(REPO, target).to_asl()
    committed = json.loads((REPO / file).read_text(encoding="utf-8"))
    problems = drift(generated, committed)
    assert not problems, (f"{file} and {target} disagree (regenerate: make pipelines; or port the file's change to "
                          "the Python first):\n" + "\n".join(problems))


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_the_generated_definition_is_valid_and_is_the_one_the_stack_deploys(name):
    target, file = PIPELINES[name]
    generated = import_flow(REPO, target).to_asl()
    assert [d for d in validate_definition(json.dumps(generated)) if d.severity == ERROR] == []
    stack = yaml.safe_load((REPO / "infra" / "stack.yaml").read_text(encoding="utf-8"))
    assert stack["state_machines"][name]["definition"] == file


def test_drift_names_the_states_that_differ():
    generated = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}, "B": {"Type": "Succeed"}}}
    committed = {"StartAt": "A", "Comment": "x", "States": {"A": {"Type": "Pass", "Next": "C"}, "C": {}}}
    assert drift(generated, committed) == [
        "top-level Comment: the Python has None, the file 'x'",
        "state 'C' is only in the file",
        "state 'B' is only in the Python",
        'state \'A\' differs:\n  Python: {"End": true, "Type": "Pass"}\n  file:   {"Next": "C", "Type": "Pass"}',
    ]
    assert drift(generated, json.loads(json.dumps(generated))) == []
