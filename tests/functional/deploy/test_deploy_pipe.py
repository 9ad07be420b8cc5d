"""A ``pipe`` trigger deployed by ``stepkit deploy`` to a real local endpoint: from a table's
DynamoDB stream through a filter and an enrichment function to a state machine; the pipe's
role reads only that table's streams and starts only that state machine; a second deploy
keeps the pipe; ``stepkit package`` exports an AWS::Pipes::Pipe."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from local_project import eventually, local_project

from stepkit.cli import main
from stepkit.endpoint import LocalEndpoint

STACK = """name: piped
tables:
  predictions:
    partition_key: {name: id, type: S}
    stream: new_image
functions:
  enrich:
    runtime: python3.12
state_machines:
  review:
    definition: statemachines/review.asl.json
    logging: {level: ERROR}
    triggers:
      - pipe: {table: predictions, starting_position: trim_horizon, enrichment: enrich,
               filters: [{eventName: [INSERT]}]}
"""
ENRICH = ("def handler(events, context):\n"
          "    return [{'id': e['dynamodb']['Keys']['id']['S'], 'enriched': True} for e in events]\n")
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalEndpoint]:
    files = {"infra/stack.yaml": STACK, "statemachines/review.asl.json": json.dumps(PASS),
             "functions/enrich/app.py": ENRICH}
    with local_project(tmp_path, monkeypatch, "piped", files) as ep:
        yield ep


def test_deployed_pipe_runs_from_the_table_to_the_state_machine(endpoint: LocalEndpoint, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["deploy"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    pipes, dynamodb, sfn, iam = (endpoint.client(s) for s in ("pipes", "dynamodb", "stepfunctions", "iam"))
    pipe = pipes.describe_pipe(Name="piped-dev-review-pipe-0")
    assert pipe["Source"] == dynamodb.describe_table(TableName="piped-dev-predictions")["Table"]["LatestStreamArn"]
    assert pipe["Target"].endswith(":stateMachine:piped-dev-review")
    assert pipe["Enrichment"].endswith(":piped-dev-enrich")
    role = iam.get_role_policy(RoleName=pipe["RoleArn"].rsplit("/", 1)[1],
                               PolicyName=iam.list_role_policies(RoleName=pipe["RoleArn"].rsplit("/", 1)[1])[
                                   "PolicyNames"][0])["PolicyDocument"]
    granted = {a: s["Resource"] for s in role["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str)
                                                                    else s["Action"])}
    assert granted["states:StartExecution"] in (pipe["Target"], [pipe["Target"]])
    assert "dynamodb:GetRecords" in granted and "sqs:ReceiveMessage" not in granted

    dynamodb.put_item(TableName="piped-dev-predictions", Item={"id": {"S": "p1"}})
    machine = pipe["Target"]
    executions = eventually(lambda: sfn.list_executions(stateMachineArn=machine)["executions"])
    assert executions, "the pipe started no execution"
    described = sfn.describe_execution(executionArn=executions[0]["executionArn"])
    assert json.loads(described["input"]) == [{"id": "p1", "enriched": True}]

    again = CliRunner().invoke(main, ["deploy"])
    assert again.exit_code == 0, again.output
    assert pipes.describe_pipe(Name="piped-dev-review-pipe-0")["Arn"] == pipe["Arn"]

    packaged = CliRunner().invoke(main, ["package", "--out", str(tmp_path / "out")])
    assert packaged.exit_code == 0, packaged.output
    template = json.loads((tmp_path / "out" / "template.json").read_text())["Resources"]
    [exported] = [r["Properties"] for r in template.values() if r["Type"] == "AWS::Pipes::Pipe"]
    assert exported["Source"]["Fn::GetAtt"][1] == "StreamArn"
    assert exported["SourceParameters"]["DynamoDBStreamParameters"]["StartingPosition"] == "TRIM_HORIZON"
    assert exported["TargetParameters"] == {"StepFunctionStateMachineParameters": {"InvocationType": "FIRE_AND_FORGET"}}

    destroyed = CliRunner().invoke(main, ["destroy", "--yes", "--delete-data"])
    assert destroyed.exit_code == 0, destroyed.output
    assert pipes.list_pipes()["Pipes"] == []
