"""The round-trip conformance adapter: ASL -> Python builder code -> ASL -> run."""

from __future__ import annotations

from typing import Any

from stepkit.flow import from_python, to_python
from stepkit.testing.conformance import run_case


def run_case_roundtrip(
    definition: dict,
    input: Any,
    mock_config: dict | None,
    test_case: str | None,
    state_machine_type: str = "STANDARD",
) -> dict[str, Any]:
    """``run_case`` on the definition that ``to_python``'s code for ``definition`` builds.

    What to_python cannot express is not valid ASL; that comes back as the same
    INVALID_DEFINITION result ``run_case`` gives for an invalid definition.
    """
    try:
        source = to_python(definition)
    except ValueError as e:
        return {"status": "INVALID_DEFINITION", "output": None, "error": "InvalidDefinition",
                "cause": str(e), "event_types": []}
    rebuilt = from_python(source, filename="<to_python>")
    return run_case(rebuilt, input, mock_config, test_case, state_machine_type)
