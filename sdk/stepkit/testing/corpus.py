"""Running the AWS-recorded conformance corpus (``../shared/conformance``) in-process.

The corpus's own runner starts a process per case (about 6 minutes for the corpus);
this runs the same cases through the same adapter and judges them with the runner's own
``judge`` function, in a fraction of the time, so the test suite can afford it.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from stepkit.testing.conformance import run_case


@dataclass(frozen=True)
class CaseOutcome:
    case_id: str
    passed: bool
    detail: str


def find_corpus(start: Path | None = None) -> Path | None:
    """The corpus folder: ``$STEPKIT_CONFORMANCE``, or ``../shared/conformance`` beside the
    repository that holds ``start`` (default: this checkout). None when absent."""
    env = os.environ.get("STEPKIT_CONFORMANCE")
    if env:
        return Path(env) if Path(env, "run.py").is_file() else None
    here = (start or Path(__file__)).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared" / "conformance"
        if (parent / "pyproject.toml").is_file() and (candidate / "run.py").is_file():
            return candidate
    return None


def _load_runner(corpus: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("stepkit_conformance_runner", corpus / "run.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {corpus / 'run.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def iter_cases(corpus: Path, substring: str | None = None) -> Iterator[dict[str, Any]]:
    for path in sorted((corpus / "cases").rglob("*.json")):
        case = json.loads(path.read_text())
        if not isinstance(case, dict) or "definition" not in case or "expected" not in case:
            continue
        if substring and substring not in case["id"] and substring not in str(path):
            continue
        yield case


def run_corpus(
    corpus: Path, substring: str | None = None, *, adapter: Callable[..., dict[str, Any]] = run_case
) -> list[CaseOutcome]:
    runner = _load_runner(corpus)
    outcomes = []
    for case in iter_cases(corpus, substring):
        kwargs = {"state_machine_type": case["state_machine_type"]} if case.get("state_machine_type") else {}
        try:
            result = adapter(case["definition"], case.get("input"), case.get("mock_config"),
                              case.get("test_case"), **kwargs)
            diffs, _ = runner.judge(case, result)
            outcomes.append(CaseOutcome(case["id"], not diffs, "; ".join(diffs)))
        except Exception as e:  # an adapter crash is this case's failure, not the run's
            outcomes.append(CaseOutcome(case["id"], False, f"{type(e).__name__}: {e}"))
    return outcomes
