"""Testing helpers: the conformance adapters and pytest-friendly runners."""

from stepkit.testing.conformance import run_case
from stepkit.testing.roundtrip import run_case_roundtrip

__all__ = ["run_case", "run_case_roundtrip"]
