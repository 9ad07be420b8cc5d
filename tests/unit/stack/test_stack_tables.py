"""The stack's ``tables:`` section: DynamoDB tables, their grants and their substitutions."""

from __future__ import annotations

import pytest

from stepkit.stack import StackError, TableSettings, parse_stack
from stepkit.stack.references import substitution_names

TABLES = """name: srv
tables:
  router:
    partition_key: {name: pk, type: S}
    sort_key: {name: sk}
    ttl_attribute: expires_at
    stream: new_and_old_images
functions:
  api:
    environment:
      ROUTER_TABLE: ${RouterTable}
    access:
      - {table: router, actions: [read, write]}
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(StackError) as caught:
        parse_stack(text, "infra/stack.yaml")
    return str(caught.value).splitlines()


def test_a_table_parses_with_its_keys_ttl_and_stream() -> None:
    stack = parse_stack(TABLES)
    table = stack.tables["router"]
    assert isinstance(table, TableSettings)
    assert (table.partition_key.name, table.partition_key.type) == ("pk", "S")
    assert (table.sort_key.name, table.sort_key.type) == ("sk", "S")  # type: ignore[union-attr]
    assert (table.ttl_attribute, table.stream, table.stream_view_type) == (
        "expires_at", "new_and_old_images", "NEW_AND_OLD_IMAGES")
    grant = stack.functions["api"].access[0]
    assert (grant.kind, grant.target, grant.effective_actions) == ("table", "router", ["read", "write"])
    minimal = parse_stack("tables:\n  t:\n    partition_key: {name: id, type: N}\n").tables["t"]
    assert (minimal.sort_key, minimal.ttl_attribute, minimal.stream_view_type) == (None, None, None)


def test_a_table_gives_the_substitutions_a_bucket_does() -> None:
    vocabulary = substitution_names(parse_stack(TABLES))
    assert vocabulary["RouterTable"] == ("table", "router", "name")
    assert vocabulary["RouterTableName"] == ("table", "router", "name")
    assert vocabulary["RouterTableArn"] == ("table", "router", "arn")


@pytest.mark.parametrize(("change", "message"), [
    (("stream: new_and_old_images", "stream: everything"),
     "tables.router.stream: Input should be 'new_and_old_images', 'new_image', 'old_image' or 'keys_only'"),
    (("partition_key: {name: pk, type: S}", "partition_key: {name: pk, type: STRING}"),
     "tables.router.partition_key.type: Input should be 'S', 'N' or 'B'"),
    (("sort_key: {name: sk}", "sort_key: {name: pk}"),
     "the sort key and the partition key are the same attribute ('pk')"),
    (("partition_key: {name: pk, type: S}\n    ", ""), "tables.router.partition_key: Field required"),
    (("ttl_attribute: expires_at", "ttl: expires_at"), "infra/stack.yaml:6: tables.router.ttl: unknown field"),
    (("{table: router, actions: [read, write]}", "{table: routre}"),
     "functions.api.access.0.table: table 'routre' is not declared under `tables:` (declared: router)"),
    (("{table: router, actions: [read, write]}", "{table: router, actions: [send]}"),
     "send is not an action on a table (use read, write)"),
    (("  router:\n", "  Router!:\n"), "table name 'Router!' must be 1-40 letters"),
])
def test_a_wrong_table_or_grant_is_reported_at_its_line(change: tuple[str, str], message: str) -> None:
    problems = _problems(TABLES.replace(*change))
    assert any(message in p for p in problems), problems


def test_a_stage_may_override_a_table() -> None:
    stack = parse_stack(TABLES + "stages:\n  dev: {}\n  prod:\n    tables:\n      router: {stream: keys_only}\n")
    assert stack.for_stage("prod").tables["router"].stream_view_type == "KEYS_ONLY"
    assert stack.for_stage("dev").tables["router"].stream_view_type == "NEW_AND_OLD_IMAGES"
