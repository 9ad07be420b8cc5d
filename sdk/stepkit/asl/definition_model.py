"""Pydantic models of an Amazon States Language definition, as AWS Step Functions reads it.

The models say which fields each object may hold and what each field's value must be; they
are the schema half of :mod:`stepkit.asl.validation`, which turns their errors into located
diagnostics and adds the rules that span several fields or states.

States are validated one at a time (:func:`validate_state`), not as part of their machine,
because what a field may hold depends on the state's query language: ``"Seconds": "{% 5 %}"``
is fine in a JSONata state and wrong in a JSONPath one. The language, and whether
``${Name}`` definition-substitution placeholders are tolerated, travel in the validation
context (:func:`schema_context`). For the same reason the ``States`` of a machine, a
``Parallel`` branch or a ``Map`` item processor are kept as raw objects here.

Scalar fields use the small validators below instead of pydantic's own types so that every
error already carries the wording Step Functions uses ("must be ...", "should have one of
these values: [...]"); :mod:`stepkit.asl.validation` only adds the field name and location.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationInfo,
    create_model,
)
from pydantic_core import PydanticCustomError

from stepkit.asl.substitutions import has_placeholder

JSONPATH = "JSONPath"
JSONATA = "JSONata"
QUERY_LANGUAGES = (JSONPATH, JSONATA)

#: In the order AWS lists them in "The field 'Type' should have one of these values".
STATE_TYPES = ("Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map")

#: Upper bound AWS documents for TimeoutSeconds, HeartbeatSeconds, Seconds, IntervalSeconds
#: and MaxAttempts.
MAX_SECONDS = 99_999_999
#: Retry MaxDelaySeconds must stay below one year and a day.
MAX_DELAY_SECONDS = 31_622_400
#: Distributed Map ItemBatcher MaxInputBytesPerBatch limit (256 KiB).
MAX_INPUT_BYTES_PER_BATCH = 262_144
MAX_MAP_LABEL_LENGTH = 40

#: Error types of the custom errors raised here; validation.py words each kind.
VALUE_ERROR = "asl_value"  # "The value for the field 'X' <message>"
ENUM_ERROR = "asl_enum"  # "The field 'X' should have one of these values: [<message>]"
MESSAGE_ERROR = "asl_message"  # the whole message, worded as AWS words it

_VARIABLE_ROOT = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
#: One step of a reference path: ``.name``, ``['name']``, ``["name"]`` or ``[3]``.
_REFERENCE_STEP = re.compile(r"""\.[^.\[\]\s'"*?@(),:]+|\[(?:\d+|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\]""")
#: RFC 3339 with an upper-case ``T`` and ``Z``, as the ASL requires of timestamps.
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")
_LABEL_FORBIDDEN = re.compile(r"""[\s<>{}\[\]?*"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]""")
_ARN = re.compile(r"arn:[^:\s]+:[^:\s]+:[^:\s]*:[^:\s]*:\S+")


def schema_context(query_language: str, *, placeholders: bool = False) -> dict[str, Any]:
    """The pydantic validation context for one state (or a top-level object)."""
    return {"query_language": query_language, "placeholders": placeholders}


def _language(info: ValidationInfo) -> str:
    return (info.context or {}).get("query_language", JSONPATH)


def _deferred(value: Any, info: ValidationInfo) -> bool:
    """A placeholder string, when tolerated, stands for a value of whatever type is due."""
    return bool((info.context or {}).get("placeholders")) and has_placeholder(value)


# --- syntax of paths, intrinsic functions and JSONata -------------------------------------


def split_root(text: str) -> tuple[str, str] | None:
    """A path's root (``$``, ``$$`` or ``$name``) and the rest, or None if it has no root."""
    if text.startswith("$$"):
        return "$$", text[2:]
    variable = _VARIABLE_ROOT.match(text)
    if variable is not None:
        return variable.group(0), text[variable.end() :]
    if text.startswith("$"):
        return "$", text[1:]
    return None


def is_valid_path(text: str) -> bool:
    """A JSONPath rooted at the input (``$``), the context object (``$$``) or a variable."""
    # The parsers are imported on first use (here and below), so that loading the models
    # stays cheap: the JSONata one brings in a whole expression engine.
    from stepkit.asl.jsonpath import is_valid_path as is_valid_input_path

    parts = split_root(text)
    return parts is not None and is_valid_input_path("$" + parts[1])


def is_reference_path(text: str, *, input_only: bool = False) -> bool:
    """A path naming a single node: only ``.name``, ``['name']`` and ``[index]`` steps."""
    parts = split_root(text)
    if parts is None or (input_only and parts[0] != "$"):
        return False
    rest = parts[1]
    position = 0
    while position < len(rest):
        step = _REFERENCE_STEP.match(rest, position)
        if step is None:
            return False
        position = step.end()
    return is_valid_path(text)


def is_path_or_intrinsic(value: Any) -> bool:
    """What a ``.$`` field, ``ErrorPath`` or ``CausePath`` may hold."""
    from stepkit.asl.intrinsics import IntrinsicSyntaxError, compile_intrinsic, is_intrinsic

    if not isinstance(value, str):
        return False
    if not is_intrinsic(value):
        return is_valid_path(value)
    try:
        compile_intrinsic(value)
    except IntrinsicSyntaxError:
        return False
    return True


def is_jsonata(value: Any) -> bool:
    """A ``{% ... %}`` string: a JSONata expression in a JSONata state."""
    from stepkit.asl.jsonata import is_expression

    return is_expression(value)


def jsonata_syntax_error(text: str) -> str | None:
    """Why a ``{% ... %}`` expression does not parse, or None when it does."""
    from stepkit.asl.jsonata import JsonataSyntaxError, compile_expression

    try:
        compile_expression(text)
    except JsonataSyntaxError as exc:
        return str(exc)
    return None


def is_timestamp(value: Any) -> bool:
    return isinstance(value, str) and _TIMESTAMP.fullmatch(value) is not None


# --- scalar field types ----------------------------------------------------------------


def _problem(message: str) -> PydanticCustomError:
    return PydanticCustomError(VALUE_ERROR, message)


def _field(check: Callable[[Any, ValidationInfo], Any]) -> Any:
    """A field type whose values pass ``check``; placeholders pass when tolerated."""

    def validate(value: Any, info: ValidationInfo) -> Any:
        if _deferred(value, info):
            return value
        return check(value, info)

    return PlainValidator(validate)


def _kind_name(jsonata: bool, info: ValidationInfo, kind: str) -> str:
    if jsonata and _language(info) == JSONATA:
        return f"{kind} or a JSONata expression"
    return kind


def _text(value: Any, info: ValidationInfo) -> Any:
    if not isinstance(value, str):
        raise _problem("must be a STRING")
    return value


def _flag(value: Any, info: ValidationInfo) -> Any:
    if not isinstance(value, bool):
        raise _problem("must be a BOOLEAN")
    return value


def _integer(minimum: int, maximum: int | None = None, *, jsonata: bool = False) -> Any:
    def check(value: Any, info: ValidationInfo) -> Any:
        if jsonata and _language(info) == JSONATA and is_jsonata(value):
            return value
        if type(value) is not int:
            raise _problem(f"must be {_kind_name(jsonata, info, 'an INTEGER')}")
        if value < minimum or (maximum is not None and value > maximum):
            if maximum is None:
                raise _problem(f"must be an integer greater than or equal to {minimum}")
            raise _problem(f"must be an integer between {minimum} and {maximum}")
        return value

    return _field(check)


def _number(minimum: float, maximum: float | None = None, *, jsonata: bool = False) -> Any:
    def check(value: Any, info: ValidationInfo) -> Any:
        if jsonata and _language(info) == JSONATA and is_jsonata(value):
            return value
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _problem(f"must be {_kind_name(jsonata, info, 'a NUMBER')}")
        if value < minimum or (maximum is not None and value > maximum):
            if maximum is None:
                raise _problem(f"must be greater than or equal to {minimum}")
            raise _problem(f"must be between {minimum} and {maximum}")
        return value

    return _field(check)


def _one_of(*values: str) -> Any:
    def check(value: Any, info: ValidationInfo) -> Any:
        if value not in values or not isinstance(value, str):
            raise PydanticCustomError(ENUM_ERROR, "{values}", {"values": ", ".join(values)})
        return value

    return _field(check)


def _path(*, nullable: bool = False) -> Any:
    def check(value: Any, info: ValidationInfo) -> Any:
        if value is None and nullable:
            return value
        if not isinstance(value, str) or not is_valid_path(value):
            raise _problem("must be a valid JSONPath")
        return value

    return _field(check)


def _reference_path(*, nullable: bool = False, input_only: bool = False) -> Any:
    def check(value: Any, info: ValidationInfo) -> Any:
        if value is None and nullable:
            return value
        if not isinstance(value, str) or not is_reference_path(value, input_only=input_only):
            raise _problem("must be a valid ReferencePath")
        return value

    return _field(check)


def _path_or_intrinsic(value: Any, info: ValidationInfo) -> Any:
    if not is_path_or_intrinsic(value):
        raise _problem("must be a valid JSONPath or a valid intrinsic function call")
    return value


def _object(value: Any, info: ValidationInfo) -> Any:
    if not isinstance(value, dict):
        raise _problem("must be an OBJECT")
    return value


def _object_or_jsonata(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, dict) or (_language(info) == JSONATA and is_jsonata(value)):
        return value
    raise _problem(f"must be {_kind_name(True, info, 'an OBJECT')}")


def _array_or_jsonata(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, list) or (_language(info) == JSONATA and is_jsonata(value)):
        return value
    raise _problem(f"must be {_kind_name(True, info, 'an ARRAY')}")


def _timestamp_or_jsonata(value: Any, info: ValidationInfo) -> Any:
    if _language(info) == JSONATA and is_jsonata(value):
        return value
    if not is_timestamp(value):
        raise _problem("must be a valid ISO-8601 timestamp")
    return value


def _condition(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, bool) or is_jsonata(value):
        return value
    raise _problem("must be a BOOLEAN or a JSONata expression")


def _resource(value: Any, info: ValidationInfo) -> Any:
    if not isinstance(value, str):
        raise _problem("must be a STRING")
    if _ARN.fullmatch(value) is None:
        raise PydanticCustomError(
            MESSAGE_ERROR,
            "The resource provided {resource} is not recognized. The value is not a valid "
            "resource ARN, or the resource is not available in this region.",
            {"resource": value},
        )
    return value


def _s3_resource(*operations: str) -> Any:
    allowed = re.compile(r"arn:[^:\s]+:states:::s3:(?:" + "|".join(operations) + ")")

    def check(value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str) or allowed.fullmatch(value) is None:
            names = ", ".join(f"arn:aws:states:::s3:{op}" for op in operations)
            raise _problem(f"must be one of the supported resources: [{names}]")
        return value

    return _field(check)


def _map_label(value: Any, info: ValidationInfo) -> Any:
    if not isinstance(value, str):
        raise _problem("must be a STRING")
    if len(value) > MAX_MAP_LABEL_LENGTH or _LABEL_FORBIDDEN.search(value):
        raise _problem(
            f"must be at most {MAX_MAP_LABEL_LENGTH} characters, without whitespace, "
            "brackets, wildcards, special or control characters"
        )
    return value


Text = Annotated[Any, _field(_text)]
Flag = Annotated[Any, _field(_flag)]
Json = Any
Template = Annotated[Any, _field(_object)]
TemplateOrJsonata = Annotated[Any, _field(_object_or_jsonata)]
Path = Annotated[Any, _path()]
NullablePath = Annotated[Any, _path(nullable=True)]
ReferencePathField = Annotated[Any, _reference_path()]
ResultPathType = Annotated[Any, _reference_path(nullable=True, input_only=True)]
PathOrIntrinsic = Annotated[Any, _field(_path_or_intrinsic)]
QueryLanguageName = Annotated[Any, _one_of(*QUERY_LANGUAGES)]
Seconds = Annotated[Any, _integer(1, MAX_SECONDS, jsonata=True)]


class _Schema(BaseModel):
    """Field names are the ASL's own (aliases); anything else is "not supported"."""

    model_config = ConfigDict(extra="forbid", validate_by_name=False, validate_by_alias=True)


# --- machines --------------------------------------------------------------------------


class StateMachineSchema(_Schema):
    """The top-level object. ``States`` comes first: AWS lists it first when both are missing."""

    states: Annotated[dict[str, Any], Field(alias="States", min_length=1)]
    start_at: Text = Field(alias="StartAt")
    comment: Text = Field(None, alias="Comment")
    version: Text = Field(None, alias="Version")
    timeout_seconds: Annotated[Any, _integer(1, MAX_SECONDS)] = Field(None, alias="TimeoutSeconds")
    query_language: QueryLanguageName = Field(None, alias="QueryLanguage")


class BranchSchema(_Schema):
    """A ``Parallel`` branch. Its states inherit the top-level query language."""

    states: Annotated[dict[str, Any], Field(alias="States", min_length=1)]
    start_at: Text = Field(alias="StartAt")
    comment: Text = Field(None, alias="Comment")


class ProcessorConfig(_Schema):
    mode: Annotated[Any, _one_of("INLINE", "DISTRIBUTED")] = Field(None, alias="Mode")
    execution_type: Annotated[Any, _one_of("STANDARD", "EXPRESS")] = Field(None, alias="ExecutionType")


class ItemProcessorSchema(BranchSchema):
    """A ``Map`` state's ``ItemProcessor`` (or its older name, ``Iterator``)."""

    processor_config: ProcessorConfig | None = Field(None, alias="ProcessorConfig")


# --- error handling --------------------------------------------------------------------


class Retrier(_Schema):
    error_equals: Annotated[list[Text], Field(alias="ErrorEquals", min_length=1)]
    interval_seconds: Annotated[Any, _integer(1, MAX_SECONDS)] = Field(None, alias="IntervalSeconds")
    max_attempts: Annotated[Any, _integer(0, MAX_SECONDS)] = Field(None, alias="MaxAttempts")
    backoff_rate: Annotated[Any, _number(1.0)] = Field(None, alias="BackoffRate")
    max_delay_seconds: Annotated[Any, _integer(1, MAX_DELAY_SECONDS)] = Field(None, alias="MaxDelaySeconds")
    jitter_strategy: Annotated[Any, _one_of("FULL", "NONE")] = Field(None, alias="JitterStrategy")
    comment: Text = Field(None, alias="Comment")


class Catcher(_Schema):
    error_equals: Annotated[list[Text], Field(alias="ErrorEquals", min_length=1)]
    next: Text = Field(alias="Next")
    result_path: ResultPathType = Field(None, alias="ResultPath")
    assign: Template = Field(None, alias="Assign")
    output: Json = Field(None, alias="Output")
    comment: Text = Field(None, alias="Comment")


# --- Choice rules ----------------------------------------------------------------------

_STRING_OPERATORS = (
    "StringEquals",
    "StringLessThan",
    "StringGreaterThan",
    "StringLessThanEquals",
    "StringGreaterThanEquals",
)
_NUMERIC_OPERATORS = (
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThan",
    "NumericLessThanEquals",
    "NumericGreaterThanEquals",
)
_TIMESTAMP_OPERATORS = (
    "TimestampEquals",
    "TimestampLessThan",
    "TimestampGreaterThan",
    "TimestampLessThanEquals",
    "TimestampGreaterThanEquals",
)
_TYPE_TESTS = ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")

#: Every JSONPath comparison operator, each with the kind of value it compares against.
COMPARISON_OPERATORS: dict[str, str] = {
    **dict.fromkeys(_STRING_OPERATORS, "string"),
    "StringMatches": "string",
    **dict.fromkeys(_NUMERIC_OPERATORS, "number"),
    "BooleanEquals": "boolean",
    **dict.fromkeys(_TIMESTAMP_OPERATORS, "timestamp"),
    **dict.fromkeys(_TYPE_TESTS, "boolean"),
    **{
        f"{name}Path": "path"
        for name in (*_STRING_OPERATORS, *_NUMERIC_OPERATORS, "BooleanEquals", *_TIMESTAMP_OPERATORS)
    },
}
BOOLEAN_OPERATORS = ("And", "Or", "Not")


def _operand(kind: str) -> Any:
    def check(value: Any, info: ValidationInfo) -> Any:
        good = {
            "string": isinstance(value, str),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
            "boolean": isinstance(value, bool),
            "timestamp": is_timestamp(value),
            "path": isinstance(value, str) and is_valid_path(value),
        }[kind]
        if not good:
            wanted = {
                "string": "a STRING",
                "number": "a NUMBER",
                "boolean": "a BOOLEAN",
                "timestamp": "a valid ISO-8601 timestamp",
                "path": "a valid JSONPath",
            }[kind]
            raise _problem(f"must be {wanted}")
        return value

    return _field(check)


class _RuleBody(_Schema):
    """What every rule may hold: a comparison (JSONPath), a boolean combination or a
    ``Condition`` (JSONata). Exactly-one-of is checked in validation.py, which words it."""

    variable: Path = Field(None, alias="Variable")
    condition: Annotated[Any, _field(_condition)] = Field(None, alias="Condition")
    comment: Text = Field(None, alias="Comment")


_RuleWithOperators: type[_RuleBody] = create_model(  # type: ignore[call-overload]
    "_RuleWithOperators",
    __base__=_RuleBody,
    **{
        name: (Annotated[Any, _operand(kind)], Field(None, alias=name))
        for name, kind in COMPARISON_OPERATORS.items()
    },
)


class NestedChoiceRule(_RuleWithOperators):  # type: ignore[misc,valid-type]
    """A rule inside ``And``, ``Or`` or ``Not``: no ``Next``."""

    and_: list[NestedChoiceRule] | None = Field(None, alias="And", min_length=1)
    or_: list[NestedChoiceRule] | None = Field(None, alias="Or", min_length=1)
    not_: NestedChoiceRule | None = Field(None, alias="Not")


class ChoiceRule(NestedChoiceRule):
    """A top-level entry of ``Choices``."""

    next: Text = Field(alias="Next")
    assign: Template = Field(None, alias="Assign")
    output: Json = Field(None, alias="Output")


# --- Map helpers -----------------------------------------------------------------------


class ReaderConfig(_Schema):
    input_type: Annotated[Any, _one_of("CSV", "JSON", "JSONL", "MANIFEST", "PARQUET")] = Field(
        None, alias="InputType"
    )
    csv_header_location: Annotated[Any, _one_of("FIRST_ROW", "GIVEN")] = Field(
        None, alias="CSVHeaderLocation"
    )
    csv_headers: list[Text] | None = Field(None, alias="CSVHeaders")
    csv_delimiter: Annotated[Any, _one_of("COMMA", "PIPE", "SEMICOLON", "SPACE", "TAB")] = Field(
        None, alias="CSVDelimiter"
    )
    manifest_type: Annotated[Any, _one_of("ATHENA_DATA", "S3_INVENTORY")] = Field(None, alias="ManifestType")
    max_items: Annotated[Any, _integer(0, jsonata=True)] = Field(None, alias="MaxItems")
    max_items_path: ReferencePathField = Field(None, alias="MaxItemsPath")
    items_pointer: Text | None = Field(None, alias="ItemsPointer")
    """A JSON Pointer (``/data/items``) to the array inside a JSON object (InputType JSON)."""
    transformation: Annotated[Any, _one_of("NONE", "LOAD_AND_FLATTEN")] = Field(None, alias="Transformation")
    """listObjectsV2: ``LOAD_AND_FLATTEN`` reads each listed object's items instead of the listing."""


class ItemReader(_Schema):
    resource: Annotated[Any, _s3_resource("getObject", "listObjectsV2")] = Field(alias="Resource")
    reader_config: ReaderConfig | None = Field(None, alias="ReaderConfig")
    parameters: Template = Field(None, alias="Parameters")
    arguments: TemplateOrJsonata = Field(None, alias="Arguments")


class ItemBatcher(_Schema):
    max_items_per_batch: Annotated[Any, _integer(1, jsonata=True)] = Field(None, alias="MaxItemsPerBatch")
    max_items_per_batch_path: ReferencePathField = Field(None, alias="MaxItemsPerBatchPath")
    max_input_bytes_per_batch: Annotated[Any, _integer(1, MAX_INPUT_BYTES_PER_BATCH, jsonata=True)] = Field(
        None, alias="MaxInputBytesPerBatch"
    )
    max_input_bytes_per_batch_path: ReferencePathField = Field(None, alias="MaxInputBytesPerBatchPath")
    batch_input: Json = Field(None, alias="BatchInput")  # any JSON value, as AWS's schema has it


class WriterConfig(_Schema):
    """Both fields or neither: AWS refuses a WriterConfig missing either one."""

    transformation: Annotated[Any, _one_of("NONE", "COMPACT", "FLATTEN")] = Field(alias="Transformation")
    output_type: Annotated[Any, _one_of("JSON", "JSONL")] = Field(alias="OutputType")


class ResultWriter(_Schema):
    resource: Annotated[Any, _s3_resource("putObject")] = Field(None, alias="Resource")
    parameters: Template = Field(None, alias="Parameters")
    arguments: TemplateOrJsonata = Field(None, alias="Arguments")
    writer_config: WriterConfig | None = Field(None, alias="WriterConfig")


# --- states ----------------------------------------------------------------------------


class _State(_Schema):
    comment: Text = Field(None, alias="Comment")
    query_language: QueryLanguageName = Field(None, alias="QueryLanguage")


class _InputOutput(_State):
    input_path: NullablePath = Field(None, alias="InputPath")
    output_path: NullablePath = Field(None, alias="OutputPath")
    output: Json = Field(None, alias="Output")


class _Transition(_InputOutput):
    next: Text = Field(None, alias="Next")
    end: Flag = Field(None, alias="End")
    assign: Template = Field(None, alias="Assign")


class _Result(_Transition):
    # Any JSON value, as the service accepts it: AWS's own definition schema
    # (aws/amazon-states-language-service, "update Parameters property to be any type", made
    # "to match the constraints applied in the service": aws-toolkit-vscode#2459).
    parameters: Json = Field(None, alias="Parameters")
    result_path: ResultPathType = Field(None, alias="ResultPath")


class _Work(_Result):
    """Task, Parallel and Map: a result to select from, and errors to retry or catch."""

    result_selector: Template = Field(None, alias="ResultSelector")
    retry: list[Retrier] | None = Field(None, alias="Retry")
    catch: list[Catcher] | None = Field(None, alias="Catch")


class PassStateSchema(_Result):
    type: Literal["Pass"] = Field(alias="Type")
    result: Json = Field(None, alias="Result")


class TaskStateSchema(_Work):
    type: Literal["Task"] = Field(alias="Type")
    resource: Annotated[Any, _field(_resource)] = Field(alias="Resource")
    arguments: TemplateOrJsonata = Field(None, alias="Arguments")
    credentials: Template = Field(None, alias="Credentials")
    timeout_seconds: Seconds = Field(None, alias="TimeoutSeconds")
    timeout_seconds_path: ReferencePathField = Field(None, alias="TimeoutSecondsPath")
    heartbeat_seconds: Seconds = Field(None, alias="HeartbeatSeconds")
    heartbeat_seconds_path: ReferencePathField = Field(None, alias="HeartbeatSecondsPath")


class ChoiceStateSchema(_InputOutput):
    type: Literal["Choice"] = Field(alias="Type")
    choices: Annotated[list[ChoiceRule], Field(alias="Choices", min_length=1)]
    default: Text = Field(None, alias="Default")
    assign: Template = Field(None, alias="Assign")


class WaitStateSchema(_Transition):
    type: Literal["Wait"] = Field(alias="Type")
    seconds: Annotated[Any, _integer(0, MAX_SECONDS, jsonata=True)] = Field(None, alias="Seconds")
    timestamp: Annotated[Any, _field(_timestamp_or_jsonata)] = Field(None, alias="Timestamp")
    seconds_path: ReferencePathField = Field(None, alias="SecondsPath")
    timestamp_path: ReferencePathField = Field(None, alias="TimestampPath")


class SucceedStateSchema(_InputOutput):
    type: Literal["Succeed"] = Field(alias="Type")


class FailStateSchema(_State):
    type: Literal["Fail"] = Field(alias="Type")
    error: Text = Field(None, alias="Error")
    error_path: PathOrIntrinsic = Field(None, alias="ErrorPath")
    cause: Text = Field(None, alias="Cause")
    cause_path: PathOrIntrinsic = Field(None, alias="CausePath")


class ParallelStateSchema(_Work):
    type: Literal["Parallel"] = Field(alias="Type")
    branches: Annotated[list[BranchSchema], Field(alias="Branches", min_length=1)]
    arguments: TemplateOrJsonata = Field(None, alias="Arguments")


class MapStateSchema(_Work):
    type: Literal["Map"] = Field(alias="Type")
    item_processor: ItemProcessorSchema | None = Field(None, alias="ItemProcessor")
    iterator: ItemProcessorSchema | None = Field(None, alias="Iterator")
    items_path: ReferencePathField = Field(None, alias="ItemsPath")
    items: Annotated[Any, _field(_array_or_jsonata)] = Field(None, alias="Items")
    item_selector: Json = Field(None, alias="ItemSelector")  # any JSON value, as AWS's schema has it
    item_reader: ItemReader | None = Field(None, alias="ItemReader")
    item_batcher: ItemBatcher | None = Field(None, alias="ItemBatcher")
    result_writer: ResultWriter | None = Field(None, alias="ResultWriter")
    max_concurrency: Annotated[Any, _integer(0, jsonata=True)] = Field(None, alias="MaxConcurrency")
    max_concurrency_path: ReferencePathField = Field(None, alias="MaxConcurrencyPath")
    tolerated_failure_percentage: Annotated[Any, _number(0, 100, jsonata=True)] = Field(
        None, alias="ToleratedFailurePercentage"
    )
    tolerated_failure_percentage_path: ReferencePathField = Field(None, alias="ToleratedFailurePercentagePath")
    tolerated_failure_count: Annotated[Any, _integer(0, jsonata=True)] = Field(
        None, alias="ToleratedFailureCount"
    )
    tolerated_failure_count_path: ReferencePathField = Field(None, alias="ToleratedFailureCountPath")
    label: Annotated[Any, _field(_map_label)] = Field(None, alias="Label")


State = Annotated[
    PassStateSchema | TaskStateSchema | ChoiceStateSchema | WaitStateSchema
    | SucceedStateSchema | FailStateSchema | ParallelStateSchema | MapStateSchema,
    Field(discriminator="type"),
]
STATE_ADAPTER: TypeAdapter[Any] = TypeAdapter(State)

STATE_MODELS: dict[str, type[_State]] = {
    "Task": TaskStateSchema,
    "Wait": WaitStateSchema,
    "Pass": PassStateSchema,
    "Succeed": SucceedStateSchema,
    "Fail": FailStateSchema,
    "Choice": ChoiceStateSchema,
    "Parallel": ParallelStateSchema,
    "Map": MapStateSchema,
}
#: The ASL field names each state type accepts, whatever its query language.
STATE_FIELDS: dict[str, frozenset[str]] = {
    name: frozenset(info.alias or field for field, info in model.model_fields.items())
    for name, model in STATE_MODELS.items()
}


def validate_state(raw: Any, *, query_language: str, placeholders: bool = False) -> Any:
    """The typed model of one state; raises pydantic's ValidationError."""
    return STATE_ADAPTER.validate_python(
        raw, context=schema_context(query_language, placeholders=placeholders)
    )


def validate_machine(raw: Any, *, placeholders: bool = False) -> StateMachineSchema:
    """The typed top-level object (its states stay raw); raises pydantic's ValidationError."""
    return StateMachineSchema.model_validate(raw, context=schema_context(JSONPATH, placeholders=placeholders))
