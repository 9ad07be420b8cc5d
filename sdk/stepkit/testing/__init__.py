"""Testing helpers: the conformance adapter (``run_case``), the pytest plugin's fixtures
(:mod:`stepkit.testing.pytest_plugin`, :mod:`stepkit.testing.fixtures`).

Imported lazily: pytest loads the plugin at every start-up, so this package costs nothing
until a fixture or ``run_case`` is used."""

from typing import Any

__all__ = ["run_case"]


def __getattr__(name: str) -> Any:
    if name == "run_case":
        from stepkit.testing.conformance import run_case

        return run_case
    raise AttributeError(f"module 'stepkit.testing' has no attribute {name!r}")
