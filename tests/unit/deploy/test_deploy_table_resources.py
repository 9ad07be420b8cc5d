"""A stack's DynamoDB tables as deploy resources: names, least-privilege grants, the
CloudFormation export, and the DynamoDB calls (against moto) that create, converge and delete."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from stepkit.deploy.aws import MISSING, OURS, Api
from stepkit.deploy.desired import build_desired
from stepkit.deploy.naming import Names
from stepkit.deploy.providers.tables import Table
from stepkit.deploy.state import Recorded
from stepkit.endpoint.moto_backend import _answer_as_aws
from stepkit.stack import Project

moto = pytest.importorskip("moto")

STACK = """name: srv
tables:
  router:
    partition_key: {name: pk, type: S}
    sort_key: {name: sk, type: S}
    ttl_attribute: expires_at
    stream: new_and_old_images
  plain:
    partition_key: {name: id, type: N}
functions:
  api:
    environment:
      ROUTER_TABLE: ${RouterTable}
      ROUTER_ARN: ${RouterTableArn}
    access:
      - {table: router, actions: [read, write]}
  reader:
    access:
      - {table: plain}
"""
NAMES = Names("srv", "dev", "us-east-1", "123456789012")
ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/srv-dev-router"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "stack.yaml").write_text(STACK)
    for name in ("api", "reader"):
        (tmp_path / "functions" / name).mkdir(parents=True)
        (tmp_path / "functions" / name / "app.py").write_text("def handler(event, context):\n    return 1\n")
    return Project.load(tmp_path / "infra" / "stack.yaml")


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in policy["Statement"] if "dynamodb" in json.dumps(s["Action"])]


def test_tables_are_resources_with_names_substitutions_and_least_privilege(project: Project) -> None:
    desired = build_desired(project.for_stage("dev"), "dev", NAMES, compute_digests=False)
    by_key = desired.by_key()
    router = by_key["table:router"]
    assert isinstance(router, Table) and router.name == "srv-dev-router"
    assert (router.key_schema(), router.stream_view_type, router.ttl_attribute) == (
        [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "NEW_AND_OLD_IMAGES", "expires_at")
    keys = [r.key for r in desired.resources]
    assert keys.index("table:router") < keys.index("function:api")
    assert by_key["function:api"].environment == {"ROUTER_TABLE": "srv-dev-router", "ROUTER_ARN": ARN}  # type: ignore[attr-defined]
    [statement] = _statements(by_key["role:function-api"].policy)  # type: ignore[attr-defined]
    assert sorted(statement["Action"]) == sorted([
        "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem",
        "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan",
        "dynamodb:UpdateItem"])
    assert statement["Resource"] == [ARN, f"{ARN}/index/*"]
    [read_only] = _statements(by_key["role:function-reader"].policy)  # type: ignore[attr-defined]
    assert "dynamodb:PutItem" not in read_only["Action"] and "dynamodb:GetItem" in read_only["Action"]
    assert read_only["Resource"][0].endswith(":table/srv-dev-plain")


def test_a_table_name_over_the_limit_is_refused(tmp_path: Path) -> None:
    from stepkit.deploy.errors import DeployInputError

    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "stack.yaml").write_text("name: srv\ntables:\n  t:\n    partition_key: {name: id}\n")
    project = Project.load(tmp_path / "infra" / "stack.yaml")
    long_names = Names("srv", "dev" + "x" * 300, "us-east-1", "123456789012")
    with pytest.raises(DeployInputError) as caught:
        build_desired(project, "dev", long_names, compute_digests=False)
    assert "tables.t: the table name" in str(caught.value) and "over the limit of 255" in str(caught.value)


def test_the_cloudformation_export_has_the_table_with_its_stream_and_ttl(project: Project) -> None:
    from stepkit.deploy.cloudformation import build_template

    template, _ = build_template(project, "dev")
    table = template["Resources"]["TableRouter"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"
    assert table["Properties"] == {
        "TableName": "srv-dev-router", "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                 {"AttributeName": "sk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
        "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True}}
    plain = template["Resources"]["TablePlain"]["Properties"]
    assert "StreamSpecification" not in plain and "TimeToLiveSpecification" not in plain
    assert template["Outputs"]["TableRouterStreamArn"] == {"Value": {"Fn::GetAtt": ["TableRouter", "StreamArn"]}}
    assert "TablePlainStreamArn" not in template["Outputs"]
    role = template["Resources"]["RoleFunctionApi"]["Properties"]["Policies"][0]["PolicyDocument"]
    [statement] = _statements(role)
    assert statement["Resource"][0] == {
        "Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/srv-dev-router"}


class _Connection:
    def client(self, service: str) -> Any:
        return boto3.client(service, region_name="us-east-1")


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    _answer_as_aws()  # moto as the local endpoint serves it (a stream enabled again, as AWS allows)
    with moto.mock_aws():
        yield Api(_Connection(), "srv", "dev", sleep=lambda _s: None)  # type: ignore[arg-type]


def _table(**changes: Any) -> Table:
    base: dict[str, Any] = {"logical": "router", "name": "srv-dev-router", "partition_key": "pk", "sort_key": "sk",
                            "sort_type": "S", "ttl_attribute": "expires_at", "stream_view_type": "NEW_IMAGE"}
    return Table(**{**base, **changes})


def _recorded(table: Table, outputs: dict[str, Any]) -> Recorded:
    return Recorded(key=table.key, kind="table", name=table.name, status="done", digest=table.digest(),
                    properties=table.display(), outputs=outputs)


def test_a_table_is_created_tagged_then_converged_in_place(api: Api) -> None:
    table = _table()
    assert api.lookup("table", table.name, table) == MISSING
    outputs = api.create(table)
    dynamodb = api.client("dynamodb")
    described = dynamodb.describe_table(TableName=table.name)["Table"]
    assert outputs == {"arn": described["TableArn"], "stream_arn": described["LatestStreamArn"]}
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert described["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert dynamodb.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    assert api.lookup("table", table.name, table) == OURS
    assert api.describe(_recorded(table, outputs)) == "active"
    # Another view type and another TTL attribute: converged without a new table.
    changed = _table(stream_view_type="KEYS_ONLY", ttl_attribute="gone_at")
    outputs = api.update(changed, _recorded(table, outputs))
    described = dynamodb.describe_table(TableName=table.name)["Table"]
    assert described["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    assert outputs["stream_arn"] == described["LatestStreamArn"]
    assert dynamodb.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]["AttributeName"] == "gone_at"
    # No stream and no TTL any more.
    outputs = api.update(_table(stream_view_type=None, ttl_attribute=None), _recorded(changed, outputs))
    assert outputs["stream_arn"] == ""
    assert dynamodb.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]["TimeToLiveStatus"] == \
        "DISABLED"


def test_a_key_change_is_refused_and_a_foreign_table_is_not_ours(api: Api) -> None:
    table = _table()
    outputs = api.create(table)
    with pytest.raises(RuntimeError, match=r"the keys of table srv-dev-router are pk \(S, HASH\), sk \(S, RANGE\); "
                                           r"DynamoDB cannot change them to pk \(N, HASH\)"):
        api.update(_table(partition_type="N", sort_key=None, sort_type=None), _recorded(table, outputs))
    api.client("dynamodb").create_table(TableName="someone-elses", BillingMode="PAY_PER_REQUEST",
                                   KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                                   AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    assert api.lookup("table", "someone-elses", None) == "foreign"


def test_a_table_holding_items_is_deleted_only_with_its_data(api: Api) -> None:
    table = _table()
    recorded = _recorded(table, api.create(table))
    dynamodb = api.client("dynamodb")
    dynamodb.put_item(TableName=table.name, Item={"pk": {"S": "a"}, "sk": {"S": "b"}})
    with pytest.raises(RuntimeError, match="table srv-dev-router holds items; deploy does not delete data"):
        api.delete(recorded)
    assert api.describe(recorded) == "active"
    api.provider("table").drop_table(table.name)
    assert api.describe(recorded) == MISSING
    api.provider("table").drop_table(table.name)  # gone already: nothing to do
    api.delete(recorded)
