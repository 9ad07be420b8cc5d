"""Compiling a definition: state objects built once, with their paths, templates and
expressions compiled, so that running an execution does no parsing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stepkit.asl.choice import compile_rule
from stepkit.asl.payload import compile_payload
from stepkit.engine.jsonpath_flow import JsonPathFlow
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

if TYPE_CHECKING:
    from stepkit.engine.jsonata_flow import JsonataChoiceRule

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
class JsonPathChoiceRule:
    matches: Any
    next: str
    assign: Any


class DefinitionError(Exception):
    """A definition the compiler cannot build, with where (``/States/A/Next``) and why."""

    def __init__(self, location: str, message: str, code: str = "SCHEMA_VALIDATION_FAILED") -> None:
        super().__init__(f"{message} at {location}")
        self.location = location
        self.message = message
        self.code = code


def _problem(error: Exception) -> str:
    """What a user reads for an exception raised while building a state."""
    if isinstance(error, KeyError):
        return f"The field {error.args[0]!r} is required but was missing"
    if isinstance(error, TypeError | AttributeError) or not str(error):
        return "A field of this state has a value of the wrong type"  # Python's text names Python types
    return f"The state is not valid: {error}"


class Compiler:
    def __init__(self, query_language: str = "JSONPath", region: str = "us-east-1") -> None:
        self.query_language = query_language
        self.region = region
        self._where: list[str] = []  # the location of the program being compiled

    def program(self, definition: Any, at: str = "") -> Program:
        """A machine, Parallel branch (``at`` "Branches/0") or Map processor ("ItemProcessor").

        A state without its own QueryLanguage uses the machine's, never an enclosing Map's or
        Parallel's (AWS: "If the state does not contain a QueryLanguage field, then it will use
        the query language specified in the top-level QueryLanguage field"). A definition the
        compiler cannot build (validation turned off) raises :class:`DefinitionError`.
        """
        base = self._where[-1] if self._where else ""
        where = f"{base}/{at}" if at else base
        if not isinstance(definition, dict):
            raise DefinitionError(where or "/", "A state machine must be a JSON object")
        states_def = definition.get("States")
        if not isinstance(states_def, dict) or not states_def:
            raise DefinitionError(f"{where}/States", "'States' must be a non-empty JSON object")
        states: dict[str, State] = {}
        for name, spec in states_def.items():
            states[name] = self._state(name, spec, f"{where}/States/{name}")
        start_at = definition.get("StartAt")
        if not isinstance(start_at, str) or start_at not in states:
            raise DefinitionError(f"{where}/StartAt", f"Missing 'Next' target: {start_at}", "MISSING_TRANSITION_TARGET")
        for name, state in states.items():
            for field, target in _transitions(state):
                if not isinstance(target, str) or target not in states:
                    message = f"Missing 'Next' target: {target}"
                    raise DefinitionError(f"{where}/States/{name}/{field}", message, "MISSING_TRANSITION_TARGET")
        blocking = any(s.blocking for s in states.values())
        return Program(start_at, states, blocking)

    def _state(self, name: str, spec: Any, where: str) -> State:
        if not isinstance(spec, dict):
            raise DefinitionError(where, "A state must be a JSON object")
        state_type = STATE_TYPES.get(str(spec.get("Type")))
        if state_type is None:
            raise DefinitionError(f"{where}/Type", f"Unknown state type: {spec.get('Type')}")
        self._where.append(where)
        try:
            return state_type(name, spec, self)
        except DefinitionError:
            raise
        except Exception as error:  # a field of the wrong type or missing: say where
            raise DefinitionError(where, _problem(error)) from error
        finally:
            self._where.pop()

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

    def choice_rule(self, state: State, rule: dict) -> JsonPathChoiceRule | JsonataChoiceRule:
        if state.query_language == "JSONata":
            from stepkit.engine.jsonata_flow import jsonata_choice_rule

            return jsonata_choice_rule(rule)
        assign = compile_payload(rule["Assign"]) if "Assign" in rule else None
        return JsonPathChoiceRule(compile_rule(rule), rule["Next"], assign)


def _transitions(state: State) -> list[tuple[str, str]]:
    """(field, target) of every transition a state declares."""
    out = [("Next", state.next)] if state.next is not None else []
    out += [(f"Choices[{i}]/Next", rule.next) for i, rule in enumerate(getattr(state, "rules", []))]
    default = getattr(state, "default", None)
    if isinstance(default, str):
        out.append(("Default", default))
    policy = getattr(state, "policy", None)
    if policy is not None:
        out += [(f"Catch[{i}]/Next", c.next) for i, c in enumerate(policy.catchers)]
    return out


def compile_definition(definition: dict, region: str = "us-east-1") -> Program:
    """Compile a definition; one the compiler cannot build raises ``InvalidDefinition`` naming
    the place (``SCHEMA_VALIDATION_FAILED: ... at /States/A``), as CreateStateMachine would."""
    try:
        language = definition.get("QueryLanguage", "JSONPath") if isinstance(definition, dict) else "JSONPath"
        return Compiler(language, region).program(definition)
    except DefinitionError as error:
        from stepkit.asl.validation import ERROR, Diagnostic, invalid_definition_message
        from stepkit.runner import InvalidDefinition  # the runner imports this module

        diagnostic = Diagnostic(ERROR, error.code, error.message, error.location)
        raise InvalidDefinition(invalid_definition_message([diagnostic]), [diagnostic]) from error
