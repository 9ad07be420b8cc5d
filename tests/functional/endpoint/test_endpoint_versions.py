"""State machine versions and aliases through boto3 on a real endpoint: publishing, routing
executions by weight, the ARNs executions record, AWS's errors, and a restart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import ROLE, make_client, unique, wait_execution

from stepkit.endpoint import LocalEndpoint


def _pass(result: str) -> str:
    return json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": result, "End": True}}})


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def _machine_with_versions(sfn: Any, count: int, machine_type: str = "STANDARD") -> tuple[str, list[str]]:
    """A machine with versions 1..count, version n answering "v<n>"."""
    created = sfn.create_state_machine(name=unique("ver"), definition=_pass("v1"), roleArn=ROLE, type=machine_type,
                                       publish=True)
    arn, versions = created["stateMachineArn"], [created["stateMachineVersionArn"]]
    for n in range(2, count + 1):
        versions.append(sfn.update_state_machine(stateMachineArn=arn, definition=_pass(f"v{n}"),
                                                 publish=True)["stateMachineVersionArn"])
    return arn, versions


def _run(sfn: Any, arn: str) -> dict:
    return wait_execution(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"], timeout=120)


def test_publish_describe_list_delete_versions(sfn: Any) -> None:
    created = sfn.create_state_machine(name=unique("pub"), definition=_pass("v1"), roleArn=ROLE, publish=True,
                                       versionDescription="first")
    arn = created["stateMachineArn"]
    assert created["stateMachineVersionArn"] == f"{arn}:1"
    updated = sfn.update_state_machine(stateMachineArn=arn, definition=_pass("v2"))
    assert "stateMachineVersionArn" not in updated
    published = sfn.publish_state_machine_version(stateMachineArn=arn, revisionId=updated["revisionId"],
                                                  description="second")
    assert published["stateMachineVersionArn"] == f"{arn}:2"
    again = sfn.publish_state_machine_version(stateMachineArn=arn)  # the same revision: the same version
    assert again["stateMachineVersionArn"] == f"{arn}:2"

    first = sfn.describe_state_machine(stateMachineArn=f"{arn}:1")
    assert (first["stateMachineArn"], first["definition"], first["description"]) == (f"{arn}:1", _pass("v1"), "first")
    second = sfn.describe_state_machine(stateMachineArn=f"{arn}:2")
    assert (second["revisionId"], second["description"]) == (updated["revisionId"], "second")
    assert sfn.describe_state_machine(stateMachineArn=arn)["definition"] == _pass("v2")

    page = sfn.list_state_machine_versions(stateMachineArn=arn, maxResults=1)
    assert [v["stateMachineVersionArn"] for v in page["stateMachineVersions"]] == [f"{arn}:2"]  # newest first
    rest = sfn.list_state_machine_versions(stateMachineArn=arn, nextToken=page["nextToken"])
    assert [v["stateMachineVersionArn"] for v in rest["stateMachineVersions"]] == [f"{arn}:1"]

    sfn.delete_state_machine_version(stateMachineVersionArn=f"{arn}:2")
    sfn.delete_state_machine_version(stateMachineVersionArn=f"{arn}:2")  # gone already: no error
    with pytest.raises(ClientError) as exc:
        sfn.describe_state_machine(stateMachineArn=f"{arn}:2")
    assert _error(exc) == ("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}:2'")
    later = sfn.update_state_machine(stateMachineArn=arn, definition=_pass("v3"), publish=True)
    assert later["stateMachineVersionArn"] == f"{arn}:3"  # numbers are never reused


def test_publish_errors(sfn: Any) -> None:
    arn = sfn.create_state_machine(name=unique("perr"), definition=_pass("a"), roleArn=ROLE)["stateMachineArn"]
    old = sfn.update_state_machine(stateMachineArn=arn, definition=_pass("b"))["revisionId"]
    current = sfn.update_state_machine(stateMachineArn=arn, definition=_pass("c"))["revisionId"]
    with pytest.raises(ClientError) as exc:
        sfn.publish_state_machine_version(stateMachineArn=arn, revisionId=old)
    assert _error(exc) == ("ConflictException", f"Failed to publish the State Machine version for revision {old}. "
                           f"The current State Machine revision is {current}.")
    with pytest.raises(ClientError) as exc:
        sfn.create_state_machine(name=unique("nodesc"), definition=_pass("a"), roleArn=ROLE, versionDescription="x")
    assert _error(exc) == ("ValidationException", "Version description can only be set when publish is true")
    with pytest.raises(ClientError) as exc:
        sfn.update_state_machine(stateMachineArn=arn, definition=_pass("d"), versionDescription="x")
    assert _error(exc)[0] == "ValidationException"
    assert sfn.describe_state_machine(stateMachineArn=arn)["definition"] == _pass("c")  # nothing changed
    with pytest.raises(ClientError) as exc:
        sfn.publish_state_machine_version(stateMachineArn=arn + "-missing")
    assert _error(exc)[0] == "StateMachineDoesNotExist"
    version = sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"]
    with pytest.raises(ClientError) as exc:
        sfn.update_state_machine(stateMachineArn=version, definition=_pass("e"))
    assert _error(exc)[0] == "InvalidArn"
    with pytest.raises(ClientError) as exc:
        sfn.delete_state_machine_version(stateMachineVersionArn=arn)
    assert _error(exc)[0] == "ValidationException"


def test_executions_of_a_version_run_its_definition(sfn: Any) -> None:
    arn, (v1, v2) = _machine_with_versions(sfn, 2)
    sfn.update_state_machine(stateMachineArn=arn, definition=_pass("latest"))
    by_version = _run(sfn, v1)
    assert by_version["output"] == '"v1"'
    assert (by_version["stateMachineArn"], by_version["stateMachineVersionArn"]) == (arn, v1)
    assert "stateMachineAliasArn" not in by_version
    ran = sfn.describe_state_machine_for_execution(executionArn=by_version["executionArn"])
    assert ran["definition"] == _pass("v1")
    unqualified = _run(sfn, arn)
    assert unqualified["output"] == '"latest"' and "stateMachineVersionArn" not in unqualified
    listed = sfn.list_executions(stateMachineArn=v1)["executions"]
    assert [(e["executionArn"], e["stateMachineVersionArn"]) for e in listed] == [(by_version["executionArn"], v1)]
    assert sfn.list_executions(stateMachineArn=v2)["executions"] == []
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 2


def test_alias_lifecycle_and_executions(sfn: Any) -> None:
    arn, (v1, v2) = _machine_with_versions(sfn, 2)
    created = sfn.create_state_machine_alias(name="prod", description="live",
                                             routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}])
    alias = created["stateMachineAliasArn"]
    assert alias == f"{arn}:prod"
    same = sfn.create_state_machine_alias(name="prod", description="live",
                                          routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}])
    assert same["creationDate"] == created["creationDate"]  # idempotent
    with pytest.raises(ClientError) as exc:
        sfn.create_state_machine_alias(name="prod", routingConfiguration=[{"stateMachineVersionArn": v2,
                                                                           "weight": 100}])
    assert _error(exc) == ("ConflictException", "Failed to create alias because an alias with the same name and a "
                           "different routing configuration already exists.")
    described = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert (described["name"], described["description"]) == ("prod", "live")
    assert described["routingConfiguration"] == [{"stateMachineVersionArn": v1, "weight": 100}]

    run = _run(sfn, alias)
    assert (run["output"], run["stateMachineVersionArn"], run["stateMachineAliasArn"]) == ('"v1"', v1, alias)
    listed = sfn.list_executions(stateMachineArn=alias)["executions"]
    assert [(e["stateMachineAliasArn"], e["stateMachineVersionArn"]) for e in listed] == [(alias, v1)]

    sfn.update_state_machine_alias(stateMachineAliasArn=alias, routingConfiguration=[
        {"stateMachineVersionArn": v2, "weight": 100}])
    assert _run(sfn, alias)["output"] == '"v2"'
    assert [a["stateMachineAliasArn"] for a in sfn.list_state_machine_aliases(stateMachineArn=arn)[
        "stateMachineAliases"]] == [alias]
    assert sfn.list_state_machine_aliases(stateMachineArn=v1)["stateMachineAliases"] == []  # routes to v2 now
    with pytest.raises(ClientError) as exc:
        sfn.delete_state_machine_version(stateMachineVersionArn=v2)
    assert _error(exc) == ("ConflictException", "Version to be deleted must not be referenced by an alias. Current "
                           "list of aliases referencing this version: [prod]")
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)  # no such alias: succeeds, as on AWS
    sfn.delete_state_machine_version(stateMachineVersionArn=v2)
    with pytest.raises(ClientError) as exc:
        sfn.update_state_machine_alias(stateMachineAliasArn=alias, description="x")
    assert _error(exc) == ("ResourceNotFound", "Request references a resource that does not exist.")
    with pytest.raises(ClientError) as exc:
        sfn.start_execution(stateMachineArn=alias)
    assert _error(exc)[0] == "StateMachineDoesNotExist"


def test_alias_routing_errors(sfn: Any) -> None:
    arn, (v1, v2) = _machine_with_versions(sfn, 2)
    _, (w1,) = _machine_with_versions(sfn, 1)  # a version of another machine
    cases = [
        ([{"stateMachineVersionArn": v1, "weight": 70}, {"stateMachineVersionArn": v2, "weight": 29}],
         ("ValidationException", "Sum of routing configuration weights must equal 100. Received: [70, 29]")),
        ([{"stateMachineVersionArn": v1, "weight": 50}, {"stateMachineVersionArn": v1, "weight": 50}],
         ("ValidationException", "Routing configuration must contain distinct state machine version ARNs. "
          f"Received: [{v1}, {v1}]")),
        ([{"stateMachineVersionArn": arn, "weight": 50}, {"stateMachineVersionArn": v2, "weight": 50}],
         ("ValidationException", f"Routing configuration must contain state machine version ARNs. "
          f"Received: [{arn}, {v2}]")),
        ([{"stateMachineVersionArn": v1, "weight": 50}, {"stateMachineVersionArn": w1, "weight": 50}],
         ("ValidationException", None)),
        ([{"stateMachineVersionArn": f"{arn}:99", "weight": 100}], ("ResourceNotFound", None)),
        ([{"stateMachineVersionArn": v1, "weight": 101}], ("ValidationException", None)),
    ]
    for routing, (code, message) in cases:
        with pytest.raises(ClientError) as exc:
            sfn.create_state_machine_alias(name=unique("a"), routingConfiguration=routing)
        assert _error(exc)[0] == code
        if message is not None:
            assert _error(exc)[1] == message
    with pytest.raises(ClientError) as exc:
        sfn.create_state_machine_alias(name="123", routingConfiguration=[{"stateMachineVersionArn": v1,
                                                                          "weight": 100}])
    assert _error(exc)[1].startswith("1 validation error detected: Value '123' at 'name' failed to satisfy")
    assert sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"] == []


def test_alias_routes_by_weight(endpoint: LocalEndpoint, sfn: Any) -> None:
    """80/20 between two versions of an EXPRESS machine, through StartSyncExecution. The draw
    is seeded, and the bounds are wide (expected 60 of 300 on the 20% side, sd 6.9)."""
    _, (v1, v2) = _machine_with_versions(sfn, 2, "EXPRESS")
    alias = sfn.create_state_machine_alias(name="canary", routingConfiguration=[
        {"stateMachineVersionArn": v1, "weight": 80}, {"stateMachineVersionArn": v2, "weight": 20}])[
        "stateMachineAliasArn"]
    endpoint.stepfunctions.versions.rng.seed(20261206)
    outputs = []
    for _ in range(300):
        result = sfn.start_sync_execution(stateMachineArn=alias, input="{}")
        assert result["status"] == "SUCCEEDED"
        outputs.append(json.loads(result["output"]))
    assert set(outputs) == {"v1", "v2"}
    assert 30 <= outputs.count("v2") <= 90
    sfn.update_state_machine_alias(stateMachineAliasArn=alias, routingConfiguration=[
        {"stateMachineVersionArn": v1, "weight": 0}, {"stateMachineVersionArn": v2, "weight": 100}])
    assert {sfn.start_sync_execution(stateMachineArn=alias)["output"] for _ in range(20)} == {'"v2"'}
    assert sfn.start_sync_execution(stateMachineArn=v1)["output"] == '"v1"'


def test_delete_state_machine_takes_its_versions_and_aliases(sfn: Any) -> None:
    arn, (v1,) = _machine_with_versions(sfn, 1)
    alias = sfn.create_state_machine_alias(name="live", routingConfiguration=[
        {"stateMachineVersionArn": v1, "weight": 100}])["stateMachineAliasArn"]
    sfn.delete_state_machine(stateMachineArn=arn)
    for call in (lambda: sfn.describe_state_machine(stateMachineArn=v1),
                 lambda: sfn.list_state_machine_versions(stateMachineArn=arn)):
        with pytest.raises(ClientError) as exc:
            call()
        assert _error(exc)[0] == "StateMachineDoesNotExist"
    with pytest.raises(ClientError) as exc:
        sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert _error(exc)[0] == "ResourceNotFound"


def test_versions_and_aliases_survive_a_restart(tmp_path: Path) -> None:
    with LocalEndpoint(state_dir=tmp_path) as endpoint:
        sfn = make_client(endpoint.url, "stepfunctions")
        arn, (v1, v2) = _machine_with_versions(sfn, 2)
        sfn.delete_state_machine_version(stateMachineVersionArn=v2)
        alias = sfn.create_state_machine_alias(name="prod", routingConfiguration=[
            {"stateMachineVersionArn": v1, "weight": 100}])["stateMachineAliasArn"]
        execution = _run(sfn, alias)["executionArn"]
    with LocalEndpoint(state_dir=tmp_path) as endpoint:
        sfn = make_client(endpoint.url, "stepfunctions")
        assert [v["stateMachineVersionArn"] for v in sfn.list_state_machine_versions(stateMachineArn=arn)[
            "stateMachineVersions"]] == [v1]
        assert sfn.describe_state_machine_alias(stateMachineAliasArn=alias)["routingConfiguration"] == [
            {"stateMachineVersionArn": v1, "weight": 100}]
        described = sfn.describe_execution(executionArn=execution)
        assert (described["stateMachineVersionArn"], described["stateMachineAliasArn"]) == (v1, alias)
        published = sfn.update_state_machine(stateMachineArn=arn, definition=_pass("v3"), publish=True)
        assert published["stateMachineVersionArn"] == f"{arn}:3"
        assert _run(sfn, alias)["output"] == '"v1"'
