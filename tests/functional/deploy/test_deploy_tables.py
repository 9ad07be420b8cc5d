"""A stack's DynamoDB table deployed by ``stepkit deploy`` to a real local endpoint: created
with its TTL and stream, named to the function that uses it (``${RouterTable}``), converged in
place when its stream changes, kept by ``destroy`` while it holds items unless the data may go."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from stepkit.cli import main
from stepkit.endpoint import LocalEndpoint

STACK = """name: tbl
tables:
  router:
    partition_key: {name: pk, type: S}
    sort_key: {name: sk, type: S}
    ttl_attribute: expires_at
    stream: new_and_old_images
functions:
  counter:
    timeout: 10
    environment:
      ROUTER_TABLE: ${RouterTable}
    access:
      - {table: router, actions: [read, write]}
"""
COUNTER = """import os
import boto3

def handler(event, context):
    table = os.environ["ROUTER_TABLE"]
    answer = boto3.client("dynamodb").update_item(
        TableName=table, Key={"pk": {"S": "model#m"}, "sk": {"S": "arm#1"}},
        UpdateExpression="ADD requests :one", ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW")
    return {"table": table, "requests": int(answer["Attributes"]["requests"]["N"])}
"""
TABLE = "tbl-dev-router"


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalEndpoint]:
    root = tmp_path / "tbl"
    (root / "infra").mkdir(parents=True)
    (root / "infra" / "stack.yaml").write_text(STACK)
    (root / "functions" / "counter").mkdir(parents=True)
    (root / "functions" / "counter" / "app.py").write_text(COUNTER)
    monkeypatch.chdir(root)
    with LocalEndpoint() as ep:
        monkeypatch.setenv("STEPKIT_ENDPOINT_URL", ep.url)
        for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                            "AWS_DEFAULT_REGION": "us-east-1"}.items():
            monkeypatch.setenv(name, value)
        for name in ("AWS_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "STEPKIT_TARGET", "STEPKIT_STAGE"):
            monkeypatch.delenv(name, raising=False)
        try:
            yield ep
        finally:  # moto's tables are process-wide: leave none behind for the next test
            dynamodb = ep.client("dynamodb")
            if TABLE in dynamodb.list_tables()["TableNames"]:
                dynamodb.delete_table(TableName=TABLE)


def _invoke(endpoint: LocalEndpoint) -> dict:
    answer = endpoint.client("lambda").invoke(FunctionName="tbl-dev-counter", Payload=b"{}")
    return json.loads(answer["Payload"].read())


def test_a_table_is_planned_deployed_used_converged_and_kept_with_its_data(endpoint: LocalEndpoint) -> None:
    runner = CliRunner()
    plan = runner.invoke(main, ["plan", "--json"])
    assert plan.exit_code == 0, plan.output
    [action] = [a for a in json.loads(plan.output)["actions"] if a["kind"] == "table"]
    assert (action["op"], action["name"]) == ("create", TABLE)
    deployed = runner.invoke(main, ["deploy"])
    assert deployed.exit_code == 0, deployed.output + repr(deployed.exception)
    dynamodb = endpoint.client("dynamodb")
    table = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]["AttributeName"] == "expires_at"
    tags = {t["Key"]: t["Value"] for t in dynamodb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]}
    assert tags == {"stepkit:stack": "tbl", "stepkit:stage": "dev"}
    role = endpoint.client("iam").get_role_policy(RoleName="tbl-dev-counter-fn", PolicyName="stepkit")
    document = role["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert any(table["TableArn"] in json.dumps(s["Resource"]) and "dynamodb:UpdateItem" in s["Action"]
               for s in document["Statement"])
    assert _invoke(endpoint) == {"table": TABLE, "requests": 1}
    assert _invoke(endpoint) == {"table": TABLE, "requests": 2}

    again = runner.invoke(main, ["deploy"])
    assert again.exit_code == 0 and "nothing changed" in again.output, again.output
    Path("infra/stack.yaml").write_text(STACK.replace("stream: new_and_old_images", "stream: keys_only"))
    changed = runner.invoke(main, ["deploy"])
    assert changed.exit_code == 0 and "1 to update" in changed.output, changed.output
    table = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    assert _invoke(endpoint)["requests"] == 3  # the same table, its items kept

    kept = runner.invoke(main, ["destroy", "--yes"])
    assert kept.exit_code != 0 and f"table {TABLE} holds items" in kept.output, kept.output
    assert TABLE in dynamodb.list_tables()["TableNames"]
    gone = runner.invoke(main, ["destroy", "--yes", "--delete-data"])
    assert gone.exit_code == 0, gone.output
    assert TABLE not in dynamodb.list_tables()["TableNames"]


def test_a_local_run_provisions_the_stacks_tables_once(moto_url: str, tmp_path: Path) -> None:
    """``stepkit run`` on an emulator creates what the stack declares; tables included."""
    import boto3

    from stepkit.local import LocalStack, provision
    from stepkit.stack.project import Project

    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "stack.yaml").write_text(STACK.replace("name: tbl", "name: prov"))
    (tmp_path / "functions" / "counter").mkdir(parents=True)
    (tmp_path / "functions" / "counter" / "app.py").write_text(COUNTER)
    stack = LocalStack(Project.load(tmp_path / "infra" / "stack.yaml"), endpoint_url=moto_url)
    provision(moto_url, stack)
    provision(moto_url, stack)  # already there: left as it is
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_url, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")
    try:
        table = dynamodb.describe_table(TableName="prov-dev-router")["Table"]
        assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        ttl = dynamodb.describe_time_to_live(TableName="prov-dev-router")["TimeToLiveDescription"]
        assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    finally:
        dynamodb.delete_table(TableName="prov-dev-router")
