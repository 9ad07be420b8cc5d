"""From a project (one stage of it) and the target's names to the resources it declares.

Everything that can be known wrong without the target is found here, all at once, before
anything is touched: definition files that are missing or invalid, ``${Name}`` placeholders
that name nothing, environment variables read from an unset ``${env:NAME}``, names over a
service's length limit, files that look like secrets in a function's folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from stepkit.deploy.errors import DeployInputError
from stepkit.deploy.iam import StackArns
from stepkit.deploy.naming import Names
from stepkit.deploy.providers import buckets, functions, layers, queues, state_machines, streams, tables, topics
from stepkit.deploy.providers.base import BuildContext
from stepkit.deploy.providers.roles import Role
from stepkit.deploy.resources import Resource
from stepkit.runtime.bundle import LAMBDA
from stepkit.stack.project import Project
from stepkit.stack.references import substitution_names


@dataclass(frozen=True)
class DesiredStack:
    stack: str
    stage: str
    names: Names
    resources: list[Resource]
    values: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)
    """Per role key: why a statement is as wide as it is."""

    def by_key(self) -> dict[str, Resource]:
        return {r.key: r for r in self.resources}


def substitution_values(project: Project, names: Names) -> dict[str, str]:
    """The value of every placeholder the stack defines, on the target ``names`` describes."""
    stack = project.stack
    vocabulary = substitution_names(stack, [fn.name for fn in project.functions()])
    out: dict[str, str] = {}
    for placeholder, (kind, name, attribute) in vocabulary.items():
        if kind == "stack":
            out[placeholder] = {"Region": names.region, "AccountId": names.account, "Partition": names.partition,
                                "Stage": names.stage, "StackName": names.stack}[attribute]
        elif kind == "function":
            out[placeholder] = names.function_arn(name) if attribute == "arn" else names.function(name)
        elif kind == "state_machine":
            out[placeholder] = names.state_machine_arn(name) if attribute == "arn" else names.state_machine(name)
        elif kind == "bucket":
            physical = names.bucket(name, stack.buckets[name].name)
            out[placeholder] = names.bucket_arn(physical) if attribute == "arn" else physical
        elif kind == "queue":
            out[placeholder] = {"url": names.queue_url, "arn": names.queue_arn, "name": names.queue}[attribute](name)
        elif kind == "topic":
            out[placeholder] = names.topic_arn(name) if attribute == "arn" else names.topic(name)
        elif kind == "table":
            out[placeholder] = names.table_arn(name) if attribute == "arn" else names.table(name)
        elif kind == "stream":
            out[placeholder] = names.kinesis_stream_arn(name) if attribute == "arn" else names.kinesis_stream(name)
    return out


def build_desired(project: Project, stage: str, names: Names, environ: Mapping[str, str] | None = None,
                  *, compute_digests: bool = True, code_platform: str = LAMBDA,
                  deployment_bucket: bool = False) -> DesiredStack:
    """The resources of ``project`` (already staged) on ``names``'s target, in dependency
    order; raises :class:`DeployInputError` listing every problem found.

    ``code_platform``: where the functions will run, which their bundles (and so their code
    digests) depend on. ``deployment_bucket``: include the stack's bucket for zips too big
    to send directly (targets that run Lambda's own platform)."""
    environ = os.environ if environ is None else environ
    stack = project.stack
    bucket_names = {b: names.bucket(b, s.name) for b, s in stack.buckets.items()}
    arns = StackArns(names=names, bucket_names=bucket_names,
                     state_machine_types={n: s.type for n, s in stack.state_machines.items()},
                     functions=tuple(fn.name for fn in project.functions()),
                     queues=(*stack.queues, *(f"{q}-dlq" for q, s in stack.queues.items()
                                              if s.dead_letter is not None and s.dead_letter.queue is None)))
    ctx = BuildContext(project=project, names=names, environ=environ, values=substitution_values(project, names),
                       arns=arns, bucket_names=bucket_names, compute_digests=compute_digests,
                       code_platform=code_platform)
    if deployment_bucket:
        buckets.build_deployment_bucket(ctx)
    for build in BUILDERS:
        build(ctx)
    if ctx.problems:
        raise DeployInputError(list(dict.fromkeys(ctx.problems)))
    notes = {r.key: list(r.notes) for r in ctx.resources if isinstance(r, Role) and r.notes}
    return DesiredStack(stack=names.stack, stage=stage, names=names, resources=dependency_order(ctx.resources),
                        values=ctx.values, warnings=ctx.warnings, notes=notes)


#: Each section's builder, in the order they run: a function's triggers add to its bucket's
#: notifications and a state machine's ``s3`` trigger sends its bucket's events to
#: EventBridge, so the notifications come last; a function names its layers' versions, so they
#: come before the functions.
BUILDERS: tuple[Callable[[BuildContext], None], ...] = (
    buckets.build, queues.build, topics.build, streams.build, tables.build, layers.build, functions.build,
    state_machines.build, buckets.build_notifications,
)


def dependency_order(resources: list[Resource]) -> list[Resource]:
    """Kinds in their order, names sorted within a kind, then anything that depends on a
    resource placed later moved after it (a queue after its dead-letter queue)."""
    ordered = sorted(resources, key=lambda r: (r.order, r.logical))
    keys = {r.key for r in ordered}
    placed: list[Resource] = []
    done: set[str] = set()
    pending = list(ordered)
    while pending:
        for index, resource in enumerate(pending):
            if all(d in done or d not in keys for d in resource.depends_on):
                placed.append(resource)
                done.add(resource.key)
                del pending[index]
                break
        else:  # a cycle: keep the kind order for the rest
            placed.extend(pending)
            break
    return placed
