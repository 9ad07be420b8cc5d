"""Compiling a definition: state objects built once, with their paths, templates and
expressions compiled, so that running an execution does no parsing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stepkit.asl.choice import compile_rule
from stepkit.asl.payload import compile_payload
from stepkit.engine.dataflow import JsonPathFlow
from stepkit.engine.map_state import MapState
from stepkit.engine.parallel_state import ParallelState
from stepkit.engine.states import (
    ChoiceState,
    FailState,
    PassState,
    State,
    SucceedState,
    WaitState,
    json_path_catch_output,
)
from stepkit.engine.task_state import TaskState

STATE_TYPES: dict[str, type[State]] = {
    "Pass": PassState,
    "Task": TaskState,
    "Choice": ChoiceState,
    "Wait": WaitState,
    "Succeed": SucceedState,
    "Fail": FailState,
    "Parallel": ParallelState,
    "Map": MapState,
}


@dataclass(slots=True)
class Program:
    """A compiled state machine, Parallel branch or Map item processor."""

    start_at: str
    states: dict[str, State]
    blocking: bool  # holds a Task or Wait (at any depth): worth running in threads


@dataclass(slots=True)
class ChoiceRule:
    matches: Any
    next: str
    assign: Any


class Compiler:
    def __init__(self, query_language: str = "JSONPath", region: str = "us-east-1") -> None:
        self.query_language = query_language
        self.region = region

    def program(self, definition: dict, query_language: str | None = None) -> Program:
        outer = self.query_language
        self.query_language = definition.get("QueryLanguage", query_language or outer)
        try:
            states = {
                name: STATE_TYPES[spec["Type"]](name, spec, self)
                for name, spec in definition["States"].items()
            }
        finally:
            self.query_language = outer
        blocking = any(s.blocking for s in states.values())
        return Program(definition["StartAt"], states, blocking)

    def flow(self, state: State, definition: dict) -> Any:
        if state.query_language == "JSONata":
            from stepkit.engine.jsonata_flow import JsonataFlow

            return JsonataFlow(definition, state)
        return JsonPathFlow(definition, parameters_key=None if state.type_name == "Map" else "Parameters")

    def catch_output(self, state: State, catcher: dict) -> Any:
        if state.query_language == "JSONata":
            from stepkit.engine.jsonata_flow import jsonata_catch_output

            return jsonata_catch_output(catcher)
        return json_path_catch_output(catcher)

    def choice_rule(self, state: State, rule: dict) -> ChoiceRule:
        if state.query_language == "JSONata":
            from stepkit.engine.jsonata_flow import jsonata_choice_rule

            return jsonata_choice_rule(rule)
        assign = compile_payload(rule["Assign"]) if "Assign" in rule else None
        return ChoiceRule(compile_rule(rule), rule["Next"], assign)


def compile_definition(definition: dict, region: str = "us-east-1") -> Program:
    return Compiler(definition.get("QueryLanguage", "JSONPath"), region).program(definition)
