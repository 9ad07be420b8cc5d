"""The sections of ``infra/stack.yaml`` beyond functions: state machines, buckets, queues,
DynamoDB tables, the triggers that connect them, and the grants a function or state machine declares.

Triggers live on what they start (a function or a state machine), as SAM's ``Events`` do::

    functions:
      score:
        triggers:
          - s3: {bucket: data, prefix: incoming/, suffix: .csv}
          - sqs: {queue: jobs, batch_size: 10, partial_failures: true}
          - sns: {topic: drift, filter_policy: {severity: [high]}}
          - stream: {table: predictions, retries: 2, on_failure: {queue: failed}}
    state_machines:
      training:
        definition: statemachines/training.asl.json   # or flow: pipelines.training:training
        triggers:
          - s3: {bucket: data, prefix: training/}
          - schedule: {expression: "cron(0 3 * * ? *)", input: {mode: nightly}}

Names of other resources are the keys of their sections; whether they exist is checked by
:meth:`stepkit.stack.model.Stack.reference_problems` so the error points at the line.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Names of state machines, buckets and queues: what a key of their section may be.
RESOURCE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")

BucketAction = Literal["read", "write", "delete", "list"]
QueueAction = Literal["send", "receive"]


class _ResourceModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class S3Trigger(_ResourceModel):
    """Objects created in ``bucket`` under ``prefix`` (and ending in ``suffix``)."""

    bucket: str
    prefix: str = ""
    suffix: str = ""


class SqsTrigger(_ResourceModel):
    """Messages of ``queue``, delivered by a Lambda event source mapping."""

    queue: str
    batch_size: Annotated[int, Field(ge=1, le=10000)] = 10
    batching_window: Annotated[int, Field(ge=0, le=300)] = 0
    """Seconds to gather a batch (``MaximumBatchingWindowInSeconds``)."""
    partial_failures: bool = True
    """The function reports failed items (``batchItemFailures``) so only those are retried."""
    enabled: bool = True

    @model_validator(mode="after")
    def _window_for_big_batches(self) -> SqsTrigger:
        if self.batch_size > 10 and self.batching_window == 0:
            raise ValueError("a batch_size over 10 needs a batching_window of at least 1 second (an SQS rule)")
        return self


class SnsTrigger(_ResourceModel):
    """Messages published to ``topic``, delivered to the function by an SNS subscription;
    ``filter_policy`` (SNS's filter policy) on the message attributes, or on the message body
    with ``filter_scope: body``."""

    topic: str
    filter_policy: dict[str, Any] | None = None
    filter_scope: Literal["attributes", "body"] = "attributes"
    dead_letter: str | None = None
    """A declared queue for the messages SNS could not deliver to the function (the
    subscription's ``RedrivePolicy``); deploy lets the topic, and only it, send to the queue."""


class OnFailure(_ResourceModel):
    """Where a stream trigger sends the description of a batch it gave up on: a queue or a topic."""

    queue: str | None = None
    topic: str | None = None

    @model_validator(mode="after")
    def _one(self) -> OnFailure:
        if (self.queue is None) == (self.topic is None):
            raise ValueError("on_failure names exactly one of `queue` or `topic`")
        return self


class KinesisSettings(_ResourceModel):
    """One entry of ``streams``: a Kinesis data stream (provisioned shards); the key is its name."""

    shards: Annotated[int, Field(ge=1, le=500)] = 1
    retention_hours: Annotated[int, Field(ge=24, le=8760)] = 24


class StreamTrigger(_ResourceModel):
    """Records of a Kinesis stream (``kinesis``, declared under ``streams:``) or changes of a
    table's DynamoDB stream (``table``, which declares ``stream:``), delivered in order per
    shard by a Lambda event source mapping::

        triggers:
          - stream: {table: predictions, batch_size: 50, retries: 2, on_failure: {queue: failed}}
          - stream: {kinesis: clicks, starting_position: trim_horizon}

    ``retries`` and ``max_record_age`` (seconds) bound how long a failing batch blocks its shard
    (-1: until the record leaves the stream, as Lambda's default); ``bisect`` splits a failing
    batch to find the bad record; ``filters`` are event patterns matched on each record."""

    table: str | None = None
    kinesis: str | None = None
    starting_position: Literal["trim_horizon", "latest"] = "latest"
    batch_size: Annotated[int, Field(ge=1, le=10000)] = 100
    batching_window: Annotated[int, Field(ge=0, le=300)] = 0
    retries: Annotated[int, Field(ge=-1, le=10000)] = -1
    max_record_age: Annotated[int, Field(ge=-1, le=604800)] = -1
    bisect: bool = False
    parallelization: Annotated[int, Field(ge=1, le=10)] = 1
    partial_failures: bool = True
    """The function reports failed records (``batchItemFailures``): the batch is retried from the first."""
    on_failure: OnFailure | None = None
    filters: list[dict[str, Any]] = Field(default_factory=list, max_length=5)
    enabled: bool = True

    @model_validator(mode="after")
    def _one_source(self) -> StreamTrigger:
        if (self.table is None) == (self.kinesis is None):
            raise ValueError("a stream trigger reads exactly one of `table` (its DynamoDB stream) or `kinesis`")
        return self

    @property
    def source(self) -> str:
        """``table:<name>`` or ``kinesis:<name>``."""
        return f"table:{self.table}" if self.table is not None else f"kinesis:{self.kinesis}"

    @field_validator("max_record_age")
    @classmethod
    def _age(cls, value: int) -> int:
        if 0 <= value < 60:
            raise ValueError("max_record_age is -1 (no limit) or 60 to 604800 seconds")
        return value


class PipeTrigger(_ResourceModel):
    """An EventBridge pipe from a queue, a table's DynamoDB stream or a Kinesis stream of the
    stack (``kinesis``, declared under ``streams:``) to the function or state machine that
    declares it, through ``filters`` (event patterns) and an optional ``enrichment`` function of
    the stack, whose answer becomes the batch::

        triggers:
          - pipe: {table: predictions, filters: [{eventName: [INSERT]}], enrichment: score}
          - pipe: {kinesis: clicks, starting_position: trim_horizon}
    """

    queue: str | None = None
    table: str | None = None
    kinesis: str | None = None
    filters: list[dict[str, Any]] = Field(default_factory=list, max_length=5)
    enrichment: str | None = None
    batch_size: Annotated[int, Field(ge=1, le=10000)] = 10
    starting_position: Literal["trim_horizon", "latest"] = "latest"
    """For a stream (a table's or Kinesis) only."""
    enabled: bool = True

    @model_validator(mode="after")
    def _one_source(self) -> PipeTrigger:
        if [self.queue, self.table, self.kinesis].count(None) != 2:
            raise ValueError("a pipe reads exactly one of `queue`, `table` (its DynamoDB stream) or `kinesis` "
                             "(a stream under `streams:`)")
        return self


class TopicSettings(_ResourceModel):
    """One entry of ``topics``: a standard SNS topic; the key is its name."""

    display_name: Annotated[str, Field(max_length=100)] = ""


class ScheduleTrigger(_ResourceModel):
    """An EventBridge scheduled rule (``rate(...)`` or six-field ``cron(...)``, UTC) starting a
    state machine, or invoking a function (asynchronously), with ``input`` (a function without
    one gets EventBridge's ``Scheduled Event``); ``enabled: false`` deploys the rule disabled."""

    expression: str
    enabled: bool = True
    input: dict[str, Any] | None = None

    @field_validator("expression")
    @classmethod
    def _valid(cls, value: str) -> str:
        from stepkit.stack.schedule_expressions import parse_schedule

        try:
            parse_schedule(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an EventBridge schedule expression ({exc}); write rate(N unit) "
                             "or cron(minutes hours day-of-month month day-of-week year)") from None
        return value


class TableKey(_ResourceModel):
    """A key attribute of a table: its name and DynamoDB type (``S``, ``N`` or ``B``)."""

    name: Annotated[str, Field(min_length=1, max_length=255)]
    type: Literal["S", "N", "B"] = "S"


#: ``stream:`` values and the ``StreamViewType`` each one is.
STREAM_VIEW_TYPES = {"new_and_old_images": "NEW_AND_OLD_IMAGES", "new_image": "NEW_IMAGE",
                     "old_image": "OLD_IMAGE", "keys_only": "KEYS_ONLY"}


class TableSettings(_ResourceModel):
    """One entry of ``tables``: a DynamoDB table billed per request (``PAY_PER_REQUEST``);
    the key is its name::

        tables:
          router:
            partition_key: {name: pk, type: S}
            sort_key: {name: sk, type: S}
            ttl_attribute: expires_at
            stream: new_and_old_images

    ``ttl_attribute``: the number attribute (epoch seconds) after which DynamoDB deletes an
    item; ``stream``: a DynamoDB stream of the changes, with what each record carries."""

    partition_key: TableKey
    sort_key: TableKey | None = None
    ttl_attribute: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    stream: Literal["new_and_old_images", "new_image", "old_image", "keys_only"] | None = None
    enabled: bool = True
    """``false`` leaves the table out of what the stack deploys (a stage on a target without
    DynamoDB); whatever is granted access to it must be disabled too."""

    @model_validator(mode="after")
    def _distinct_keys(self) -> TableSettings:
        if self.sort_key is not None and self.sort_key.name == self.partition_key.name:
            raise ValueError(f"the sort key and the partition key are the same attribute ({self.sort_key.name!r})")
        return self

    @property
    def stream_view_type(self) -> str | None:
        return STREAM_VIEW_TYPES[self.stream] if self.stream else None


class Trigger(_ResourceModel):
    """One item of a ``triggers`` list: exactly one of ``s3``, ``sqs``, ``sns``, ``stream``,
    ``pipe`` or ``schedule``."""

    s3: S3Trigger | None = None
    sqs: SqsTrigger | None = None
    sns: SnsTrigger | None = None
    stream: StreamTrigger | None = None
    schedule: ScheduleTrigger | None = None
    pipe: PipeTrigger | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Trigger:
        if [self.s3, self.sqs, self.sns, self.stream, self.schedule, self.pipe].count(None) != 5:
            raise ValueError("a trigger is exactly one of `s3: {bucket, prefix}`, `sqs: {queue}`, `sns: {topic}`, "
                             "`stream: {table}`, `pipe: {queue, table or kinesis}` or `schedule: {expression}`")
        return self


class Grant(_ResourceModel):
    """Access a function or state machine needs beyond what stepkit infers.

    Exactly one of ``bucket``, ``queue``, ``state_machine``, ``function``, ``table`` or
    ``topic``; ``actions`` default to the narrowest useful one (read a bucket or a table, send
    to a queue, start a state machine, invoke a function, publish to a topic)."""

    bucket: str | None = None
    prefix: str = ""
    """Only objects under this prefix of ``bucket``."""
    queue: str | None = None
    state_machine: str | None = None
    function: str | None = None
    table: str | None = None
    topic: str | None = None
    actions: list[Literal["read", "write", "delete", "list", "send", "receive", "start", "invoke", "publish"]] | None \
        = None

    @model_validator(mode="after")
    def _one_target(self) -> Grant:
        targets = [k for k in _GRANT_ACTIONS if getattr(self, k) is not None]
        if len(targets) != 1:
            raise ValueError("a grant names exactly one of bucket, queue, state_machine, function, table or topic")
        allowed = _GRANT_ACTIONS[targets[0]]
        wrong = [a for a in self.actions or () if a not in allowed]
        if wrong:
            raise ValueError(f"{', '.join(wrong)} is not an action on a {targets[0]} (use {', '.join(allowed)})")
        if self.prefix and targets[0] != "bucket":
            raise ValueError("prefix applies to a bucket grant only")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in _GRANT_ACTIONS if getattr(self, k) is not None)

    @property
    def target(self) -> str:
        return str(getattr(self, self.kind))

    @property
    def effective_actions(self) -> list[str]:
        return list(self.actions) if self.actions else [_GRANT_ACTIONS[self.kind][0]]


_GRANT_ACTIONS: dict[str, tuple[str, ...]] = {
    "bucket": ("read", "write", "delete", "list"),
    "queue": ("send", "receive"),
    "state_machine": ("start",),
    "function": ("invoke",),
    "table": ("read", "write"),
    "topic": ("publish",),
}


class Logging(_ResourceModel):
    """Execution logs of a state machine, to a CloudWatch log group stepkit creates."""

    level: Literal["ALL", "ERROR", "FATAL", "OFF"] = "ERROR"
    include_execution_data: bool = False
    retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365] = 14

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class AliasSettings(_ResourceModel):
    """Publish a version of the state machine at each deploy that changes it, and point an
    alias at it: callers start executions on the alias, so a deploy moves them at once, or
    as a canary (``canary_percentage`` of the executions on the new version, the rest on
    the version the alias pointed to before, until a deploy without it moves them all)."""

    name: Annotated[str, Field(min_length=1, max_length=80)]
    description: str = ""
    canary_percentage: Annotated[int | None, Field(ge=1, le=99)] = None
    canary_interval_minutes: Annotated[int, Field(ge=1, le=2100)] = 10
    """For ``stepkit package``: CloudFormation's canary shifts the rest after this long."""

    @field_validator("name")
    @classmethod
    def _alias_name(cls, value: str) -> str:
        if not re.fullmatch(r"(?=.*[a-zA-Z_\-.])[a-zA-Z0-9_\-.]+", value):
            raise ValueError("an alias name is letters, digits, '-', '_' and '.', not digits only")
        return value


class StateMachineSettings(_ResourceModel):
    """One entry of ``state_machines``; the key is the state machine's name."""

    definition: str = ""
    """The ASL file, relative to the project root."""
    flow: str = ""
    """Instead of ``definition``: a workflow written in Python, ``package.module:name`` (imported
    with the project root first on the path) or ``path/to/file.py:name``. Deploy, package and
    ``stepkit run`` compile it, and its ``@flow.task`` functions become functions of the stack
    (see :mod:`stepkit.flow.stack`)."""
    type: Literal["STANDARD", "EXPRESS"] = "STANDARD"
    substitutions: dict[str, str] = Field(default_factory=dict)
    """Extra ``${Name}`` values; those of the stack's own resources are filled in by deploy."""
    logging: Logging | None = None
    tracing: bool = False
    triggers: list[Trigger] = Field(default_factory=list)
    access: list[Grant] = Field(default_factory=list)
    description: str = ""
    alias: AliasSettings | None = None
    enabled: bool = True
    """``false`` leaves the state machine, its role, log group and triggers out of what the
    stack deploys: for a stage on a target that cannot run it, e.g.
    ``stages: {localstack: {state_machines: {batch_inference: {enabled: false}}}}``."""

    @field_validator("type", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_source(self) -> StateMachineSettings:
        if bool(self.definition) == bool(self.flow):
            raise ValueError("a state machine has a `definition` (an ASL file) or a `flow` (module:name of a "
                             "Python workflow), not " + ("both" if self.definition else "neither"))
        if self.flow and not re.match(r"^[^:\s]+:[A-Za-z_][A-Za-z0-9_]*$", self.flow):
            raise ValueError(f"flow is module:name (pipelines.training:training or pipelines/training.py:training), "
                             f"not {self.flow!r}")
        return self

    @field_validator("substitutions", mode="before")
    @classmethod
    def _stringify(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: str(v).lower() if isinstance(v, bool) else (str(v) if isinstance(v, int | float) else v)
                    for k, v in value.items()}
        return value

    @field_validator("triggers")
    @classmethod
    def _s3_only(cls, value: list[Trigger]) -> list[Trigger]:
        if any(t.sqs is not None or t.sns is not None or t.stream is not None for t in value):
            raise ValueError("a state machine is started by `s3` triggers, a `schedule` or a `pipe`; an SQS queue "
                             "or an SNS topic triggers a function (and so does a table's `stream`)")
        return value


class DeadLetter(_ResourceModel):
    """Where messages go after ``max_receive_count`` failed receives."""

    max_receive_count: Annotated[int, Field(ge=1, le=1000)] = 5
    queue: str | None = None
    """A declared queue; unset: stepkit creates ``<name>-dlq`` for this queue."""


class QueueSettings(_ResourceModel):
    visibility_timeout: Annotated[int, Field(ge=0, le=43200)] = 30
    retention: Annotated[int, Field(ge=60, le=1209600)] = 345600
    """Seconds a message is kept (``MessageRetentionPeriod``)."""
    delay: Annotated[int, Field(ge=0, le=900)] = 0
    dead_letter: DeadLetter | None = None


class BucketSettings(_ResourceModel):
    versioning: bool = False
    name: str | None = None
    """The bucket's physical name, if the default ``<stack>-<stage>-<key>`` will not do (S3
    names are global); may use ``${AccountId}``, ``${Region}`` and ``${Stage}``."""

    @field_validator("name")
    @classmethod
    def _bucket_name(cls, value: str | None) -> str | None:
        if value is not None:
            probe = re.sub(r"\$\{(AccountId|Region|Stage)\}", "x", value)
            if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", probe):
                raise ValueError("an S3 bucket name is 3-63 lowercase letters, digits, '.' or '-'")
        return value
