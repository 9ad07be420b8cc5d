"""Testing helpers: the conformance adapter and pytest-friendly runners."""

from stepkit.testing.conformance import run_case

__all__ = ["run_case"]
