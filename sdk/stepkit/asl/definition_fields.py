"""Where things sit in a definition and which query language allows which field: the
tables and walks :mod:`stepkit.asl.validation` checks a definition with, and the wording of
its common messages."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from stepkit.asl import definition_model as model
from stepkit.asl.definition_model import JSONATA, JSONPATH

Location = tuple[str | int, ...]


def format_location(location: Location) -> str:
    """``("States", "A", "Catch", 0, "Next")`` -> ``/States/A/Catch[0]/Next``."""
    parts: list[str] = []
    for step in location:
        if isinstance(step, int) and parts:
            parts[-1] += f"[{step}]"
        else:
            parts.append(str(step))
    return "/" + "/".join(parts)


def field_name(location: Location) -> str:
    """The name a message gives the field at ``location``: ``Retry[0]``, ``ErrorEquals``."""
    indexes = ""
    for step in reversed(location):
        if isinstance(step, int):
            indexes = f"[{step}]" + indexes
        else:
            return f"{step}{indexes}"
    return indexes


def required(names: Iterable[str]) -> str:
    return f"These fields are required: [{', '.join(names)}]"


def not_supported(name: str) -> str:
    return f"Field '{name}' is not supported"


def wrong_language(language: str, name: str) -> str:
    other = JSONATA if language == JSONPATH else JSONPATH
    return (
        f"The QueryLanguage is set to '{language}', but field '{name}' is only supported "
        f"for the '{other}' QueryLanguage"
    )


# --- what each query language allows -----------------------------------------------------

STATE_JSONPATH_ONLY = frozenset(
    {
        "InputPath",
        "OutputPath",
        "Parameters",
        "ResultSelector",
        "ResultPath",
        "Result",
        "ItemsPath",
        "SecondsPath",
        "TimestampPath",
        "TimeoutSecondsPath",
        "HeartbeatSecondsPath",
        "ErrorPath",
        "CausePath",
        "MaxConcurrencyPath",
        "ToleratedFailurePercentagePath",
        "ToleratedFailureCountPath",
    }
)
STATE_JSONATA_ONLY = frozenset({"Arguments", "Output", "Items"})
RULE_JSONPATH_ONLY = frozenset({"Variable", *model.BOOLEAN_OPERATORS, *model.COMPARISON_OPERATORS})
#: Per nested object: (fields only JSONPath allows, fields only JSONata allows).
NESTED_LANGUAGE_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "Catch": (frozenset({"ResultPath"}), frozenset({"Output"})),
    "ItemReader": (frozenset({"Parameters"}), frozenset({"Arguments"})),
    "ReaderConfig": (frozenset({"MaxItemsPath"}), frozenset()),
    "ItemBatcher": (frozenset({"MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath"}), frozenset()),
    "ResultWriter": (frozenset({"Parameters"}), frozenset({"Arguments"})),
    "Rule": (RULE_JSONPATH_ONLY, frozenset({"Condition", "Output"})),
}

#: Fields a JSONPath state evaluates as payload templates (keys ending in ``.$``).
TEMPLATE_FIELDS = ("Parameters", "ResultSelector", "ItemSelector", "Assign", "Credentials")
#: Fields whose strings a JSONata state evaluates when written as ``{% ... %}``.
EXPRESSION_FIELDS = (
    "Arguments",
    "Output",
    "Assign",
    "Items",
    "ItemSelector",
    "Credentials",
    "Seconds",
    "Timestamp",
    "TimeoutSeconds",
    "HeartbeatSeconds",
    "MaxConcurrency",
    "ToleratedFailureCount",
    "ToleratedFailurePercentage",
    "Error",
    "Cause",
)
TRANSITIONING = frozenset({"Pass", "Task", "Wait", "Parallel", "Map"})
#: Pairs (or groups) of fields that exclude each other, per state type.
EXCLUSIVE: dict[str, tuple[tuple[str, ...], ...]] = {
    "Task": (("TimeoutSeconds", "TimeoutSecondsPath"), ("HeartbeatSeconds", "HeartbeatSecondsPath")),
    "Fail": (("Error", "ErrorPath"), ("Cause", "CausePath")),
    "Map": (
        ("ItemSelector", "Parameters"),
        ("MaxConcurrency", "MaxConcurrencyPath"),
        ("ToleratedFailureCount", "ToleratedFailureCountPath"),
        ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath"),
    ),
}
WAIT_FIELDS = ("Seconds", "Timestamp", "SecondsPath", "TimestampPath")
BATCH_LIMITS = (
    "MaxItemsPerBatch",
    "MaxItemsPerBatchPath",
    "MaxInputBytesPerBatch",
    "MaxInputBytesPerBatchPath",
)


def as_object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def object_entries(value: Any) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """The objects of a JSON array (``Retry``, ``Catch``, ``Choices``), with their index."""
    if isinstance(value, list):
        for index, entry in enumerate(value):
            if isinstance(entry, Mapping):
                yield index, entry




def transitions(state: Mapping[str, Any]) -> list[tuple[str, Location]]:
    """Every state name ``state`` may go to, with where it is named."""
    out: list[tuple[str, Location]] = []
    if isinstance(state.get("Next"), str):
        out.append((state["Next"], ("Next",)))
    if state.get("Type") == "Choice":
        for index, rule in object_entries(state.get("Choices")):
            if isinstance(rule.get("Next"), str):
                out.append((rule["Next"], ("Choices", index, "Next")))
        if isinstance(state.get("Default"), str):
            out.append((state["Default"], ("Default",)))
    for index, catcher in object_entries(state.get("Catch")):
        if isinstance(catcher.get("Next"), str):
            out.append((catcher["Next"], ("Catch", index, "Next")))
    return out


def is_terminal(state: Mapping[str, Any]) -> bool:
    return state.get("Type") in ("Succeed", "Fail") or state.get("End") is True


def has_dynamic_key(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any((isinstance(k, str) and k.endswith(".$")) or has_dynamic_key(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_dynamic_key(v) for v in value)
    return False


def strings(value: Any, loc: Location) -> Iterator[tuple[Location, str]]:
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                yield (*loc, key), key
            yield from strings(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, (*loc, index))
