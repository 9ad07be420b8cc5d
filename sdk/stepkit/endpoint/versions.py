"""State machine versions and aliases on the local endpoint.

A version (``<machine ARN>:<n>``) is an immutable copy of a machine's revision: its
definition, role, logging and tracing, and the revision id it was published from. Numbers
go up from 1 and are never reused, even after a version is deleted. Publishing the
revision that the newest version already holds publishes nothing new (AWS's idempotency
on the revision id). An alias (``<machine ARN>:<name>``) routes executions to one
version, or splits them between two by weight (a canary); each StartExecution on it
draws a version by the weights, and the execution records both ARNs.

Versions and aliases are records in the endpoint's store (kinds ``sm_version``,
``sm_alias`` and ``sm_version_seq``, the last number given per machine).
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stepkit.endpoint.pages import paged
from stepkit.endpoint.protocol import AwsError, RequestContext, epoch, validation_error

if TYPE_CHECKING:
    from stepkit.endpoint.sfn_records import Machine
    from stepkit.endpoint.stepfunctions import StepFunctionsService

_QUALIFIED = re.compile(r"(?P<base>arn:aws[\w-]*:states:[\w-]+:\d{12}:stateMachine:[^:]+):(?P<qualifier>[^:]+)")
_ALIAS_NAME = re.compile(r"(?=.*[a-zA-Z_\-.])[a-zA-Z0-9_\-.]+")
MAX_VERSIONS = 1000  # per state machine (AWS's quota)
MAX_ALIASES = 100


@dataclass
class Version:
    arn: str
    machine_arn: str
    number: int
    revision: dict[str, Any]
    creation_date: float
    description: str = ""

    def to_record(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Alias:
    arn: str
    machine_arn: str
    name: str
    routing: list[dict[str, Any]]
    creation_date: float
    update_date: float
    description: str = ""

    def to_record(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Route:
    """What StartExecution runs: the revision, and the version and alias it came through."""

    revision: dict[str, Any] | None = None
    version_arn: str | None = None
    alias_arn: str | None = None


def split(arn: str) -> tuple[str, str | None]:
    """A state machine ARN's base and qualifier (a version number or an alias name)."""
    m = _QUALIFIED.fullmatch(arn)
    return (arn, None) if m is None else (m["base"], m["qualifier"])


class VersionService:
    """Versions and aliases of the machines of ``svc`` (a ``StepFunctionsService``)."""

    def __init__(self, svc: StepFunctionsService) -> None:
        self.svc = svc
        self.versions: dict[str, Version] = {}
        self.aliases: dict[str, Alias] = {}
        self._last: dict[str, int] = {}  # machine ARN -> the last version number given
        self.rng = random.Random()  # routes an alias's executions (seed it for a reproducible split)

    def handlers(self) -> dict[str, Callable[[dict, RequestContext], dict]]:
        names = ("PublishStateMachineVersion", "ListStateMachineVersions", "DeleteStateMachineVersion",
                 "CreateStateMachineAlias", "UpdateStateMachineAlias", "DescribeStateMachineAlias",
                 "ListStateMachineAliases", "DeleteStateMachineAlias")
        return {name: getattr(self, name) for name in names}

    def load(self) -> None:
        store = self.svc.store
        for rec in store.all("sm_version"):
            self.versions[rec["arn"]] = Version(**rec)
        for rec in store.all("sm_alias"):
            self.aliases[rec["arn"]] = Alias(**rec)
        for rec in store.all("sm_version_seq"):
            self._last[rec["machine_arn"]] = rec["last"]

    # -- versions -------------------------------------------------------------------------
    def _of(self, machine_arn: str) -> list[Version]:
        return [v for v in self.versions.values() if v.machine_arn == machine_arn]

    def publish(self, machine: Machine, description: str | None, revision_id: str | None = None) -> Version:
        """Publish ``machine``'s current revision (the existing version if it holds it already)."""
        with self.svc.lock:
            if revision_id is not None and revision_id != machine.revision_id:
                raise AwsError("ConflictException", f"Failed to publish the State Machine version for revision "
                               f"{revision_id}. The current State Machine revision is {machine.revision_id}.")
            mine = self._of(machine.arn)
            newest = max(mine, key=lambda v: v.number, default=None)
            if newest is not None and newest.revision["revision_id"] == machine.revision_id:
                if description is not None and description != newest.description:
                    raise AwsError("ConflictException", "Failed to publish the State Machine version: a version "
                                   f"of revision {machine.revision_id} exists with another description: "
                                   f"'{newest.arn}'")
                return newest
            if len(mine) >= MAX_VERSIONS:
                raise AwsError("ServiceQuotaExceededException", f"Too many versions of '{machine.arn}': a state "
                               f"machine has at most {MAX_VERSIONS}")
            number = self._last.get(machine.arn, 0) + 1
            version = Version(f"{machine.arn}:{number}", machine.arn, number, machine.revision(), time.time(),
                              description or "")
            self._last[machine.arn] = number
            self.versions[version.arn] = version
            self.svc.store.put("sm_version_seq", machine.arn, {"machine_arn": machine.arn, "last": number})
            self.svc.store.put("sm_version", version.arn, version.to_record())
        return version

    def _version(self, arn: str) -> Version:
        version = self.versions.get(arn)
        if version is None:
            raise AwsError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return version

    def describe(self, arn: str) -> dict[str, Any]:
        """DescribeStateMachine of a version ARN."""
        qualifier = split(arn)[1]
        if qualifier is None or not qualifier.isdigit():
            raise AwsError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
        version = self._version(arn)
        out = self.svc.describe_machine(version.revision)
        out.update(stateMachineArn=version.arn, status="ACTIVE", type=version.revision["type"],
                   creationDate=epoch(version.creation_date))
        if version.description:
            out["description"] = version.description
        return out

    def PublishStateMachineVersion(self, p: dict, ctx: RequestContext) -> dict:
        arn = p["stateMachineArn"]
        if split(arn)[1] is not None:
            raise AwsError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
        machine = self.svc.machine(arn)
        version = self.publish(machine, p.get("description"), p.get("revisionId"))
        return {"creationDate": epoch(version.creation_date), "stateMachineVersionArn": version.arn}

    def ListStateMachineVersions(self, p: dict, ctx: RequestContext) -> dict:
        arn = p["stateMachineArn"]
        if split(arn)[1] is not None:
            raise AwsError("ValidationException", f"Invalid Arn: '{arn}': a state machine ARN without a qualifier "
                           "is expected")
        machine = self.svc.machine(arn)
        mine = sorted(self._of(machine.arn), key=lambda v: -v.number)  # newest first, as AWS lists them
        rows = [{"stateMachineVersionArn": v.arn, "creationDate": epoch(v.creation_date)} for v in mine]
        return paged(rows, p, "stateMachineVersionArn", "stateMachineVersions")

    def DeleteStateMachineVersion(self, p: dict, ctx: RequestContext) -> dict:
        arn = p["stateMachineVersionArn"]
        qualifier = split(arn)[1]
        if qualifier is None or not qualifier.isdigit():
            raise AwsError("ValidationException", f"Invalid Arn: '{arn}': a state machine version ARN is expected")
        with self.svc.lock:
            using = [a.name for a in self.aliases.values() if any(r["stateMachineVersionArn"] == arn
                                                                   for r in a.routing)]
            if using:
                raise AwsError("ConflictException", "Version to be deleted must not be referenced by an alias. "
                               f"Current list of aliases referencing this version: [{', '.join(using)}]")
            if self.versions.pop(arn, None) is not None:
                self.svc.store.delete("sm_version", arn)
        return {}

    # -- aliases --------------------------------------------------------------------------
    def _routing(self, machine_arn: str, routing: list[dict]) -> list[dict[str, Any]]:
        """Check a routing configuration as AWS does; returns it normalised."""
        arns = [r["stateMachineVersionArn"] for r in routing]
        if len(set(arns)) != len(arns):
            raise AwsError("ValidationException", "Routing configuration must contain distinct state machine "
                           "version ARNs. Received: [" + ", ".join(arns) + "]")
        for arn in arns:
            qualifier = split(arn)[1]
            if qualifier is None or not qualifier.isdigit():
                raise AwsError("ValidationException", "Routing configuration must contain state machine version "
                               "ARNs. Received: [" + ", ".join(arns) + "]")
        weights = [r["weight"] for r in routing]
        if sum(weights) != 100:
            raise AwsError("ValidationException", "Sum of routing configuration weights must equal 100. "
                           f"Received: [{', '.join(map(str, weights))}]")
        for arn in arns:
            base = split(arn)[0]
            if base != machine_arn:
                raise AwsError("ValidationException", "Routing configuration must contain state machine version "
                               f"ARNs of the same state machine. Received: [{', '.join(arns)}]")
            if arn not in self.versions:
                raise AwsError("ResourceNotFound", f"Resource not found: '{arn}'", resourceName=arn)
        return [{"stateMachineVersionArn": r["stateMachineVersionArn"], "weight": r["weight"]} for r in routing]

    def _alias(self, arn: str) -> Alias:
        qualifier = split(arn)[1]
        if qualifier is None or qualifier.isdigit():
            raise AwsError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
        alias = self.aliases.get(arn)
        if alias is None:
            raise AwsError("ResourceNotFound", "Request references a resource that does not exist.",
                           resourceName=arn)
        return alias

    def _save(self, alias: Alias) -> None:
        self.aliases[alias.arn] = alias
        self.svc.store.put("sm_alias", alias.arn, alias.to_record())

    def CreateStateMachineAlias(self, p: dict, ctx: RequestContext) -> dict:
        name = p["name"]
        if not _ALIAS_NAME.fullmatch(name):
            raise validation_error([f"Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy "
                                    "regular expression pattern: ^(?=.*[a-zA-Z_\\-\\.])[a-zA-Z0-9_\\-\\.]+$"])
        arns = [r["stateMachineVersionArn"] for r in p["routingConfiguration"]]
        base, qualifier = split(arns[0])
        if qualifier is None or not qualifier.isdigit():
            raise AwsError("ValidationException", "Routing configuration must contain state machine version ARNs. "
                           "Received: [" + ", ".join(arns) + "]")
        machine = self.svc.machine(base)
        routing = self._routing(machine.arn, p["routingConfiguration"])
        arn = f"{machine.arn}:{name}"
        description = p.get("description", "")
        with self.svc.lock:
            existing = self.aliases.get(arn)
            if existing is not None:
                if (existing.routing, existing.description) == (routing, description):
                    return {"stateMachineAliasArn": arn, "creationDate": epoch(existing.creation_date)}
                raise AwsError("ConflictException", "Failed to create alias because an alias with the same name "
                               "and a different routing configuration already exists.")
            if sum(a.machine_arn == machine.arn for a in self.aliases.values()) >= MAX_ALIASES:
                raise AwsError("ServiceQuotaExceededException", f"Too many aliases of '{machine.arn}': a state "
                               f"machine has at most {MAX_ALIASES}")
            now = time.time()
            self._save(Alias(arn, machine.arn, name, routing, now, now, description))
        return {"stateMachineAliasArn": arn, "creationDate": epoch(now)}

    def UpdateStateMachineAlias(self, p: dict, ctx: RequestContext) -> dict:
        alias = self._alias(p["stateMachineAliasArn"])
        if "description" not in p and "routingConfiguration" not in p:
            raise AwsError("ValidationException", "Either the description or the RoutingConfiguration must be "
                           "specified")
        routing = self._routing(alias.machine_arn, p["routingConfiguration"]) if "routingConfiguration" in p else None
        with self.svc.lock:
            if routing is not None:
                alias.routing = routing
            if "description" in p:
                alias.description = p["description"]
            alias.update_date = time.time()
            self._save(alias)
        return {"updateDate": epoch(alias.update_date)}

    def DescribeStateMachineAlias(self, p: dict, ctx: RequestContext) -> dict:
        alias = self._alias(p["stateMachineAliasArn"])
        out: dict[str, Any] = {"stateMachineAliasArn": alias.arn, "name": alias.name,
                               "routingConfiguration": alias.routing, "creationDate": epoch(alias.creation_date),
                               "updateDate": epoch(alias.update_date)}
        if alias.description:
            out["description"] = alias.description
        return out

    def ListStateMachineAliases(self, p: dict, ctx: RequestContext) -> dict:
        arn = p["stateMachineArn"]
        base, qualifier = split(arn)
        machine = self.svc.machine(base)
        if qualifier is not None and not qualifier.isdigit():
            raise AwsError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
        if qualifier is not None:  # the aliases that route to this version
            self._version(arn)
        found = [a for a in self.aliases.values() if a.machine_arn == machine.arn and (
            qualifier is None or any(r["stateMachineVersionArn"] == arn for r in a.routing))]
        found.sort(key=lambda a: (a.creation_date, a.arn))
        rows = [{"stateMachineAliasArn": a.arn, "creationDate": epoch(a.creation_date)} for a in found]
        return paged(rows, p, "stateMachineAliasArn", "stateMachineAliases")

    def DeleteStateMachineAlias(self, p: dict, ctx: RequestContext) -> dict:
        arn = p["stateMachineAliasArn"]
        qualifier = split(arn)[1]
        if qualifier is None or qualifier.isdigit():
            raise AwsError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
        with self.svc.lock:  # deleting an alias that does not exist succeeds, as on AWS
            if self.aliases.pop(arn, None) is not None:
                self.svc.store.delete("sm_alias", arn)
        return {}

    # -- what the state machine and execution operations ask ------------------------------
    def forget_machine(self, machine_arn: str) -> None:
        """DeleteStateMachine: its versions and aliases go with it."""
        for version in self._of(machine_arn):
            self.versions.pop(version.arn, None)
            self.svc.store.delete("sm_version", version.arn)
        for alias in [a for a in self.aliases.values() if a.machine_arn == machine_arn]:
            self.aliases.pop(alias.arn, None)
            self.svc.store.delete("sm_alias", alias.arn)
        self._last.pop(machine_arn, None)
        self.svc.store.delete("sm_version_seq", machine_arn)

    def route(self, arn: str) -> Route:
        """The revision StartExecution runs for ``arn``: the machine's latest (unqualified),
        a version's, or one of an alias's versions drawn by its weights."""
        qualifier = split(arn)[1]
        if qualifier is None:
            return Route()
        if qualifier.isdigit():
            version = self._version(arn)
            return Route(version.revision, version.arn)
        alias = self.aliases.get(arn)
        if alias is None:
            raise AwsError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        with self.svc.lock:
            routing = list(alias.routing)
            draw = self.rng.randrange(100)
        chosen = routing[-1]["stateMachineVersionArn"]
        for entry in routing:  # the weights sum to 100: a draw in [0, 100) lands in one of them
            if draw < entry["weight"]:
                chosen = entry["stateMachineVersionArn"]
                break
            draw -= entry["weight"]
        version = self._version(chosen)
        return Route(version.revision, version.arn, alias.arn)

    def execution_filter(self, arn: str) -> Callable[[Any], bool]:
        """ListExecutions of a version or an alias ARN: which executions it lists."""
        qualifier = split(arn)[1]
        if qualifier is None:
            return lambda e: True
        if qualifier.isdigit():
            self._version(arn)
            return lambda e: getattr(e, "version_arn", None) == arn
        self._alias(arn)
        return lambda e: getattr(e, "alias_arn", None) == arn
