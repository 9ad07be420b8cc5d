"""A state machine's alias through `stepkit deploy` on the stepkit endpoint: each change of
the machine publishes a version and moves the alias, at once or as a canary; `stepkit
package` emits the version and the alias for CloudFormation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from stepkit.cli import main
from stepkit.deploy.providers.state_machines import routing
from stepkit.endpoint import LocalEndpoint

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:canary-dev-flow"
ALIAS = f"{MACHINE}:live"


def _write(root: Path, result: str, alias: str) -> None:
    (root / "infra").mkdir(parents=True, exist_ok=True)
    (root / "flow.asl.json").write_text(json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": result, "End": True}}}))
    (root / "infra" / "stack.yaml").write_text(
        "name: canary\nstate_machines:\n  flow:\n    definition: flow.asl.json\n"
        "    access:\n      - {bucket: data, actions: [read]}\n"
        f"    alias: {alias}\nbuckets:\n  data: {{}}\nstages:\n  dev: {{}}\n")


def run(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Any]]:
    root = tmp_path / "canary"
    _write(root, "v1", "{name: live, description: served}")
    monkeypatch.chdir(root)
    with LocalEndpoint(state_dir=tmp_path / "endpoint") as endpoint:
        monkeypatch.setenv("STEPKIT_ENDPOINT_URL", endpoint.url)
        for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                           ("AWS_DEFAULT_REGION", "us-east-1")):
            monkeypatch.setenv(key, value)
        for key in ("AWS_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "STEPKIT_TARGET", "STEPKIT_STAGE"):
            monkeypatch.delenv(key, raising=False)
        sfn = boto3.client("stepfunctions", endpoint_url=endpoint.url, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        yield root, sfn


def _routing(sfn: Any) -> list[tuple[str, int]]:
    found = sfn.describe_state_machine_alias(stateMachineAliasArn=ALIAS)["routingConfiguration"]
    return [(r["stateMachineVersionArn"].rsplit(":", 1)[1], r["weight"]) for r in found]


def test_deploys_move_the_alias_at_once_and_as_a_canary(project: tuple[Path, Any]) -> None:
    root, sfn = project
    run("deploy")
    assert _routing(sfn) == [("1", 100)]
    assert sfn.describe_state_machine_alias(stateMachineAliasArn=ALIAS)["description"] == "served"
    assert json.loads(run("plan", "--json").stdout)["counts"].get("update", 0) == 0

    _write(root, "v2", "{name: live, description: served, canary_percentage: 20}")
    plan = json.loads(run("plan", "--json").stdout)
    assert {(a["op"], a["kind"]) for a in plan["actions"] if a["op"] != "unchanged"} == {
        ("update", "state_machine"), ("update", "state_machine_alias")}
    run("deploy")
    assert _routing(sfn) == [("2", 20), ("1", 80)]  # the canary on the new version

    _write(root, "v2", "{name: live, description: served}")  # promote: the canary goes
    run("deploy")
    assert _routing(sfn) == [("2", 100)]
    assert [v["stateMachineVersionArn"] for v in sfn.list_state_machine_versions(stateMachineArn=MACHINE)[
        "stateMachineVersions"]] == [f"{MACHINE}:2", f"{MACHINE}:1"]
    arn = sfn.start_execution(stateMachineArn=ALIAS)["executionArn"]
    assert sfn.describe_execution(executionArn=arn)["stateMachineVersionArn"] == f"{MACHINE}:2"

    run("destroy", "--yes")
    assert sfn.list_state_machines()["stateMachines"] == []


def test_package_emits_the_version_and_the_alias(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "canary"
    _write(root, "v1", "{name: live, canary_percentage: 10, canary_interval_minutes: 5}")
    monkeypatch.chdir(root)
    run("package", "--format", "cloudformation", "--out", str(root / "out"))
    resources = json.loads((root / "out" / "template.json").read_text())["Resources"]
    version = resources["StateMachineVersionFlow"]
    assert version["Type"] == "AWS::StepFunctions::StateMachineVersion"
    assert version["UpdateReplacePolicy"] == "Retain"
    assert version["Properties"] == {"StateMachineArn": {"Ref": "StateMachineFlow"},
                                     "StateMachineRevisionId": {"Fn::GetAtt": ["StateMachineFlow",
                                                                               "StateMachineRevisionId"]}}
    alias = resources["StateMachineAliasFlow"]
    assert alias["Type"] == "AWS::StepFunctions::StateMachineAlias"
    assert alias["Properties"] == {"Name": "live", "DeploymentPreference": {
        "StateMachineVersionArn": {"Ref": "StateMachineVersionFlow"}, "Type": "CANARY", "Percentage": 10,
        "Interval": 5}}


def test_routing_after_a_publish() -> None:
    v1, v2 = f"{MACHINE}:1", f"{MACHINE}:2"
    assert routing(v2, None, 20) == [{"stateMachineVersionArn": v2, "weight": 100}]  # a new alias: all of it
    assert routing(v2, [{"stateMachineVersionArn": v1, "weight": 100}], 20) == [
        {"stateMachineVersionArn": v2, "weight": 20}, {"stateMachineVersionArn": v1, "weight": 80}]
    assert routing(v2, [{"stateMachineVersionArn": v2, "weight": 20},
                        {"stateMachineVersionArn": v1, "weight": 80}], 30) == [
        {"stateMachineVersionArn": v2, "weight": 30}, {"stateMachineVersionArn": v1, "weight": 70}]
    assert routing(v2, [{"stateMachineVersionArn": v1, "weight": 100}], None) == [
        {"stateMachineVersionArn": v2, "weight": 100}]
