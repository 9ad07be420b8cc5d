"""Definition validation, as AWS Step Functions' ValidateStateMachineDefinition does it.

:func:`validate_definition` returns every problem at once, each as a :class:`Diagnostic`
with AWS's code, message and location (``/States/Fanout/ItemProcessor/States/Train/Next``,
array entries as ``Catch[0]``); :func:`invalid_definition_message` words them the way
CreateStateMachine's ``InvalidDefinition`` error does.

The schema (which fields each object takes, what each value must be) lives in the pydantic
models of :mod:`stepkit.asl.definition_model`; this module translates their errors into
located diagnostics and checks what spans several fields or states: query-language rules,
mutually exclusive fields, transitions, reachability, retry/catch order, Choice rules,
payload templates and JSONata expressions.

The diagnostics' codes and wording live in :mod:`stepkit.asl.diagnostics`, the
Jackson-like parsing of definition text in :mod:`stepkit.asl.definition_text`.

Wording: messages AWS is known to produce are reproduced exactly ("Missing 'Next' target:
X", "State \\"X\\" is not reachable.", "Workflow has no terminal state", "These fields are
required: [...]", "Field 'X' is not supported", "The field 'Type' should have one of these
values: [...]", the QueryLanguage messages, the ``.$`` message, the Express-workflow
messages). Where AWS's text is not known the message follows the same style.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from stepkit.asl import definition_model as model
from stepkit.asl.definition_fields import (
    BATCH_LIMITS,
    EXCLUSIVE,
    EXPRESSION_FIELDS,
    NESTED_LANGUAGE_FIELDS,
    STATE_JSONATA_ONLY,
    STATE_JSONPATH_ONLY,
    TEMPLATE_FIELDS,
    TRANSITIONING,
    WAIT_FIELDS,
    Location,
    as_object,
    field_name,
    format_location,
    has_dynamic_key,
    is_terminal,
    not_supported,
    object_entries,
    required,
    strings,
    transitions,
    wrong_language,
)
from stepkit.asl.definition_model import JSONATA, JSONPATH, QUERY_LANGUAGES, STATE_FIELDS, STATE_TYPES
from stepkit.asl.definition_text import parse_definition_json
from stepkit.asl.diagnostics import (
    DUPLICATE_STATE_NAME,
    ERROR,
    INVALID_JSONATA_EXPRESSION,
    INVALID_STATE_NAME,
    MISSING_END_STATE,
    MISSING_TRANSITION_TARGET,
    NO_DOLLAR,
    NO_PATH,
    PASS_RESULT_IS_STATIC,
    SCHEMA_VALIDATION_FAILED,
    UNRESOLVED_PLACEHOLDER,
    WARNING,
    Diagnostic,
    invalid_definition_message,
)
from stepkit.asl.substitutions import PLACEHOLDER, has_placeholder, quote_bare_placeholders, substitute_known
from stepkit.asl.variable_names import (
    outer_scope_clashes,
    outer_scope_message,
    state_assignments,
    variable_name_problem,
)

# What callers import together with validate_definition (the rest: stepkit.asl.diagnostics).
__all__ = ["ERROR", "Diagnostic", "invalid_definition_message", "validate_definition"]

MAX_STATE_NAME_LENGTH = 80
STATES_ALL = "States.ALL"

_LOOKS_LIKE_PATH = re.compile(r"\$\$?[.\[]")
_LOOKS_LIKE_INTRINSIC = re.compile(r"States\.[A-Za-z0-9]+\(")
_EXPRESS_UNSUPPORTED_SUFFIX = re.compile(r"arn:[^:]+:states:::.+\.(sync(?::2)?|waitForTaskToken)")
_ACTIVITY = re.compile(r"arn:[^:]+:states:[^:]*:[^:]*:activity:.+")


def validate_definition(
    definition: str | Mapping[str, Any],
    *,
    state_machine_type: str = "STANDARD",
    substitutions: Mapping[str, str] | None = None,
) -> list[Diagnostic]:
    """Every problem with ``definition`` (JSON text or an already-parsed object).

    Never raises on bad input: text that is no JSON gives one INVALID_JSON_DESCRIPTION
    diagnostic. ``state_machine_type`` "EXPRESS" adds the Express-workflow rules.

    ``substitutions`` switches on AWS definition-substitution handling (CloudFormation
    ``DefinitionSubstitutions``, SAM): each ``${Name}`` is replaced by its value as text,
    before parsing; placeholders without a value stay in place (a bare one, outside any
    string, becomes a string so the text still parses), are reported once each as an
    UNRESOLVED_PLACEHOLDER warning, and a value holding one is accepted for any field
    without its content being checked.
    """
    placeholders = substitutions is not None
    if isinstance(definition, str):
        text = definition
        if placeholders:
            text = quote_bare_placeholders(substitute_known(text, substitutions or {}))
        if not text.strip():
            return [_no_object()]
        parsed, problem = parse_definition_json(text)
        if problem is not None:
            return [problem]
    else:
        parsed = _substitute_values(definition, substitutions) if placeholders else definition
    if not isinstance(parsed, Mapping):
        return [_no_object()]
    checker = _DefinitionChecker(express=state_machine_type == "EXPRESS", placeholders=placeholders)
    checker.check_definition(parsed)
    if placeholders:
        checker.report_placeholders(parsed)
    return checker.diagnostics


# --- input -----------------------------------------------------------------------------


def _no_object() -> Diagnostic:
    return Diagnostic(ERROR, SCHEMA_VALIDATION_FAILED, "Definition must be a valid JSON object", "")


def _substitute_values(value: Any, values: Mapping[str, str] | None) -> Any:
    if isinstance(value, str):
        return substitute_known(value, values or {})
    if isinstance(value, Mapping):
        return {k: _substitute_values(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute_values(v, values) for v in value]
    return value


# --- the checker -------------------------------------------------------------------------


class _DefinitionChecker:
    def __init__(self, *, express: bool, placeholders: bool) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.express = express
        self.placeholders = placeholders
        self.top_language = JSONPATH
        self.state_names: set[str] = set()

    def add(self, code: str, message: str, location: Location | None, severity: str = ERROR) -> None:
        where = "" if location is None else format_location(location)
        self.diagnostics.append(Diagnostic(severity, code, message, where))

    def schema(self, message: str, location: Location) -> None:
        self.add(SCHEMA_VALIDATION_FAILED, message, location)

    def deferred(self, value: Any) -> bool:
        """A placeholder value, when tolerated, is not checked."""
        return self.placeholders and has_placeholder(value)

    # pydantic errors -> diagnostics

    def translate(self, exc: ValidationError, prefix: Location, tag: Any = None) -> None:
        """Word pydantic's errors as AWS does; ``tag`` is the discriminator value pydantic
        puts first in the locations of a state's errors. Missing fields of one object are
        reported together, where the first of them was found."""
        missing: dict[Location, list[str]] = {}
        reports: list[tuple[Location, str | None]] = []  # None: that object's missing fields
        for error in exc.errors(include_url=False):
            loc: Location = tuple(error["loc"])
            if tag is not None and loc and loc[0] == tag:
                loc = loc[1:]
            at = prefix + loc
            kind = error["type"]
            if kind in ("missing", "union_tag_not_found"):
                parent, name = (at[:-1], str(at[-1])) if kind == "missing" else (at, "Type")
                if parent not in missing:
                    missing[parent] = []
                    reports.append((parent, None))
                missing[parent].append(name)
            elif kind == "extra_forbidden":
                reports.append((at[:-1], not_supported(str(at[-1]))))
            elif kind == "union_tag_invalid":
                reports.append(((*at, "Type"), self._word(error, at)))
            else:
                reports.append((at, self._word(error, at)))
        for at, message in reports:
            self.schema(message if message is not None else required(missing[at]), at)

    @staticmethod
    def _word(error: Mapping[str, Any], at: Location) -> str:
        kind, field = error["type"], field_name(at)
        if kind == "union_tag_invalid":
            return f"The field 'Type' should have one of these values: [{', '.join(STATE_TYPES)}]"
        if kind == model.VALUE_ERROR:
            return f"The value for the field '{field}' {error['msg']}"
        if kind == model.ENUM_ERROR:
            return f"The field '{field}' should have one of these values: [{error['msg']}]"
        if kind == model.MESSAGE_ERROR:
            return str(error["msg"])
        if kind in ("model_type", "model_attributes_type", "dict_type"):
            return f"The value for the field '{field}' must be an OBJECT"
        if kind == "list_type":
            return f"The value for the field '{field}' must be an ARRAY"
        if kind == "too_short":
            return f"The field '{field}' should be non-empty"
        return f"The value for the field '{field}' is invalid: {error['msg']}"

    # the definition

    def check_definition(self, definition: Mapping[str, Any]) -> None:
        try:
            model.validate_machine(definition, placeholders=self.placeholders)
        except ValidationError as exc:
            self.translate(exc, ())
        if definition.get("QueryLanguage") in QUERY_LANGUAGES:
            self.top_language = definition["QueryLanguage"]
        self.check_machine(definition, (), top=True)
        for location, name in outer_scope_clashes(definition, self.top_language):
            self.schema(outer_scope_message(name), location)

    def check_machine(self, machine: Mapping[str, Any], loc: Location, *, top: bool) -> None:
        """The states of the top level, a branch or an item processor, and their graph."""
        states = machine.get("States")
        if not isinstance(states, Mapping) or not states:
            return
        for name in getattr(states, "duplicate_keys", ()):
            self.add(DUPLICATE_STATE_NAME, f"Duplicate State name: {name}", (*loc, "States", name))
        for name, state in states.items():
            self.check_state(str(name), state, (*loc, "States", name))
        self.check_graph(machine, states, loc, top=top)

    def check_graph(
        self, machine: Mapping[str, Any], states: Mapping[str, Any], loc: Location, *, top: bool
    ) -> None:
        edges: dict[str, list[str]] = {}
        for name, state in states.items():
            edges[name] = []
            for target, where in transitions(as_object(state)):
                if target in states:
                    edges[name].append(target)
                elif not self.deferred(target):
                    self.add(
                        MISSING_TRANSITION_TARGET,
                        f"Missing 'Next' target: {target}",
                        (*loc, "States", name, *where),
                    )
        start = machine.get("StartAt")
        if isinstance(start, str) and start not in states and not self.deferred(start):
            self.add(MISSING_TRANSITION_TARGET, f"Missing 'Next' target: {start}", (*loc, "StartAt"))
        has_terminal = any(is_terminal(as_object(state)) for state in states.values())
        if top and not has_terminal:
            # AWS stops here: with no way to end, it reports no state as unreachable.
            self.add(MISSING_END_STATE, "Workflow has no terminal state", None)
            return
        if not isinstance(start, str) or start not in states:
            return
        reached, todo = {start}, [start]
        while todo:
            for target in edges[todo.pop()]:
                if target not in reached:
                    reached.add(target)
                    todo.append(target)
        for name in states:
            if name not in reached:
                self.add(
                    MISSING_TRANSITION_TARGET, f'State "{name}" is not reachable.', (*loc, "States", name)
                )

    # one state

    def check_state(self, name: str, state: Any, loc: Location) -> None:
        if not name or len(name) > MAX_STATE_NAME_LENGTH:
            self.add(
                INVALID_STATE_NAME,
                f"State name '{name}' must be between 1 and {MAX_STATE_NAME_LENGTH} characters long",
                loc,
            )
        if name in self.state_names:
            self.add(DUPLICATE_STATE_NAME, f"Duplicate State name: {name}", loc)
        self.state_names.add(name)
        if not isinstance(state, Mapping):
            self.schema(f"The value for the field '{name}' must be an OBJECT", loc)
            return
        kind = state["Type"] if isinstance(state.get("Type"), str) else None
        language = self.language_of(state, loc)
        schema_input = self.strip_other_language(state, kind, language, loc)
        try:
            model.validate_state(schema_input, query_language=language, placeholders=self.placeholders)
        except ValidationError as exc:
            self.translate(exc, loc, tag=kind)
        if kind not in STATE_FIELDS:
            return
        self.check_transition(state, kind, loc)
        self.check_exclusive(state, kind, language, loc)
        self.check_error_handling(state, loc)
        self.check_variable_names(state, language, loc)
        if language == JSONPATH:
            self.check_jsonpath_state(state, kind, loc)
        else:
            self.check_jsonata_state(state, loc)
        if kind == "Task":
            self.check_task(state, loc)
        elif kind == "Choice":
            for index, rule in object_entries(state.get("Choices")):
                self.check_rule(rule, (*loc, "Choices", index), language, top=True)
        elif kind == "Parallel":
            for index, branch in object_entries(state.get("Branches")):
                self.check_machine(branch, (*loc, "Branches", index), top=False)
        elif kind == "Map":
            self.check_map(state, language, loc)

    def language_of(self, state: Mapping[str, Any], loc: Location) -> str:
        """A state's own QueryLanguage, else the top level's (never an enclosing state's)."""
        declared = state.get("QueryLanguage")
        if declared not in QUERY_LANGUAGES:
            return self.top_language
        if declared == JSONPATH and self.top_language == JSONATA:
            self.schema(
                "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine", loc
            )
        return str(declared)

    def strip_other_language(
        self, state: Mapping[str, Any], kind: Any, language: str, loc: Location
    ) -> dict[str, Any]:
        """Report the fields the other query language owns and return the state without them,
        so that the schema does not report them a second time."""
        allowed = STATE_FIELDS.get(kind, frozenset())
        foreign = STATE_JSONATA_ONLY if language == JSONPATH else STATE_JSONPATH_ONLY
        cleaned: dict[str, Any] = {}
        for field, value in state.items():
            if field in foreign and field in allowed:
                # A JSONata-only field in a JSONPath state is reported at the state.
                self.schema(wrong_language(language, field), loc if language == JSONPATH else (*loc, field))
            else:
                cleaned[field] = value
        for field in ("ItemReader", "ItemBatcher", "ResultWriter"):
            if isinstance(cleaned.get(field), Mapping):
                cleaned[field] = self.strip_nested(cleaned[field], field, language, (*loc, field))
        reader = as_object(cleaned.get("ItemReader"))
        if isinstance(reader.get("ReaderConfig"), Mapping):
            cleaned["ItemReader"] = {
                **reader,
                "ReaderConfig": self.strip_nested(
                    reader["ReaderConfig"], "ReaderConfig", language, (*loc, "ItemReader", "ReaderConfig")
                ),
            }
        if isinstance(cleaned.get("Catch"), list):
            cleaned["Catch"] = [
                self.strip_nested(c, "Catch", language, (*loc, "Catch", i)) if isinstance(c, Mapping) else c
                for i, c in enumerate(cleaned["Catch"])
            ]
        if kind == "Choice" and isinstance(cleaned.get("Choices"), list):
            cleaned["Choices"] = [
                self.strip_rule(rule, language, (*loc, "Choices", i))
                for i, rule in enumerate(cleaned["Choices"])
            ]
        return cleaned

    def strip_nested(self, obj: Mapping[str, Any], kind: str, language: str, loc: Location) -> dict[str, Any]:
        jsonpath_only, jsonata_only = NESTED_LANGUAGE_FIELDS[kind]
        foreign = jsonata_only if language == JSONPATH else jsonpath_only
        cleaned = {}
        for field, value in obj.items():
            if field in foreign:
                self.schema(wrong_language(language, field), (*loc, field))
            else:
                cleaned[field] = value
        return cleaned

    def strip_rule(self, rule: Any, language: str, loc: Location) -> Any:
        if not isinstance(rule, Mapping):
            return rule
        cleaned = self.strip_nested(rule, "Rule", language, loc)
        for operator in ("And", "Or"):
            if isinstance(cleaned.get(operator), list):
                cleaned[operator] = [
                    self.strip_rule(r, language, (*loc, operator, i)) for i, r in enumerate(cleaned[operator])
                ]
        if "Not" in cleaned:
            cleaned["Not"] = self.strip_rule(cleaned["Not"], language, (*loc, "Not"))
        return cleaned

    # rules over several fields

    def check_transition(self, state: Mapping[str, Any], kind: str, loc: Location) -> None:
        if kind not in TRANSITIONING:
            return
        has_next, has_end = "Next" in state, state.get("End") is True
        if has_next and has_end:
            self.schema("Only one of these fields can be set: [Next, End]", (*loc, "Next"))
        elif not has_next and not has_end:
            self.schema("One of these fields is required: [Next, End]", loc)

    def check_exclusive(self, state: Mapping[str, Any], kind: str, language: str, loc: Location) -> None:
        for group in EXCLUSIVE.get(kind, ()):
            self.at_most_one(state, group, loc)
        if kind == "Wait":
            fields = tuple(f for f in WAIT_FIELDS if language == JSONPATH or not f.endswith("Path"))
            self.exactly_one(state, fields, loc)
        elif kind == "Map":
            self.exactly_one(state, ("ItemProcessor", "Iterator"), loc)

    def at_most_one(self, obj: Mapping[str, Any], fields: Sequence[str], loc: Location) -> bool:
        present = [f for f in fields if f in obj]
        if len(present) > 1:
            self.schema(f"Only one of these fields can be set: [{', '.join(present)}]", (*loc, present[0]))
            return False
        return True

    def exactly_one(self, obj: Mapping[str, Any], fields: Sequence[str], loc: Location) -> None:
        if self.at_most_one(obj, fields, loc) and not any(f in obj for f in fields):
            self.schema(f"One of these fields is required: [{', '.join(fields)}]", loc)

    def check_error_handling(self, state: Mapping[str, Any], loc: Location) -> None:
        """``States.ALL`` must stand alone in its ErrorEquals, in the last retrier/catcher."""
        for field in ("Retry", "Catch"):
            entries = list(object_entries(state.get(field)))
            count = len(state[field]) if isinstance(state.get(field), list) else 0
            for index, entry in entries:
                errors = entry.get("ErrorEquals")
                if not isinstance(errors, list) or STATES_ALL not in errors:
                    continue
                where = (*loc, field, index)
                if len(errors) > 1:
                    self.schema(
                        f"'{STATES_ALL}' must appear alone in the field 'ErrorEquals'",
                        (*where, "ErrorEquals"),
                    )
                if index != count - 1:
                    self.schema(f"'{STATES_ALL}' must appear in the last entry of the field '{field}'", where)

    def check_task(self, state: Mapping[str, Any], loc: Location) -> None:
        timeout, heartbeat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
        if type(timeout) is int and type(heartbeat) is int and heartbeat >= timeout:
            self.schema(
                "The value for the field 'HeartbeatSeconds' must be smaller than the value "
                "for the field 'TimeoutSeconds'",
                (*loc, "HeartbeatSeconds"),
            )
        credentials = state.get("Credentials")
        if isinstance(credentials, Mapping):
            keys = [k for k in credentials if k in ("RoleArn", "RoleArn.$")]
            for key in credentials:
                if key not in ("RoleArn", "RoleArn.$"):
                    self.schema(not_supported(str(key)), (*loc, "Credentials"))
            if not keys:
                self.schema(required(["RoleArn"]), (*loc, "Credentials"))
            else:
                self.at_most_one(credentials, ("RoleArn", "RoleArn.$"), (*loc, "Credentials"))
        resource = state.get("Resource")
        if self.express and isinstance(resource, str) and not self.deferred(resource):
            suffix = _EXPRESS_UNSUPPORTED_SUFFIX.fullmatch(resource)
            if suffix is not None:
                self.schema(
                    f"Express state machine does not support '.{suffix.group(1)}' service integration ",
                    (*loc, "Resource"),
                )
            elif _ACTIVITY.fullmatch(resource):
                self.schema("Express state machine does not support Activity ARN", (*loc, "Resource"))

    def check_map(self, state: Mapping[str, Any], language: str, loc: Location) -> None:
        for key in ("ItemProcessor", "Iterator"):
            processor = state.get(key)
            if not isinstance(processor, Mapping):
                continue
            config = processor.get("ProcessorConfig")
            if isinstance(config, Mapping):
                where = (*loc, key, "ProcessorConfig")
                if config.get("Mode", "INLINE") == "INLINE" and "ExecutionType" in config:
                    self.schema(not_supported("ExecutionType"), where)
                if config.get("Mode") == "DISTRIBUTED" and "ExecutionType" not in config:
                    self.schema(required(["ExecutionType"]), where)
            self.check_machine(processor, (*loc, key), top=False)
        reader = state.get("ItemReader")
        if isinstance(reader, Mapping) and isinstance(reader.get("ReaderConfig"), Mapping):
            self.at_most_one(
                reader["ReaderConfig"], ("MaxItems", "MaxItemsPath"), (*loc, "ItemReader", "ReaderConfig")
            )
        batcher = state.get("ItemBatcher")
        if isinstance(batcher, Mapping):
            where = (*loc, "ItemBatcher")
            self.at_most_one(batcher, ("MaxItemsPerBatch", "MaxItemsPerBatchPath"), where)
            self.at_most_one(batcher, ("MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath"), where)
            fields = [f for f in BATCH_LIMITS if language == JSONPATH or not f.endswith("Path")]
            if not any(f in batcher for f in fields):
                self.schema(f"One of these fields is required: [{', '.join(fields)}]", where)
        writer = state.get("ResultWriter")
        if isinstance(writer, Mapping):
            where = (*loc, "ResultWriter")
            arguments = "Parameters" if language == JSONPATH else "Arguments"
            if "Resource" not in writer and "WriterConfig" not in writer:
                self.schema("One of these fields is required: [Resource, WriterConfig]", where)
            elif "Resource" in writer and arguments not in writer:
                self.schema(required([arguments]), where)
            elif arguments in writer and "Resource" not in writer:
                self.schema(required(["Resource"]), where)

    def check_rule(self, rule: Mapping[str, Any], loc: Location, language: str, *, top: bool) -> None:
        """One Choice rule: a JSONata ``Condition``, or exactly one comparison or And/Or/Not."""
        if language == JSONATA:
            if top and "Condition" not in rule:
                self.schema(required(["Condition"]), loc)
            return
        operators = [k for k in rule if k in model.COMPARISON_OPERATORS or k in model.BOOLEAN_OPERATORS]
        if not operators and "Condition" not in rule:  # a Condition is reported as JSONata-only
            self.schema(
                "One of these fields is required: [a comparison operator, And, Or, Not]",
                loc,
            )
        elif len(operators) > 1:
            self.schema(
                f"Only one of these fields can be set: [{', '.join(operators)}]", (*loc, operators[0])
            )
        comparisons = [k for k in operators if k in model.COMPARISON_OPERATORS]
        if comparisons and "Variable" not in rule:
            self.schema(required(["Variable"]), loc)
        if not comparisons and operators and "Variable" in rule:
            self.schema(not_supported("Variable"), loc)
        for operator in ("And", "Or"):
            for index, nested in object_entries(rule.get(operator)):
                self.check_rule(nested, (*loc, operator, index), language, top=False)
        if isinstance(rule.get("Not"), Mapping):
            self.check_rule(rule["Not"], (*loc, "Not"), language, top=False)

    # variables

    def check_variable_names(self, state: Mapping[str, Any], language: str, loc: Location) -> None:
        """Every name an ``Assign`` gives (the state's, its Catchers', its Choice rules') must
        be a valid variable name (:mod:`stepkit.asl.variable_names` has the documented rule).
        AWS lists no diagnostic code for variable names among ValidateStateMachineDefinition's
        codes, so these are SCHEMA_VALIDATION_FAILED ("Schema validation reported errors")."""
        for where, name in state_assignments(state, language):
            problem = None if self.deferred(where[-1]) else variable_name_problem(name)
            if problem is not None:
                self.schema(problem, (*loc, *where))

    # payload templates, paths and expressions

    def check_jsonpath_state(self, state: Mapping[str, Any], kind: str, loc: Location) -> None:
        for field in TEMPLATE_FIELDS:
            if isinstance(state.get(field), Mapping | list):
                self.check_template(state[field], (*loc, field))
        for index, catcher in object_entries(state.get("Catch")):
            if isinstance(catcher.get("Assign"), Mapping):
                self.check_template(catcher["Assign"], (*loc, "Catch", index, "Assign"))
        for index, rule in object_entries(state.get("Choices")):
            if isinstance(rule.get("Assign"), Mapping):
                self.check_template(rule["Assign"], (*loc, "Choices", index, "Assign"))
        for parent, field in (
            ("ItemReader", "Parameters"),
            ("ResultWriter", "Parameters"),
            ("ItemBatcher", "BatchInput"),
        ):
            value = as_object(state.get(parent)).get(field)
            if isinstance(value, Mapping | list):
                self.check_template(value, (*loc, parent, field))
        if kind == "Pass" and has_dynamic_key(state.get("Result")):
            self.add(
                PASS_RESULT_IS_STATIC,
                "The field 'Result' is static: its fields ending in '.$' are not evaluated",
                (*loc, "Result"),
                WARNING,
            )
        if kind == "Fail":
            for field in ("Error", "Cause"):
                value = state.get(field)
                if isinstance(value, str) and _LOOKS_LIKE_PATH.match(value):
                    self.add(
                        NO_PATH,
                        f"The value for the field '{field}' looks like a JSONPath, but the field name "
                        "does not end with 'Path'",
                        (*loc, field),
                        WARNING,
                    )

    def check_template(self, template: Any, loc: Location) -> None:
        """Keys ending in ``.$`` need a path or an intrinsic function; other keys holding
        what looks like one get AWS's NO_DOLLAR warning."""
        if isinstance(template, list):
            for index, item in enumerate(template):
                self.check_template(item, (*loc, index))
            return
        if not isinstance(template, Mapping):
            return
        for key, value in template.items():
            where = (*loc, key)
            if isinstance(key, str) and key.endswith(".$"):
                if not self.deferred(value) and not model.is_path_or_intrinsic(value):
                    self.schema(
                        f"The value for the field '{key}' must be a valid JSONPath "
                        "or a valid intrinsic function call",
                        where,
                    )
            elif isinstance(value, str) and (
                _LOOKS_LIKE_PATH.match(value) or _LOOKS_LIKE_INTRINSIC.match(value)
            ):
                self.add(
                    NO_DOLLAR,
                    f"The value for the field '{key}' looks like a JSONPath or an intrinsic function, "
                    "but the field name does not end with '.$'",
                    where,
                    WARNING,
                )
            else:
                self.check_template(value, where)

    def check_jsonata_state(self, state: Mapping[str, Any], loc: Location) -> None:
        for field in EXPRESSION_FIELDS:
            if field in state:
                self.check_expressions(state[field], (*loc, field), loc)
        for field in ("Catch", "Choices"):
            for index, entry in object_entries(state.get(field)):
                for key in ("Condition", "Output", "Assign"):
                    if key in entry:
                        self.check_expressions(entry[key], (*loc, field, index, key), loc)
        for parent, fields in (
            ("ItemReader", ("Arguments",)),
            ("ItemBatcher", ("MaxItemsPerBatch", "MaxInputBytesPerBatch", "BatchInput")),
            ("ResultWriter", ("Arguments",)),
        ):
            obj = as_object(state.get(parent))
            for field in fields:
                if field in obj:
                    self.check_expressions(obj[field], (*loc, parent, field), loc)
        max_items = as_object(as_object(state.get("ItemReader")).get("ReaderConfig")).get("MaxItems")
        self.check_expressions(max_items, (*loc, "ItemReader", "ReaderConfig", "MaxItems"), loc)

    def check_expressions(self, value: Any, loc: Location, state_loc: Location) -> None:
        """Every ``{% ... %}`` string in ``value`` must parse as JSONata."""
        if isinstance(value, Mapping):
            for key, item in value.items():
                self.check_expressions(item, (*loc, key), state_loc)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.check_expressions(item, (*loc, index), state_loc)
        elif model.is_jsonata(value) and not self.deferred(value):
            problem = model.jsonata_syntax_error(value)
            if problem is not None:
                field = format_location(loc[len(state_loc) :])[1:]
                self.add(
                    INVALID_JSONATA_EXPRESSION,
                    f"The JSONata expression '{value}' specified for the field '{field}' "
                    f"is invalid: {problem}",
                    loc,
                )

    # placeholders

    def report_placeholders(self, definition: Mapping[str, Any]) -> None:
        seen: set[str] = set()
        for location, text in strings(definition, ()):
            for placeholder in PLACEHOLDER.finditer(text):
                name = placeholder.group(1)
                if name not in seen:
                    seen.add(name)
                    self.add(
                        UNRESOLVED_PLACEHOLDER,
                        f"'${{{name}}}' has no substitution value; the fields holding it were not checked",
                        location,
                        WARNING,
                    )
