"""The adapter that ``../shared/conformance/run.py`` calls."""

from __future__ import annotations

from typing import Any

from stepkit.runner import InvalidDefinition, run


def run_case(
    definition: dict,
    input: Any,
    mock_config: dict | None,
    test_case: str | None,
    state_machine_type: str = "STANDARD",
) -> dict[str, Any]:
    """Run one recorded case; waits are skipped (the corpus checks results, not time)."""
    try:
        execution = run(
            definition,
            input,
            mock_config=mock_config,
            test_case=test_case,
            skip_waits=True,
            state_machine_type=state_machine_type,
        )
    except InvalidDefinition as e:
        return {"status": "INVALID_DEFINITION", "output": None, "error": "InvalidDefinition",
                "cause": str(e), "event_types": []}
    return {
        "status": execution.status,
        "output": execution.output,
        "error": execution.error,
        "cause": execution.cause,
        "event_types": execution.event_types,
    }
