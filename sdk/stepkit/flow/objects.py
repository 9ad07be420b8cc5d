"""The objects inside states: retriers, catchers, Choice rules and the Map's helpers.

Each function returns the ASL object (a dict) it describes; the parameters are the ASL
fields in snake case, so an editor completes them. The field list and names come from
:mod:`stepkit.asl.definition_model` (see :mod:`stepkit.flow.fields`).
"""

from __future__ import annotations

from typing import Any, Literal

from stepkit.asl import definition_model as model
from stepkit.flow.fields import UNSET, asl_object

Json = Any
Template = dict[str, Any]
#: A JSONata expression, ``"{% ... %}"``, where a number or object is also accepted.
Expr = str


def retry(
    error_equals: list[str],
    *,
    interval_seconds: int = UNSET,
    max_attempts: int = UNSET,
    backoff_rate: float = UNSET,
    max_delay_seconds: int = UNSET,
    jitter_strategy: Literal["FULL", "NONE"] = UNSET,
    comment: str = UNSET,
) -> dict[str, Any]:
    """A ``Retry`` entry."""
    return asl_object(model.Retrier, locals())


def catch(
    error_equals: list[str],
    next: str,
    *,
    result_path: str | None = UNSET,
    assign: Template = UNSET,
    output: Json = UNSET,
    comment: str = UNSET,
) -> dict[str, Any]:
    """A ``Catch`` entry: on one of ``error_equals``, go to ``next``."""
    return asl_object(model.Catcher, locals())


def rule(
    next: str = UNSET,
    *,
    condition: bool | Expr = UNSET,
    variable: str = UNSET,
    and_: list[dict[str, Any]] = UNSET,
    or_: list[dict[str, Any]] = UNSET,
    not_: dict[str, Any] = UNSET,
    assign: Template = UNSET,
    output: Json = UNSET,
    comment: str = UNSET,
    string_equals: str = UNSET,
    string_less_than: str = UNSET,
    string_greater_than: str = UNSET,
    string_less_than_equals: str = UNSET,
    string_greater_than_equals: str = UNSET,
    string_matches: str = UNSET,
    numeric_equals: float = UNSET,
    numeric_less_than: float = UNSET,
    numeric_greater_than: float = UNSET,
    numeric_less_than_equals: float = UNSET,
    numeric_greater_than_equals: float = UNSET,
    boolean_equals: bool = UNSET,
    timestamp_equals: str = UNSET,
    timestamp_less_than: str = UNSET,
    timestamp_greater_than: str = UNSET,
    timestamp_less_than_equals: str = UNSET,
    timestamp_greater_than_equals: str = UNSET,
    is_null: bool = UNSET,
    is_present: bool = UNSET,
    is_numeric: bool = UNSET,
    is_string: bool = UNSET,
    is_boolean: bool = UNSET,
    is_timestamp: bool = UNSET,
    string_equals_path: str = UNSET,
    string_less_than_path: str = UNSET,
    string_greater_than_path: str = UNSET,
    string_less_than_equals_path: str = UNSET,
    string_greater_than_equals_path: str = UNSET,
    numeric_equals_path: str = UNSET,
    numeric_less_than_path: str = UNSET,
    numeric_greater_than_path: str = UNSET,
    numeric_less_than_equals_path: str = UNSET,
    numeric_greater_than_equals_path: str = UNSET,
    boolean_equals_path: str = UNSET,
    timestamp_equals_path: str = UNSET,
    timestamp_less_than_path: str = UNSET,
    timestamp_greater_than_path: str = UNSET,
    timestamp_less_than_equals_path: str = UNSET,
    timestamp_greater_than_equals_path: str = UNSET,
) -> dict[str, Any]:
    """A Choice rule: with ``next`` an entry of ``Choices``, without it a rule inside
    ``and_``/``or_``/``not_``. JSONata states use ``condition``; JSONPath ones a
    ``variable`` and one comparison, or a boolean combination."""
    return asl_object(model.ChoiceRule, locals())


def processor_config(
    *, mode: Literal["INLINE", "DISTRIBUTED"] = UNSET, execution_type: Literal["STANDARD", "EXPRESS"] = UNSET
) -> dict[str, Any]:
    """A Map ``ItemProcessor``'s ``ProcessorConfig``."""
    return asl_object(model.ProcessorConfig, locals())


def reader_config(
    *,
    input_type: Literal["CSV", "JSON", "JSONL", "MANIFEST", "PARQUET"] = UNSET,
    csv_header_location: Literal["FIRST_ROW", "GIVEN"] = UNSET,
    csv_headers: list[str] = UNSET,
    csv_delimiter: Literal["COMMA", "PIPE", "SEMICOLON", "SPACE", "TAB"] = UNSET,
    manifest_type: Literal["ATHENA_DATA", "S3_INVENTORY"] = UNSET,
    max_items: int | Expr = UNSET,
    max_items_path: str = UNSET,
    items_pointer: str = UNSET,
    transformation: Literal["NONE", "LOAD_AND_FLATTEN"] = UNSET,
) -> dict[str, Any]:
    """A Distributed Map ``ItemReader``'s ``ReaderConfig``."""
    return asl_object(model.ReaderConfig, locals())


def item_reader(
    resource: str,
    *,
    reader_config: dict[str, Any] = UNSET,
    parameters: Template = UNSET,
    arguments: Template | Expr = UNSET,
) -> dict[str, Any]:
    """A Distributed Map's ``ItemReader`` (``arn:aws:states:::s3:getObject`` or ``listObjectsV2``)."""
    return asl_object(model.ItemReader, locals())


def item_batcher(
    *,
    max_items_per_batch: int | Expr = UNSET,
    max_items_per_batch_path: str = UNSET,
    max_input_bytes_per_batch: int | Expr = UNSET,
    max_input_bytes_per_batch_path: str = UNSET,
    batch_input: Template | Expr = UNSET,
) -> dict[str, Any]:
    """A Distributed Map's ``ItemBatcher``."""
    return asl_object(model.ItemBatcher, locals())


def writer_config(
    *, transformation: Literal["NONE", "COMPACT", "FLATTEN"], output_type: Literal["JSON", "JSONL"]
) -> dict[str, Any]:
    """A ``ResultWriter``'s ``WriterConfig``."""
    return asl_object(model.WriterConfig, locals())


def result_writer(
    *,
    resource: str = UNSET,
    parameters: Template = UNSET,
    arguments: Template | Expr = UNSET,
    writer_config: dict[str, Any] = UNSET,
) -> dict[str, Any]:
    """A Distributed Map's ``ResultWriter``."""
    return asl_object(model.ResultWriter, locals())
