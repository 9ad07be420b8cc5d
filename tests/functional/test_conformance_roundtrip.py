"""The conformance corpus through the Python round trip: ASL -> ``to_python`` -> builder code
-> ASL -> engine. Every case that passes directly must pass round-tripped (the direct run's
known failures, ``conformance_known_failures.txt``, are allowed to fail here too)."""

import pytest
from test_conformance import CORPUS, known_failures  # the direct run's corpus and known failures

from stepkit.flow import from_python, to_python
from stepkit.testing import run_case_roundtrip
from stepkit.testing.corpus import iter_cases, run_corpus

pytestmark = pytest.mark.skipif(
    CORPUS is None,
    reason="the conformance corpus (../shared/conformance beside the repository, or $STEPKIT_CONFORMANCE) "
    "is not on this machine",
)


def test_every_case_passes_round_tripped():
    outcomes = run_corpus(CORPUS, adapter=run_case_roundtrip)
    failing = {o.case_id: o.detail for o in outcomes if not o.passed and o.case_id not in known_failures()}
    assert len(outcomes) >= 1049
    assert not failing, "round-trip failures:\n" + "\n".join(f"{k}: {v[:300]}" for k, v in sorted(failing.items()))


def test_every_definition_rebuilds_equal_and_the_code_is_stable():
    for case in iter_cases(CORPUS):
        rebuilt = from_python(to_python(case["definition"]))
        assert rebuilt == case["definition"], case["id"]
        # The builder writes fields in its own order; from there on the code is a fixpoint.
        source = to_python(rebuilt)
        assert to_python(from_python(source)) == source, case["id"]
