"""TestState: one state run on its own, as the Step Functions console's test does."""

from __future__ import annotations

import json
import uuid
from typing import Any

from stepkit.endpoint.protocol import AwsError, RequestContext
from stepkit.endpoint.sfn_records import check_definition, json_text
from stepkit.endpoint.validation import parse_json_text
from stepkit.engine.callbacks import TaskTokens
from stepkit.engine.recovery import error_matches
from stepkit.integrations.registry import IntegrationRegistry
from stepkit.runner import StateMachine


def run_test_state(p: dict, ctx: RequestContext, registry: IntegrationRegistry, tokens: TaskTokens) -> dict:
    """TestState: the state alone (its targets stubbed by Succeed states), run once."""
    try:
        state = parse_json_text(p["definition"])
    except ValueError as exc:
        raise AwsError("InvalidDefinition",
                       f"Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {exc}'") from None
    if not isinstance(state, dict) or "Type" not in state:
        raise AwsError("InvalidDefinition", "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: "
                       "The definition must be a state object with a Type'")
    name = p.get("stateName") or "TestState"
    state = dict(state)
    retry = state.pop("Retry", None)
    stubs = {}
    for target in _targets(state):
        if target != name:
            stubs[target] = {"Type": "Succeed"}
    definition = {"StartAt": name, "States": {name: state, **stubs}}
    if "QueryLanguage" in state:
        definition["QueryLanguage"] = state["QueryLanguage"]
    text = json.dumps(definition)
    check_definition(text, "STANDARD")
    input_text = p.get("input") or "{}"
    try:
        data = parse_json_text(input_text)
    except ValueError as exc:
        raise AwsError("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{exc}'") from None
    machine = StateMachine(definition, name="TestState", region=ctx.region, account_id=ctx.account,
                           registry=registry, validate=False, tokens=tokens, role_arn=p.get("roleArn"))
    result = machine.prepare(data, name=f"test-{uuid.uuid4()}").start()
    entered = [e.details["name"] for e in result.history if e.event_type.endswith("StateEntered")]
    failed = [e for e in result.history if e.event_type in ("TaskFailed", "LambdaFunctionFailed", "TaskTimedOut")]
    out: dict[str, Any] = {}
    level = p.get("inspectionLevel", "INFO")
    inspection: dict[str, Any] = {"input": input_text}
    for event in result.history:
        if event.event_type in ("TaskSucceeded", "LambdaFunctionSucceeded"):
            inspection["result"] = json_text((event.details or {}).get("output"))
        if event.event_type == "TaskScheduled":
            inspection["afterParameters"] = json_text((event.details or {}).get("parameters"))
    if result.status == "SUCCEEDED":
        out["output"] = json_text(result.output)
        if len(entered) > 1:
            out["nextState"] = entered[1]
        out["status"] = "CAUGHT_ERROR" if failed and len(entered) > 1 else "SUCCEEDED"
        if failed and len(entered) > 1:
            details = failed[-1].details or {}
            out["error"], out["cause"] = details.get("error"), details.get("cause")
    else:
        out["status"] = "FAILED"
        if retry and any(error_matches(r.get("ErrorEquals", []), result.error) for r in retry):
            out["status"] = "RETRIABLE"
        if result.error is not None:
            out["error"] = result.error
        if result.cause is not None:
            out["cause"] = result.cause
    if level in ("DEBUG", "TRACE"):
        out["inspectionData"] = inspection
    return {k: v for k, v in out.items() if v is not None}


def _targets(state: dict) -> list[str]:
    """The state names a state can go to (Next, Default, Choices, Catch)."""
    names = []
    if isinstance(state.get("Next"), str):
        names.append(state["Next"])
    if isinstance(state.get("Default"), str):
        names.append(state["Default"])
    for choice in state.get("Choices") or []:
        if isinstance(choice, dict) and isinstance(choice.get("Next"), str):
            names.append(choice["Next"])
    for catcher in state.get("Catch") or []:
        if isinstance(catcher, dict) and isinstance(catcher.get("Next"), str):
            names.append(catcher["Next"])
    return list(dict.fromkeys(names))
