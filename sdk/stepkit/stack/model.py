"""The root of ``infra/stack.yaml``.

To add a section, add a field here with its own model in a module of this package;
``extra="forbid"`` keeps typos such as ``fucntions:`` from being silently ignored.

Checks that span sections (a trigger naming an undeclared bucket, a queue whose visibility
timeout is shorter than its function's timeout) are :meth:`Stack.reference_problems`, which
the loader reports with the line of the offending field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from stepkit.stack.functions import FunctionSettings
from stepkit.stack.layers import LayerSettings
from stepkit.stack.resources import (
    RESOURCE_NAME,
    BucketSettings,
    Grant,
    KinesisSettings,
    QueueSettings,
    StateMachineSettings,
    TableSettings,
    TopicSettings,
    Trigger,
)

#: Lambda's rule for function names.
FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
STACK_NAME = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
STAGE_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")
DEFAULT_STAGE = "dev"

Location = tuple[str, ...]


class StageOverrides(BaseModel):
    """What one stage changes: partial entries of the sections, merged over the base."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    functions: dict[str, dict[str, Any]] = Field(default_factory=dict)
    state_machines: dict[str, dict[str, Any]] = Field(default_factory=dict)
    buckets: dict[str, dict[str, Any]] = Field(default_factory=dict)
    queues: dict[str, dict[str, Any]] = Field(default_factory=dict)
    topics: dict[str, dict[str, Any]] = Field(default_factory=dict)
    tables: dict[str, dict[str, Any]] = Field(default_factory=dict)
    streams: dict[str, dict[str, Any]] = Field(default_factory=dict)
    region: str | None = None

    @field_validator("functions", "state_machines", "buckets", "queues", "topics", "tables", "streams",
                     mode="before")
    @classmethod
    def _empty(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return {} if value is None else value


def _event_pattern_shape(pattern: Any) -> bool:
    """EventBridge's structural rule for a pattern: objects down to non-empty lists (the endpoint
    and AWS check the matchers inside at deploy)."""
    if not isinstance(pattern, dict) or not pattern:
        return False
    return all((isinstance(v, list) and bool(v)) or _event_pattern_shape(v) for v in pattern.values())


#: The grant kinds whose target a stage may disable (``enabled: false``), and their sections.
_SWITCHABLE = {"state_machine": "state_machines", "function": "functions", "table": "tables"}


class UnknownStage(ValueError):
    pass


def _names_check(kind: str, pattern: re.Pattern[str], rule: str) -> Any:
    def check(cls: type, value: object) -> object:
        if value is None:
            return {}
        if isinstance(value, dict):
            for name in value:
                if not pattern.match(str(name)):
                    raise ValueError(f"{kind} name {name!r} must be {rule}")
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value

    return classmethod(check)


class Stack(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    """Prefix of every deployed resource's name: ``<name>-<stage>-<resource>``. Default: the
    project folder's name."""
    region: str | None = None
    """Region used when neither ``--region`` nor the AWS configuration gives one."""
    functions: Annotated[dict[str, FunctionSettings], Field(default_factory=dict)]
    state_machines: Annotated[dict[str, StateMachineSettings], Field(default_factory=dict)]
    buckets: Annotated[dict[str, BucketSettings], Field(default_factory=dict)]
    queues: Annotated[dict[str, QueueSettings], Field(default_factory=dict)]
    topics: Annotated[dict[str, TopicSettings], Field(default_factory=dict)]
    tables: Annotated[dict[str, TableSettings], Field(default_factory=dict)]
    """DynamoDB tables, see :class:`stepkit.stack.resources.TableSettings`."""
    streams: Annotated[dict[str, KinesisSettings], Field(default_factory=dict)]
    """Kinesis data streams, see :class:`stepkit.stack.resources.KinesisSettings`."""
    stages: Annotated[dict[str, StageOverrides], Field(default_factory=dict)]
    _disabled_functions: frozenset[str] = PrivateAttr(default=frozenset())
    layers: Annotated[dict[str, LayerSettings], Field(default_factory=dict)]
    """Code shared by functions (Lambda layers), see :mod:`stepkit.stack.layers`."""

    @field_validator("name")
    @classmethod
    def _stack_name(cls, value: str | None) -> str | None:
        if value is not None and not STACK_NAME.match(value):
            raise ValueError("the stack name is 1-24 lowercase letters, digits or '-', starting with a letter")
        return value

    @field_validator("functions", mode="before")
    @classmethod
    def _empty_entry_means_defaults(cls, value: object) -> object:
        # `train:` with nothing under it is a function with every default.
        # Names are checked here, before the entries, so a bad name is reported with them.
        if value is None:
            return {}
        if isinstance(value, dict):
            for name in value:
                if not FUNCTION_NAME.match(str(name)):
                    raise ValueError(f"function name {name!r} must be 1-64 letters, digits, '-' or '_'")
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value

    _sm_names = field_validator("state_machines", mode="before")(
        _names_check("state machine", RESOURCE_NAME, "1-40 letters, digits, '-' or '_', starting with a letter")
    )
    _stream_names = field_validator("streams", mode="before")(
        _names_check("stream", RESOURCE_NAME, "1-40 letters, digits, '-' or '_', starting with a letter")
    )
    _bucket_names = field_validator("buckets", mode="before")(
        _names_check("bucket", RESOURCE_NAME, "1-40 letters, digits, '-' or '_', starting with a letter")
    )
    _layer_names = field_validator("layers", mode="before")(
        _names_check("layer", RESOURCE_NAME, "1-40 letters, digits, '-' or '_', starting with a letter")
    )
    _queue_names = field_validator("queues", mode="before")(
        _names_check("queue", RESOURCE_NAME, "1-40 letters, digits, '-' or '_', starting with a letter")
    )
    _topic_names = field_validator("topics", mode="before")(
        _names_check("topic", RESOURCE_NAME, "1-40 letters, digits, '-' or '_', starting with a letter")
    )
    _table_names = field_validator("tables", mode="before")(
        _names_check("table", RESOURCE_NAME, "1-40 letters, digits, '-' or '_', starting with a letter")
    )

    @field_validator("stages", mode="before")
    @classmethod
    def _stage_names(cls, value: object) -> object:
        if value is None:
            return {}
        if isinstance(value, dict):
            for name in value:
                if not STAGE_NAME.match(str(name)):
                    raise ValueError(f"stage name {name!r} must be 1-12 lowercase letters or digits")
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value

    # --- stages -------------------------------------------------------------------------

    def stage_names(self) -> list[str]:
        return list(self.stages) or [DEFAULT_STAGE]

    def for_stage(self, stage: str) -> Stack:
        """What ``stage`` deploys: this stack with the stage's overrides merged in (dicts merge,
        lists replace), without the state machines that end up ``enabled: false``.

        Raises :class:`UnknownStage` for a stage the file does not declare (when it declares
        any), ``pydantic.ValidationError`` when the merged result is invalid."""
        return self.merged_for_stage(stage).enabled_only()

    def merged_for_stage(self, stage: str) -> Stack:
        """This stack with the overrides of ``stage`` merged in, disabled entries still there
        (so a reference to one can be reported)."""
        if not self.stages:
            if not STAGE_NAME.match(stage):
                raise UnknownStage(f"stage name {stage!r} must be 1-12 lowercase letters or digits")
            return self
        if stage not in self.stages:
            raise UnknownStage(f"unknown stage {stage!r}; the stack declares: {', '.join(self.stages)}")
        base = self.model_dump(exclude={"stages"}, exclude_unset=True)
        overrides = self.stages[stage].model_dump(exclude_unset=True, exclude_defaults=True)
        merged = _merge(base, overrides)
        return Stack.model_validate(merged)

    def enabled_only(self) -> Stack:
        """This stack without its disabled (``enabled: false``) state machines, functions and tables."""
        update = {section: {name: item for name, item in getattr(self, section).items() if item.enabled}
                  for section in ("state_machines", "functions", "tables")}
        update = {section: items for section, items in update.items() if len(items) != len(getattr(self, section))}
        if not update:
            return self
        enabled = self.model_copy(update=update)
        enabled._disabled_functions = frozenset(self.functions) - frozenset(enabled.functions)
        return enabled

    @property
    def disabled_functions(self) -> frozenset[str]:
        """The functions a stage disabled: their folders under ``functions/`` are not functions
        of this stack either (``Project.functions`` finds undeclared ones there)."""
        return self._disabled_functions

    def stage_override_locations(self, stage: str) -> set[Location]:
        """Locations (in the merged stack) that the stage sets, for error reporting."""
        if stage not in self.stages:
            return set()
        data = self.stages[stage].model_dump(exclude_unset=True, exclude_defaults=True)
        return set(_locations(data, ()))

    # --- cross-section checks -------------------------------------------------------------

    def _pipe_problems(self, here: Location, trigger: Trigger, known: dict[str, set[str]],
                       undeclared: Any) -> list[tuple[Location, str]]:
        """A pipe's source (a queue, a table with a stream, a Kinesis stream), its enrichment
        function, its filters."""
        pipe = trigger.pipe
        assert pipe is not None
        out: list[tuple[Location, str]] = []
        if pipe.queue is not None and pipe.queue not in known["queue"]:
            out.append(((*here, "pipe", "queue"), undeclared("queue", pipe.queue)))
        if pipe.kinesis is not None and pipe.kinesis not in known["stream"]:
            out.append(((*here, "pipe", "kinesis"), undeclared("stream", pipe.kinesis)))
        if pipe.table is not None:
            table = self.tables.get(pipe.table)
            if table is None:
                out.append(((*here, "pipe", "table"), undeclared("table", pipe.table)))
            elif table.stream is None:
                out.append(((*here, "pipe", "table"), f"table {pipe.table!r} has no stream: set "
                            f"tables.{pipe.table}.stream"))
        if pipe.enrichment is not None and pipe.enrichment not in known["function"]:
            out.append(((*here, "pipe", "enrichment"), undeclared("function", pipe.enrichment)))
        out.extend(((*here, "pipe", "filters", str(j)), "not an event pattern (an object whose leaves are "
                    "non-empty lists)") for j, f in enumerate(pipe.filters) if not _event_pattern_shape(f))
        return out

    def _stream_problems(self, here: Location, trigger: Trigger, known: dict[str, set[str]],
                         undeclared: Any) -> list[tuple[Location, str]]:
        """A stream trigger's table must declare a stream; its on-failure queue or topic must exist;
        its filters must be event patterns."""
        stream = trigger.stream
        assert stream is not None
        out: list[tuple[Location, str]] = []
        table = self.tables.get(stream.table) if stream.table is not None else None
        if stream.kinesis is not None:
            if stream.kinesis not in known["stream"]:
                out.append(((*here, "stream", "kinesis"), undeclared("stream", stream.kinesis)))
        elif table is None:
            out.append(((*here, "stream", "table"), undeclared("table", str(stream.table))))
        elif table.stream is None:
            out.append(((*here, "stream", "table"), f"table {stream.table!r} has no stream: set "
                        f"tables.{stream.table}.stream (new_and_old_images, new_image, old_image or keys_only)"))
        if stream.on_failure is not None:
            kind = "queue" if stream.on_failure.queue is not None else "topic"
            name = stream.on_failure.queue or stream.on_failure.topic or ""
            if name not in known[kind]:
                out.append(((*here, "stream", "on_failure", kind), undeclared(kind, name)))
        for j, pattern in enumerate(stream.filters):
            if not _event_pattern_shape(pattern):
                out.append(((*here, "stream", "filters", str(j)), "not an event pattern (a filter is an object whose "
                            "leaves are non-empty lists of values or matchers, e.g. {eventName: [INSERT]})"))
        return out

    def reference_problems(self) -> list[tuple[Location, str]]:
        """Every reference to an undeclared resource, and the rules that span sections."""
        problems: list[tuple[Location, str]] = []
        known = {
            "bucket": set(self.buckets),
            "queue": set(self.queues),
            "state_machine": set(self.state_machines),
            "function": set(self.functions),
            "topic": set(self.topics),
            "table": set(self.tables),
            "stream": set(self.streams),
        }
        section = {"bucket": "buckets", "queue": "queues", "state_machine": "state_machines",
                   "function": "functions", "topic": "topics", "table": "tables", "stream": "streams"}

        def undeclared(kind: str, name: str) -> str:
            names = ", ".join(sorted(known[kind])) or "none"
            return f"{kind.replace('_', ' ')} {name!r} is not declared under `{section[kind]}:` (declared: {names})"

        def triggers(loc: Location, items: list[Trigger]) -> None:
            for i, trigger in enumerate(items):
                here = (*loc, "triggers", str(i))
                if trigger.s3 is not None and trigger.s3.bucket not in known["bucket"]:
                    problems.append(((*here, "s3", "bucket"), undeclared("bucket", trigger.s3.bucket)))
                if trigger.sqs is not None and trigger.sqs.queue not in known["queue"]:
                    problems.append(((*here, "sqs", "queue"), undeclared("queue", trigger.sqs.queue)))
                if trigger.sns is not None and trigger.sns.topic not in known["topic"]:
                    problems.append(((*here, "sns", "topic"), undeclared("topic", trigger.sns.topic)))
                if trigger.sns is not None and trigger.sns.dead_letter not in (None, *known["queue"]):
                    problems.append(((*here, "sns", "dead_letter"), undeclared("queue", str(trigger.sns.dead_letter))))
                if trigger.stream is not None:
                    problems.extend(self._stream_problems(here, trigger, known, undeclared))
                if trigger.pipe is not None:
                    problems.extend(self._pipe_problems(here, trigger, known, undeclared))

        def grants(loc: Location, items: list[Grant], deployed: bool = True) -> None:
            for i, grant in enumerate(items):
                if grant.target not in known[grant.kind]:
                    problems.append(((*loc, "access", str(i), grant.kind), undeclared(grant.kind, grant.target)))
                elif deployed and grant.kind in _SWITCHABLE and not getattr(self, _SWITCHABLE[grant.kind])[
                        grant.target].enabled:
                    # Located at `enabled: false` (a stage's, when a stage disables it).
                    kind = grant.kind.replace("_", " ")
                    problems.append(((_SWITCHABLE[grant.kind], grant.target, "enabled"),
                                     f"{kind} {grant.target!r} is disabled, but {'.'.join(loc)} is granted "
                                     f"access to it (access.{i}); remove the grant or keep the {kind}"))

        for name, fn in self.functions.items():
            if not fn.enabled:
                continue
            triggers(("functions", name), fn.triggers)
            grants(("functions", name), fn.access)
            for i, trigger in enumerate(fn.triggers):
                queue = self.queues.get(trigger.sqs.queue) if trigger.sqs else None
                if queue is not None and queue.visibility_timeout < fn.timeout:
                    problems.append((
                        ("functions", name, "triggers", str(i), "sqs", "queue"),
                        f"queue {trigger.sqs.queue!r} has a visibility_timeout of {queue.visibility_timeout}s, "  # type: ignore[union-attr]
                        f"shorter than the function's timeout of {fn.timeout}s (Lambda refuses the mapping); "
                        f"set queues.{trigger.sqs.queue}.visibility_timeout to at least {fn.timeout}",  # type: ignore[union-attr]
                    ))
        for name, sm in self.state_machines.items():
            triggers(("state_machines", name), sm.triggers)
            grants(("state_machines", name), sm.access, deployed=sm.enabled)
        for name, queue in self.queues.items():
            dlq = queue.dead_letter.queue if queue.dead_letter else None
            if dlq is not None and dlq not in known["queue"]:
                problems.append((("queues", name, "dead_letter", "queue"), undeclared("queue", dlq)))
            elif dlq == name:
                problems.append((("queues", name, "dead_letter", "queue"), "a queue cannot be its own dead-letter"))
            if queue.dead_letter and queue.dead_letter.queue is None and f"{name}-dlq" in self.queues:
                problems.append((("queues", name, "dead_letter"),
                                 f"stepkit would create {name}-dlq, which is already declared; name it: "
                                 f"`dead_letter: {{queue: {name}-dlq}}`"))
        problems.extend(self._layer_problems())
        problems.extend(self._overlapping_notifications())
        problems.extend(self._substitution_collisions())
        return problems

    def _layer_problems(self) -> Iterator[tuple[Location, str]]:
        """A function naming an undeclared layer, or one not published for its runtime."""
        for name, fn in self.functions.items():
            for i, layer_name in enumerate(fn.layers):
                layer = self.layers.get(layer_name)
                if layer is None:
                    declared = ", ".join(sorted(self.layers)) or "none"
                    yield (("functions", name, "layers", str(i)),
                           f"layer {layer_name!r} is not declared under `layers:` (declared: {declared})")
                elif layer.compatible_runtimes and fn.runtime not in layer.compatible_runtimes:
                    yield (("functions", name, "layers", str(i)),
                           f"layer {layer_name!r} is for {', '.join(layer.compatible_runtimes)}, "
                           f"not this function's runtime {fn.runtime}")

    def _substitution_collisions(self) -> Iterator[tuple[Location, str]]:
        from stepkit.stack.references import camel

        sections: dict[str, dict[str, Any]] = {"functions": self.functions, "state_machines": self.state_machines,
                    "buckets": self.buckets, "queues": self.queues, "topics": self.topics, "tables": self.tables}
        for section, entries in sections.items():
            seen: dict[str, str] = {}
            for name in entries:
                key = camel(name)
                if key in seen:
                    yield ((section, name),
                           f"{name!r} and {seen[key]!r} give the same ${{{key}...}} substitutions; rename one")
                seen.setdefault(key, name)

    def _overlapping_notifications(self) -> Iterator[tuple[Location, str]]:
        # S3 refuses two Lambda notifications of one bucket whose prefixes and suffixes overlap.
        seen: dict[str, list[tuple[str, str, str]]] = {}
        for name, fn in self.functions.items():
            for i, trigger in enumerate(fn.triggers):
                if trigger.s3 is None:
                    continue
                s3 = trigger.s3
                for other, prefix, suffix in seen.get(s3.bucket, []):
                    if _overlap(prefix, s3.prefix, True) and _overlap(suffix, s3.suffix, False):
                        yield (("functions", name, "triggers", str(i), "s3", "prefix"),
                               f"bucket {s3.bucket!r}: prefix {s3.prefix!r} overlaps the trigger of {other} "
                               f"(prefix {prefix!r}); S3 refuses overlapping notifications, use distinct prefixes")
                seen.setdefault(s3.bucket, []).append((name, s3.prefix, s3.suffix))


def _overlap(a: str, b: str, prefix: bool) -> bool:
    if prefix:
        return a.startswith(b) or b.startswith(a)
    return a.endswith(b) or b.endswith(a)


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _locations(data: Any, loc: Location) -> Iterator[Location]:
    """The locations of the values ``data`` sets (not the mappings that hold them)."""
    if isinstance(data, dict) and data:
        for key, value in data.items():
            yield from _locations(value, (*loc, str(key)))
    elif loc:
        yield loc
