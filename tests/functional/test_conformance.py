"""The AWS-recorded conformance corpus (``../shared/conformance``) as part of the suite.

Every case must pass except those listed in ``conformance_known_failures.txt`` (one id a
line, with the reason after ``#``). A known failure that starts passing fails this test
too, so the list only ever shrinks. Event types are held to the recorded histories.
"""

from pathlib import Path

import pytest

from stepkit.testing.conformance import run_case
from stepkit.testing.corpus import find_corpus, iter_cases, run_corpus

CORPUS = find_corpus(Path(__file__))
KNOWN = Path(__file__).with_name("conformance_known_failures.txt")

pytestmark = pytest.mark.skipif(
    CORPUS is None,
    reason="the conformance corpus (../shared/conformance beside the repository, or $STEPKIT_CONFORMANCE) "
    "is not on this machine",
)


def known_failures() -> set[str]:
    if not KNOWN.is_file():
        return set()
    ids = (line.split("#", 1)[0].strip() for line in KNOWN.read_text().splitlines())
    return {i for i in ids if i}


def test_every_case_passes_but_the_known_failures():
    outcomes = run_corpus(CORPUS)
    known = known_failures()
    failing = {o.case_id: o.detail for o in outcomes if not o.passed}
    new = {k: v for k, v in failing.items() if k not in known}
    fixed = sorted(known - set(failing))
    assert len(outcomes) >= 1049
    assert not new, "conformance regressions:\n" + "\n".join(f"{k}: {v[:300]}" for k, v in sorted(new.items()))
    assert not fixed, f"these known failures pass now; remove them from {KNOWN.name}: {fixed}"


def test_event_types_match_the_recorded_histories():
    mismatched = []
    for case in iter_cases(CORPUS):
        expected = case.get("expected_event_types")
        if not expected or case["id"] in known_failures():
            continue
        kwargs = {"state_machine_type": case["state_machine_type"]} if case.get("state_machine_type") else {}
        result = run_case(
            case["definition"], case.get("input"), case.get("mock_config"), case.get("test_case"), **kwargs
        )
        if result["event_types"] != expected:
            mismatched.append(case["id"])
    assert not mismatched, f"{len(mismatched)} cases record other event types: {mismatched[:20]}"
