"""Testing helpers: the conformance adapters and pytest-friendly runners."""

from typing import Any

from stepkit.testing.conformance import run_case

__all__ = ["run_case", "run_case_roundtrip"]


def __getattr__(name: str) -> Any:
    # The round-trip adapter brings in stepkit.flow; run_case's callers should not pay for it.
    if name == "run_case_roundtrip":
        from stepkit.testing.roundtrip import run_case_roundtrip

        return run_case_roundtrip
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
