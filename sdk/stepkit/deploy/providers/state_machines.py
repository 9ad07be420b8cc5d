"""State machines (the stack's ``state_machines:``, kind ``state_machine``) and their aliases
(kind ``state_machine_alias``: publish a version of the machine as just deployed and move the
alias to it, at once or as a canary).

The builder checks each definition before anything is touched: placeholders that name nothing,
``${env:NAME}`` (which would be stored in the definition), and the definition's own validity;
the role's policy comes from what the definition's Task states call (:mod:`stepkit.deploy.iam`)."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from botocore.exceptions import ClientError

from stepkit.asl.substitutions import PLACEHOLDER, placeholders
from stepkit.asl.validation import ERROR, validate_definition
from stepkit.deploy.policy import PolicyBuilder
from stepkit.deploy.providers import pipes, rules
from stepkit.deploy.providers.base import (
    ENV_PLACEHOLDER,
    MISSING,
    STACK_PLACEHOLDERS,
    BuildContext,
    Provider,
    Template,
    error_code,
    fn_sub,
    get_att,
    logical_id,
    not_found,
)
from stepkit.deploy.providers.log_groups import LogGroup
from stepkit.deploy.providers.roles import Role
from stepkit.deploy.resources import Resource
from stepkit.deploy.state import Recorded
from stepkit.stack.references import closest

if TYPE_CHECKING:
    from stepkit.deploy.iam import StackArns
    from stepkit.stack.project import ProjectStateMachine
    from stepkit.stack.resources import Grant


@dataclass(frozen=True)
class StateMachineResource(Resource):
    kind: ClassVar[str] = "state_machine"
    order: ClassVar[int] = 60

    type: str = "STANDARD"
    role: str = ""
    role_arn: str = ""
    definition: str = ""
    """The definition with every substitution made: what Step Functions gets."""
    source: str = ""
    """The definition as written (placeholders kept), for the CloudFormation template."""
    substitutions: dict[str, str] = field(default_factory=dict)
    log_group: str | None = None
    log_level: str = "OFF"
    include_execution_data: bool = False
    tracing: bool = False
    functions: tuple[str, ...] = ()
    """Logical names of the functions the definition invokes (deploy order)."""

    @property
    def depends_on(self) -> tuple[str, ...]:
        deps = [f"role:state_machine-{self.logical}", *(f"function:{f}" for f in self.functions)]
        if self.log_group:
            deps.append(f"log_group:state_machine-{self.logical}")
        return tuple(deps)

    def _not_compared(self) -> tuple[str, ...]:
        return ("source", "substitutions", "functions")

    def display(self) -> dict[str, Any]:
        out = self.properties()
        out["definition"] = f"{len(self.definition)} characters, sha256 {_sha(self.definition)[:12]}"
        return out


@dataclass(frozen=True)
class StateMachineAlias(Resource):
    """A state machine's alias, moved to a version published from the machine as deployed.
    ``name`` is ``<machine name>:<alias>``; ``revision`` (the machine's digest) changes with
    the machine, so every change of the machine publishes a version and moves the alias."""

    kind: ClassVar[str] = "state_machine_alias"
    order: ClassVar[int] = 65

    state_machine: str = ""
    """The logical name of the state machine."""
    machine_name: str = ""
    alias: str = ""
    description: str = ""
    canary_percentage: int | None = None
    canary_interval_minutes: int = 10
    revision: str = ""

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (f"state_machine:{self.state_machine}",)

    def _not_compared(self) -> tuple[str, ...]:
        return ("canary_interval_minutes",)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def build(ctx: BuildContext) -> None:
    """The stack's ``state_machines:``, each with its role, log group, alias and triggers."""
    for machine in ctx.project.state_machines():
        place = f"state_machines.{machine.name}"
        ctx.check_length("state_machine", ctx.names.state_machine(machine.name), place)
        ctx.check_length("role", ctx.names.role("state_machine", machine.name), place)
        checked = _checked_definition(ctx, machine, place)
        if checked is None:
            continue
        source, known, definition = checked
        _machine(ctx, machine, source, known, definition)
        rules.build(ctx, machine.name, machine.settings.triggers, place)
        for i, trigger in enumerate(machine.settings.triggers):
            if trigger.pipe is not None:
                ctx.add(*pipes.pipe_resources(("state_machine", machine.name), i, trigger.pipe, ctx.names))


def _checked_definition(ctx: BuildContext, machine: ProjectStateMachine,
                        place: str) -> tuple[str, dict[str, str], dict[str, Any]] | None:
    """``(source, known placeholders, definition)``, or None with the problems recorded."""
    s, where, problems = machine.settings, ctx.where, ctx.problems
    file = ctx.rel(machine.definition_path)
    try:
        source = machine.definition_path.read_text(encoding="utf-8")
    except OSError as exc:
        problems.append(f"{where}: {place}.definition: cannot read {file}: {exc.strerror or exc}")
        return None
    extra = {k: ctx.resolve(v, ctx.values, f"{where}: {place}.substitutions.{k}") for k, v in s.substitutions.items()}
    known = {**ctx.values, **extra}
    before = len(problems)
    for name in placeholders(source):
        if name not in known and not ENV_PLACEHOLDER.match(name):
            hint = closest(name, list(known))
            problems.append(
                f"{file}:{_line_of(source, '${' + name + '}')}: ${{{name}}} names nothing in the stack"
                + (f"; did you mean ${{{hint}}}?" if hint else "")
                + f" (declare it under {place}.substitutions, or use one of: "
                + ", ".join("${" + k + "}" for k in sorted(known) if k not in STACK_PLACEHOLDERS) + ")")
        elif ENV_PLACEHOLDER.match(name):
            problems.append(f"{file}:{_line_of(source, '${' + name + '}')}: ${{{name}}}: a definition cannot "
                            "read the deploying shell's environment (it would be stored in the definition)")
    if len(problems) > before:
        return None
    text = PLACEHOLDER.sub(lambda m: known[m.group(1)], source)
    diagnostics = [d for d in validate_definition(_pseudo_parameters_filled(text), state_machine_type=s.type)
                   if d.severity == ERROR]
    if diagnostics:
        problems.extend(f"{file}: invalid definition: {d.code}"
                        + (f" at {d.location}" if d.location else "") + f": {d.message}" for d in diagnostics)
        return None
    return source, known, json.loads(text)


def _machine(ctx: BuildContext, machine: ProjectStateMachine, source: str, known: dict[str, str],
             definition: dict[str, Any]) -> None:
    """The machine, its role (from what its definition calls), its log group and its alias."""
    from stepkit.deploy.iam import state_machine_policy

    s, names = machine.settings, ctx.names
    log_group = names.state_machine_log_group(machine.name) if s.logging and s.logging.level != "OFF" else None
    role = names.role("state_machine", machine.name)
    policy, invoked = state_machine_policy(machine.name, s, definition, ctx.arns, log_group)
    ctx.add(Role(logical=f"state_machine-{machine.name}", name=role, service="states.amazonaws.com",
                 policy=policy.document(), notes=tuple(policy.notes)))
    if log_group is not None and s.logging is not None:
        ctx.add(LogGroup(logical=f"state_machine-{machine.name}", name=log_group,
                         retention_days=s.logging.retention_days))
    state_machine = StateMachineResource(
        logical=machine.name, name=names.state_machine(machine.name), type=s.type, role=role,
        role_arn=names.role_arn(role), definition=json.dumps(definition, indent=2), source=source,
        substitutions={k: v for k, v in known.items() if k in placeholders(source)},
        log_group=log_group, log_level=s.logging.level if s.logging else "OFF",
        include_execution_data=s.logging.include_execution_data if s.logging else False,
        tracing=s.tracing, functions=tuple(f for f in invoked if f in ctx.arns.functions),
    )
    ctx.add(state_machine)
    if s.alias is not None:
        ctx.add(StateMachineAlias(
            logical=machine.name, name=f"{state_machine.name}:{s.alias.name}", state_machine=machine.name,
            machine_name=state_machine.name, alias=s.alias.name, description=s.alias.description,
            canary_percentage=s.alias.canary_percentage,
            canary_interval_minutes=s.alias.canary_interval_minutes, revision=state_machine.digest(),
        ))


def _line_of(text: str, needle: str) -> int:
    index = text.find(needle)
    return text.count("\n", 0, index) + 1 if index >= 0 else 1


#: CloudFormation's pseudo parameters (the names of a template, :func:`build_template`) are
#: known only when the stack is created; a definition is validated with values of their shape.
_PSEUDO_PARAMETERS = {"${AWS::Partition}": "aws", "${AWS::Region}": "us-east-1", "${AWS::AccountId}": "123456789012"}


def _pseudo_parameters_filled(text: str) -> str:
    for parameter, example in _PSEUDO_PARAMETERS.items():
        text = text.replace(parameter, example)
    return text


def grant(policy: PolicyBuilder, grant: Grant, stack: StackArns) -> None:
    """An ``access:`` grant on a state machine: start it (synchronously too if Express) and
    describe its executions."""
    names = stack.names
    start = ["states:StartExecution"]
    if stack.state_machine_types.get(grant.target) == "EXPRESS":
        start.append("states:StartSyncExecution")
    policy.allow(start, names.state_machine_arn(grant.target))
    policy.allow(["states:DescribeExecution"], names.execution_arns(grant.target))


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


class StateMachineProvider(Provider):
    """The Step Functions calls behind ``StateMachineResource``."""

    resource = StateMachineResource

    def arn(self, name: str) -> str:
        return (f"arn:{self.api.conn.partition}:states:{self.api.conn.target.region}:{self.api.conn.account}:"
                f"stateMachine:{name}")

    def lookup(self, name: str, r: Resource | None) -> str:
        sfn = self.client("stepfunctions")
        arn = self.arn(name)
        try:
            found = sfn.describe_state_machine(stateMachineArn=arn)
        except ClientError as exc:
            if not_found(exc):
                return MISSING
            raise
        if found.get("status") == "DELETING":
            return MISSING
        tags = sfn.list_tags_for_resource(resourceArn=arn).get("tags", [])
        return self.owned({t["key"]: t["value"] for t in tags})

    def _sm_config(self, r: StateMachineResource) -> dict[str, Any]:
        logging: dict[str, Any] = {"level": r.log_level, "includeExecutionData": r.include_execution_data}
        if r.log_group:
            arn = f"arn:{self.api.conn.partition}:logs:{self.api.conn.target.region}:{self.api.conn.account}:" \
                  f"log-group:{r.log_group}:*"
            logging["destinations"] = [{"cloudWatchLogsLogGroup": {"logGroupArn": arn}}]
        return {"definition": r.definition, "roleArn": r.role_arn, "loggingConfiguration": logging,
                "tracingConfiguration": {"enabled": r.tracing}}

    def put(self, r: StateMachineResource, rec: Recorded | None, existing: bool) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        state = self.lookup(r.name, r) if existing else MISSING
        arn = self.arn(r.name)
        if state == MISSING:
            deadline = time.monotonic() + 120
            while True:
                try:
                    arn = self.retry_iam(lambda: sfn.create_state_machine(
                        name=r.name, type=r.type, tags=[{"key": k, "value": v} for k, v in self.tags.items()],
                        **self._sm_config(r)))["stateMachineArn"]
                    break
                except ClientError as exc:
                    # A machine of the same name still being deleted: wait for it to go.
                    if error_code(exc) != "StateMachineDeleting" or time.monotonic() > deadline:
                        raise
                    self.sleep(2)
        else:
            current = sfn.describe_state_machine(stateMachineArn=arn)
            if current.get("type", r.type) != r.type:
                sfn.delete_state_machine(stateMachineArn=arn)
                return self.put(r, None, False)
            self.retry_iam(lambda: sfn.update_state_machine(stateMachineArn=arn, **self._sm_config(r)))
        return {"arn": arn}

    def delete(self, rec: Recorded) -> None:
        arn = rec.outputs.get("arn") or self.arn(rec.name)
        self.client("stepfunctions").delete_state_machine(stateMachineArn=arn)

    def describe(self, rec: Recorded) -> str:
        found = self.client("stepfunctions").describe_state_machine(stateMachineArn=self.arn(rec.name))
        return str(found.get("status", "ACTIVE"))

    @classmethod
    def template(cls, r: StateMachineResource, template: Template) -> None:
        properties: dict[str, Any] = {
            "StateMachineName": r.name, "StateMachineType": r.type,
            "RoleArn": get_att(f"role:state_machine-{r.logical}"),
            "DefinitionString": fn_sub(r.definition),
            "TracingConfiguration": {"Enabled": r.tracing},
        }
        if r.log_group:
            properties["LoggingConfiguration"] = {
                "Level": r.log_level, "IncludeExecutionData": r.include_execution_data,
                "Destinations": [{"CloudWatchLogsLogGroup": {
                    "LogGroupArn": get_att(f"log_group:state_machine-{r.logical}")}}]}
        template.add(r, "AWS::StepFunctions::StateMachine", properties)
        template.output(r)


class StateMachineAliasProvider(Provider):
    """The Step Functions calls behind a ``StateMachineAlias``."""

    resource = StateMachineAlias

    @property
    def machines(self) -> StateMachineProvider:
        return StateMachineProvider(self.api)

    def _current_routing(self, arn: str) -> list[dict[str, Any]] | None:
        try:
            return self.client("stepfunctions").describe_state_machine_alias(stateMachineAliasArn=arn)[
                "routingConfiguration"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("ResourceNotFound", "StateMachineDoesNotExist"):
                return None
            raise

    def lookup(self, name: str, r: Resource | None) -> str:
        machine = name.rpartition(":")[0]
        if self._current_routing(self.machines.arn(name)) is None:
            return MISSING
        return self.machines.lookup(machine, None)  # the alias is its machine's

    def put(self, r: StateMachineAlias, rec: Recorded | None, existing: bool) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        machine_arn = self.machines.arn(r.machine_name)
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

    def delete(self, rec: Recorded) -> None:
        self.client("stepfunctions").delete_state_machine_alias(
            stateMachineAliasArn=rec.outputs.get("arn") or self.machines.arn(rec.name))

    def describe(self, rec: Recorded) -> str:
        arn = rec.outputs.get("arn") or self.machines.arn(rec.name)
        return MISSING if self._current_routing(arn) is None else "ACTIVE"

    @classmethod
    def template(cls, r: StateMachineAlias, template: Template) -> None:
        template.resources[logical_id(f"state_machine_version:{r.logical}")] = _alias_resources(r, template)


def _alias_resources(r: StateMachineAlias, template: Template) -> dict[str, Any]:
    """The alias (added) and the version it points to (returned): a version is published
    from the machine's revision whenever it changes, the old one kept (UpdateReplacePolicy
    Retain) for a canary to route to; a canary is CloudFormation's CANARY deployment."""
    machine = logical_id(f"state_machine:{r.state_machine}")
    version = logical_id(f"state_machine_version:{r.logical}")
    properties: dict[str, Any] = {"Name": r.alias}
    if r.description:
        properties["Description"] = r.description
    if r.canary_percentage is None:
        properties["RoutingConfiguration"] = [{"StateMachineVersionArn": {"Ref": version}, "Weight": 100}]
    else:
        properties["DeploymentPreference"] = {"StateMachineVersionArn": {"Ref": version}, "Type": "CANARY",
                                              "Percentage": r.canary_percentage,
                                              "Interval": r.canary_interval_minutes}
    template.add(r, "AWS::StepFunctions::StateMachineAlias", properties)
    return {"Type": "AWS::StepFunctions::StateMachineVersion", "UpdateReplacePolicy": "Retain",
            "DeletionPolicy": "Delete",
            "Properties": {"StateMachineArn": {"Ref": machine},
                           "StateMachineRevisionId": {"Fn::GetAtt": [machine, "StateMachineRevisionId"]}}}
