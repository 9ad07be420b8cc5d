"""Deploying a state machine's alias: publish a version of the machine as just deployed and
move the alias to it, at once or as a canary. Mixed into ``aws.Api`` (which dispatches on
the resource kind, ``state_machine_alias``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from stepkit.deploy.resources import Resource, StateMachineAlias
from stepkit.deploy.state import Recorded

if TYPE_CHECKING:
    from collections.abc import Callable


def routing(version: str, current: list[dict[str, Any]] | None, canary: int | None) -> list[dict[str, Any]]:
    """The alias's routing after publishing ``version``: all of it, or with a canary
    ``canary`` percent on it and the rest on the version that had most of it before."""
    if canary is None or not current:
        return [{"stateMachineVersionArn": version, "weight": 100}]
    previous = max(current, key=lambda r: r["weight"])["stateMachineVersionArn"]
    if previous == version:
        return [{"stateMachineVersionArn": version, "weight": 100}]
    return [{"stateMachineVersionArn": version, "weight": canary},
            {"stateMachineVersionArn": previous, "weight": 100 - canary}]


class AliasCalls:
    """The Step Functions calls behind a ``StateMachineAlias``."""

    client: Callable[[str], Any]
    _sm_arn: Callable[[str], str]
    _lookup_state_machine: Callable[[str, Resource | None], str]

    def _current_routing(self, arn: str) -> list[dict[str, Any]] | None:
        try:
            return self.client("stepfunctions").describe_state_machine_alias(stateMachineAliasArn=arn)[
                "routingConfiguration"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("ResourceNotFound", "StateMachineDoesNotExist"):
                return None
            raise

    def _lookup_state_machine_alias(self, name: str, _r: Resource | None) -> str:
        from stepkit.deploy.aws import MISSING  # aws.Api mixes this class in

        machine = name.rpartition(":")[0]
        if self._current_routing(self._sm_arn(name)) is None:
            return MISSING
        return self._lookup_state_machine(machine, None)  # the alias is its machine's

    def _put_state_machine_alias(self, r: StateMachineAlias, _rec: Recorded | None, existing: bool) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        machine_arn = self._sm_arn(r.machine_name)
        version = sfn.publish_state_machine_version(stateMachineArn=machine_arn)["stateMachineVersionArn"]
        arn = f"{machine_arn}:{r.alias}"
        current = self._current_routing(arn)
        route = routing(version, current, r.canary_percentage)
        if current is None:
            sfn.create_state_machine_alias(name=r.alias, description=r.description, routingConfiguration=route)
        else:
            sfn.update_state_machine_alias(stateMachineAliasArn=arn, description=r.description,
                                           routingConfiguration=route)
        return {"arn": arn, "version_arn": version, "routing": route}

    def _delete_state_machine_alias(self, rec: Recorded) -> None:
        self.client("stepfunctions").delete_state_machine_alias(
            stateMachineAliasArn=rec.outputs.get("arn") or self._sm_arn(rec.name))

    def _describe_state_machine_alias(self, rec: Recorded) -> str:
        from stepkit.deploy.aws import MISSING

        arn = rec.outputs.get("arn") or self._sm_arn(rec.name)
        return MISSING if self._current_routing(arn) is None else "ACTIVE"
