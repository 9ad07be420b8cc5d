"""A function's or state machine's ``pipe`` trigger: an EventBridge pipe (kind ``pipe``) and
its role; its source a queue, a table's DynamoDB stream or a Kinesis stream of the stack.

A pipe carries the stack's tags. A table's stream ARN is read from the table when the pipe is
put (DynamoDB names a stream when it creates it). A pipe's source cannot be changed in place
(UpdatePipe has no ``Source``): a pipe whose source changed is deleted and created again."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from stepkit.deploy.naming import Names
from stepkit.deploy.policy import PolicyBuilder
from stepkit.deploy.providers.base import MISSING, Provider, Template, get_att, ref
from stepkit.deploy.providers.roles import Role
from stepkit.deploy.providers.streams import kinesis_read_policy, stream_arn
from stepkit.deploy.resources import Resource
from stepkit.deploy.state import Recorded


@dataclass(frozen=True)
class Pipe(Resource):
    """An EventBridge pipe from a queue, a table's stream (whose ARN deploy reads from the
    table) or a Kinesis stream to a function or a state machine, with filters and an optional
    enrichment function."""

    kind: ClassVar[str] = "pipe"
    order: ClassVar[int] = 95

    role: str = ""
    role_arn: str = ""
    queue: str = ""
    queue_arn: str = ""
    table: str = ""
    table_name: str = ""
    kinesis: str = ""
    """A Kinesis stream of the stack (logical name), instead of ``queue`` or ``table``."""
    kinesis_arn: str = ""
    target: str = ""
    """The dependency key of the target: ``function:x`` or ``state_machine:x``."""
    target_arn: str = ""
    enrichment: str = ""
    enrichment_arn: str = ""
    filters: tuple[str, ...] = ()
    batch_size: int = 10
    starting_position: str = "LATEST"
    enabled: bool = True

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (f"role:{self.logical}", self.target, *((f"queue:{self.queue}",) if self.queue else ()),
                *((f"table:{self.table}",) if self.table else ()),
                *((f"kinesis_stream:{self.kinesis}",) if self.kinesis else ()),
                *((f"function:{self.enrichment}",) if self.enrichment else ()))

    def source_parameters(self, creating: bool) -> dict[str, Any]:
        """CreatePipe's (``creating``) or UpdatePipe's ``SourceParameters`` (a starting position
        is set once, at create)."""
        out: dict[str, Any] = {"FilterCriteria": {"Filters": [{"Pattern": f} for f in self.filters]}}
        if self.queue:
            out["SqsQueueParameters"] = {"BatchSize": self.batch_size}
            return out
        stream = {"BatchSize": self.batch_size, **({"StartingPosition": self.starting_position} if creating else {})}
        out["KinesisStreamParameters" if self.kinesis else "DynamoDBStreamParameters"] = stream
        return out

    def target_parameters(self) -> dict[str, Any]:
        if self.target.startswith("state_machine:"):
            return {"StepFunctionStateMachineParameters": {"InvocationType": "FIRE_AND_FORGET"}}
        return {"LambdaFunctionParameters": {"InvocationType": "REQUEST_RESPONSE"}}


def pipe_resources(owner: tuple[str, str], index: int, pipe: Any, names: Names) -> list[Resource]:
    """A ``pipe`` trigger of a function or state machine (``owner``: its kind and name): the
    pipe and its role, which may read the source, invoke the enrichment and start the target."""
    kind, name = owner
    logical = f"{name}-pipe-{index}"
    role = names.role("pipe", f"{name}-{index}")
    target_arn = names.function_arn(name) if kind == "function" else names.state_machine_arn(name)
    enrichment_arn = names.function_arn(pipe.enrichment) if pipe.enrichment else ""
    policy = pipe_role_policy(pipe, names, target_arn, kind)
    return [
        Role(logical=f"pipe-{logical}", name=role, service="pipes.amazonaws.com", policy=policy.document()),
        Pipe(logical=logical, name=f"{names.prefix}-{logical}"[:64], role=role, role_arn=names.role_arn(role),
             queue=pipe.queue or "", queue_arn=names.queue_arn(pipe.queue) if pipe.queue else "",
             table=pipe.table or "", table_name=names.table(pipe.table) if pipe.table else "",
             kinesis=pipe.kinesis or "", kinesis_arn=names.kinesis_stream_arn(pipe.kinesis) if pipe.kinesis else "",
             target=f"{kind}:{name}", target_arn=target_arn, enrichment=pipe.enrichment or "",
             enrichment_arn=enrichment_arn, filters=tuple(json.dumps(f, sort_keys=True) for f in pipe.filters),
             batch_size=pipe.batch_size, starting_position=pipe.starting_position.upper(), enabled=pipe.enabled),
    ]


def pipe_role_policy(pipe: Any, names: Any, target_arn: str, target_kind: str) -> PolicyBuilder:
    """A pipe's role: read its source (the queue, the table's streams, the Kinesis stream), invoke its
    enrichment, start its target (the Pipes user guide, "Permissions for EventBridge Pipes")."""
    policy = PolicyBuilder()
    if pipe.queue is not None:
        policy.allow(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], names.queue_arn(pipe.queue))
    elif pipe.kinesis is not None:
        kinesis_read_policy(policy, names.kinesis_stream_arn(pipe.kinesis), "EventBridge Pipes' poller")
    else:
        policy.allow(["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                      "dynamodb:ListStreams"], f"{names.table_arn(pipe.table)}/stream/*")
    if pipe.enrichment is not None:
        policy.allow(["lambda:InvokeFunction"], names.function_arn(pipe.enrichment))
    if target_kind == "state_machine":
        policy.allow(["states:StartExecution"], target_arn)
    else:
        policy.allow(["lambda:InvokeFunction"], target_arn)
    return policy


class PipeProvider(Provider):
    """The Pipes calls behind ``Pipe``."""

    resource = Pipe

    def _pipe(self, name: str) -> dict[str, Any] | None:
        try:
            return self.client("pipes").describe_pipe(Name=name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NotFoundException", "ResourceNotFoundException"}:
                return None
            raise

    def lookup(self, name: str, r: Resource | None) -> str:
        found = self._pipe(name)
        return MISSING if found is None else self.owned(found.get("Tags"))

    def _pipe_source(self, r: Pipe) -> str:
        if r.queue_arn or r.kinesis_arn:
            return r.queue_arn or r.kinesis_arn
        stream = stream_arn(self.client("dynamodb"), r.table_name)
        if stream is None:
            raise RuntimeError(f"table {r.table_name} has no stream for pipe {r.name} (set its `stream:`)")
        return stream

    def put(self, r: Pipe, rec: Recorded | None, existing: bool) -> dict[str, Any]:
        pipes = self.client("pipes")
        source = self._pipe_source(r)
        found = self._pipe(r.name) if existing else None
        state = "RUNNING" if r.enabled else "STOPPED"
        if found is not None and found.get("Source") != source:
            pipes.delete_pipe(Name=r.name)
            found = None
        if found is None:
            created = self.retry_iam(lambda: pipes.create_pipe(
                Name=r.name, RoleArn=r.role_arn, Source=source, SourceParameters=r.source_parameters(True),
                Target=r.target_arn, TargetParameters=r.target_parameters(), DesiredState=state, Tags=self.tags,
                **({"Enrichment": r.enrichment_arn} if r.enrichment_arn else {})))
            return {"arn": created["Arn"], "source": source}
        pipes.update_pipe(Name=r.name, RoleArn=r.role_arn, SourceParameters=r.source_parameters(False),
                          Target=r.target_arn, TargetParameters=r.target_parameters(), DesiredState=state,
                          Enrichment=r.enrichment_arn)
        return {"arn": found["Arn"], "source": source}

    def delete(self, rec: Recorded) -> None:
        if self._pipe(rec.name) is not None:
            self.client("pipes").delete_pipe(Name=rec.name)

    def describe(self, rec: Recorded) -> str:
        found = self._pipe(rec.name)
        return MISSING if found is None else str(found.get("CurrentState") or found.get("DesiredState"))

    @classmethod
    def template(cls, r: Pipe, template: Template) -> None:
        source = (get_att(f"queue:{r.queue}") if r.queue else get_att(f"kinesis_stream:{r.kinesis}") if r.kinesis
                  else get_att(f"table:{r.table}", "StreamArn"))
        target = get_att(r.target) if r.target.startswith("function:") else ref(r.target)
        properties: dict[str, Any] = {
            "Name": r.name, "RoleArn": get_att(f"role:pipe-{r.logical}"), "Source": source,
            "SourceParameters": r.source_parameters(True), "Target": target,
            "TargetParameters": r.target_parameters(), "DesiredState": "RUNNING" if r.enabled else "STOPPED"}
        if not r.filters:
            properties["SourceParameters"].pop("FilterCriteria")
        if r.enrichment:
            properties["Enrichment"] = get_att(f"function:{r.enrichment}")
        template.add(r, "AWS::Pipes::Pipe", properties)
