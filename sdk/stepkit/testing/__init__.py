"""Testing helpers: the conformance adapters (``run_case``, ``run_case_roundtrip``), the pytest
plugin's fixtures (:mod:`stepkit.testing.pytest_plugin`, :mod:`stepkit.testing.fixtures`).

Imported lazily: pytest loads the plugin at every start-up, so this package costs nothing
until a fixture or an adapter is used. Any name of :mod:`stepkit.testing.conformance` is
reachable here (``stepkit.testing:run_case`` for the corpus's runner); the round-trip adapter
brings in stepkit.flow, which run_case's callers do not pay for."""

from typing import Any

__all__ = ["run_case", "run_case_roundtrip"]


def __getattr__(name: str) -> Any:
    import importlib

    if name == "run_case_roundtrip":
        from stepkit.testing.roundtrip import run_case_roundtrip

        return run_case_roundtrip
    if name.startswith("__") or name == "conformance":
        raise AttributeError(name)
    conformance = importlib.import_module("stepkit.testing.conformance")
    try:
        return getattr(conformance, name)
    except AttributeError:
        raise AttributeError(f"module 'stepkit.testing' has no attribute {name!r}") from None
