"""EventBridge rules (kind ``event_rule``) that start a state machine, on a schedule (a
``schedule`` trigger) or on S3's ``Object Created`` events of a stack bucket (an ``s3``
trigger: the bucket then sends its events to EventBridge), with the role EventBridge starts
the machine with; and a function's ``schedule`` trigger: a rule invoking the function, which
takes no role but a statement of the function's resource policy for that rule only."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from stepkit.deploy.policy import PolicyBuilder
from stepkit.deploy.providers.base import MISSING, BuildContext, Provider, Template, get_att, not_found, ref, tag_list
from stepkit.deploy.providers.permissions import invoke_permission
from stepkit.deploy.providers.roles import Role
from stepkit.deploy.resources import Resource
from stepkit.deploy.state import Recorded


@dataclass(frozen=True)
class EventRule(Resource):
    """An EventBridge rule starting a state machine: for S3 ``Object Created`` events under a
    prefix (``pattern``), or on a schedule (``schedule``, with ``input``, maybe disabled)."""

    kind: ClassVar[str] = "event_rule"
    order: ClassVar[int] = 80

    state_machine: str = ""
    function: str = ""
    """Instead of ``state_machine``: the function (logical name) a schedule invokes."""
    target_arn: str = ""
    role: str = ""
    role_arn: str = ""
    pattern: dict[str, Any] = field(default_factory=dict)
    bucket: str = ""
    schedule: str = ""
    enabled: bool = True
    input: str = ""

    @property
    def depends_on(self) -> tuple[str, ...]:
        if self.function:
            return (f"function:{self.function}", f"permission:{self.logical}")
        return (f"state_machine:{self.state_machine}", f"role:events-{self.state_machine}")

    @property
    def target(self) -> str:
        """What it starts, as its description says it."""
        return self.function or self.state_machine


def build(ctx: BuildContext, machine: str, triggers: Any, place: str) -> None:
    """A state machine's ``schedule`` and ``s3`` triggers: a rule each, and the one role
    EventBridge starts the machine with."""
    names = ctx.names
    if not any(t.s3 is not None or t.schedule is not None for t in triggers):
        return
    events_role = names.role("events", machine)
    ctx.check_length("role", events_role, f"{place}.triggers")
    ctx.add(Role(logical=f"events-{machine}", name=events_role, service="events.amazonaws.com",
                 policy=events_role_policy(names.state_machine_arn(machine)).document()))
    for i, trigger in enumerate(triggers):
        if trigger.schedule is not None:
            rule = names.rule(machine, i, "schedule")
            ctx.check_length("rule", rule, f"{place}.triggers.{i}")
            ctx.add(EventRule(
                logical=f"{machine}-schedule-{i}", name=rule, state_machine=machine,
                target_arn=names.state_machine_arn(machine), role=events_role,
                role_arn=names.role_arn(events_role), schedule=trigger.schedule.expression,
                enabled=trigger.schedule.enabled,
                input="" if trigger.schedule.input is None else json.dumps(trigger.schedule.input)))
        if trigger.s3 is None or trigger.s3.bucket not in ctx.bucket_names:
            continue
        ctx.eventbridge_buckets.add(trigger.s3.bucket)
        rule = names.rule(machine, i)
        ctx.check_length("rule", rule, f"{place}.triggers.{i}")
        ctx.add(EventRule(
            logical=f"{machine}-s3-{i}", name=rule, state_machine=machine,
            target_arn=names.state_machine_arn(machine), role=events_role,
            role_arn=names.role_arn(events_role), bucket=trigger.s3.bucket,
            pattern=s3_event_pattern(ctx.bucket_names[trigger.s3.bucket], trigger.s3.prefix, trigger.s3.suffix)))


def function_schedule(ctx: BuildContext, function: str, index: int, schedule: Any, place: str) -> None:
    """A function's ``schedule`` trigger: the rule, invoking the function (asynchronously, as
    EventBridge invokes one, with ``input`` or else its scheduled event), and the permission
    that lets that rule, in the stack's account, invoke it."""
    names = ctx.names
    rule = names.rule(function, index, "fn-schedule")
    ctx.check_length("rule", rule, f"{place}.triggers.{index}")
    logical = f"function-{function}-schedule-{index}"
    ctx.add(invoke_permission(logical, function, "events.amazonaws.com", names.rule_arn(rule), names),
            EventRule(logical=logical, name=rule, function=function, target_arn=names.function_arn(function),
                      schedule=schedule.expression, enabled=schedule.enabled,
                      input="" if schedule.input is None else json.dumps(schedule.input)))


def s3_event_pattern(bucket: str, prefix: str, suffix: str) -> dict[str, Any]:
    detail: dict[str, Any] = {"bucket": {"name": [bucket]}}
    if prefix and suffix:
        detail["object"] = {"key": [{"wildcard": f"{_escape(prefix)}*{_escape(suffix)}"}]}
    elif prefix:
        detail["object"] = {"key": [{"prefix": prefix}]}
    elif suffix:
        detail["object"] = {"key": [{"suffix": suffix}]}
    return {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": detail}


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*")


def events_role_policy(state_machine_arn: str) -> PolicyBuilder:
    policy = PolicyBuilder()
    policy.allow(["states:StartExecution"], state_machine_arn)
    return policy


class EventRuleProvider(Provider):
    """The EventBridge calls behind ``EventRule``."""

    resource = EventRule

    def lookup(self, name: str, r: Resource | None) -> str:
        events = self.client("events")
        try:
            rule = events.describe_rule(Name=name)
        except ClientError as exc:
            if not_found(exc):
                return MISSING
            raise
        tags = events.list_tags_for_resource(ResourceARN=rule["Arn"]).get("Tags", [])
        return self.owned({t["Key"]: t["Value"] for t in tags})

    def put(self, r: EventRule, rec: Recorded | None, existing: bool) -> dict[str, Any]:
        events = self.client("events")
        state = "ENABLED" if r.enabled else "DISABLED"
        if r.schedule:
            arn = events.put_rule(Name=r.name, ScheduleExpression=r.schedule, State=state,
                                  Description=f"stepkit: {r.schedule} starts {r.target}",
                                  Tags=tag_list(self.tags))["RuleArn"]
        else:
            arn = events.put_rule(Name=r.name, EventPattern=json.dumps(r.pattern), State=state,
                                  Description=f"stepkit: S3 objects of {r.bucket} start {r.state_machine}",
                                  Tags=tag_list(self.tags))["RuleArn"]
        target = ({"Id": "function", "Arn": r.target_arn} if r.function else
                  {"Id": "state-machine", "Arn": r.target_arn, "RoleArn": r.role_arn})
        if r.input:
            target["Input"] = r.input
        self.retry_iam(lambda: events.put_targets(Rule=r.name, Targets=[target]))
        return {"arn": arn}

    def delete(self, rec: Recorded) -> None:
        events = self.client("events")
        targets = events.list_targets_by_rule(Rule=rec.name).get("Targets", [])
        if targets:
            events.remove_targets(Rule=rec.name, Ids=[t["Id"] for t in targets])
        events.delete_rule(Name=rec.name)

    def describe(self, rec: Recorded) -> str:
        return str(self.client("events").describe_rule(Name=rec.name).get("State", "ENABLED"))

    @classmethod
    def template(cls, r: EventRule, template: Template) -> None:
        target = ({"Id": "function", "Arn": get_att(f"function:{r.function}")} if r.function else
                  {"Id": "state-machine", "Arn": ref(f"state_machine:{r.state_machine}"),
                   "RoleArn": get_att(f"role:events-{r.state_machine}")})
        if r.input:
            target["Input"] = r.input
        when = {"ScheduleExpression": r.schedule} if r.schedule else {"EventPattern": r.pattern}
        template.add(r, "AWS::Events::Rule", {"Name": r.name, **when, "State": "ENABLED" if r.enabled else "DISABLED",
                                              "Targets": [target]})
