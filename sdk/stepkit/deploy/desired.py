"""From a project (one stage of it) and the target's names to the resources it declares.

Everything that can be known wrong without the target is found here, all at once, before
anything is touched: definition files that are missing or invalid, ``${Name}`` placeholders
that name nothing, environment variables read from an unset ``${env:NAME}``, names over a
service's length limit, files that look like secrets in a function's folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from stepkit.asl.substitutions import placeholders
from stepkit.deploy.chalice_api import rest_api_resource
from stepkit.deploy.errors import DeployInputError
from stepkit.deploy.iam import StackArns, function_policy
from stepkit.deploy.naming import Names
from stepkit.deploy.providers import buckets, pipes, queues, state_machines, streams, tables, topics
from stepkit.deploy.providers.base import ENV_PLACEHOLDER, BuildContext
from stepkit.deploy.providers.log_groups import LogGroup
from stepkit.deploy.providers.roles import Role
from stepkit.deploy.resources import (
    Function,
    Resource,
)
from stepkit.runtime.bundle import LAMBDA, bundle_digest, source_files
from stepkit.runtime.config import FunctionConfig
from stepkit.stack.project import Project
from stepkit.stack.references import substitution_names

#: Files that must never be uploaded in a bundle.
SECRET_FILES = re.compile(
    r"(^|/)(\.env(\..+)?|.*\.pem|.*\.key|.*\.p12|.*\.pfx|id_rsa.*|id_ed25519.*|\.aws/.*|credentials(\.json)?|"
    r"\.netrc|\.npmrc|\.pypirc|secrets?\.(json|ya?ml|toml))$"
)
#: Environment variable names that suggest a secret; their literal values are masked and warned about.
SECRET_NAMES = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE|API_?KEY|CREDENTIAL", re.IGNORECASE)


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


def _rel(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


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
    functions = project.functions()
    function_names = tuple(fn.name for fn in functions)
    bucket_names = {b: names.bucket(b, s.name) for b, s in stack.buckets.items()}
    arns = StackArns(names=names, bucket_names=bucket_names,
                     state_machine_types={n: s.type for n, s in stack.state_machines.items()},
                     functions=function_names,
                     queues=(*stack.queues, *(f"{q}-dlq" for q, s in stack.queues.items()
                                              if s.dead_letter is not None and s.dead_letter.queue is None)))
    ctx = BuildContext(project=project, names=names, environ=environ, values=substitution_values(project, names),
                       arns=arns, bucket_names=bucket_names, compute_digests=compute_digests,
                       code_platform=code_platform)
    where, problems, warnings, values = ctx.where, ctx.problems, ctx.warnings, ctx.values
    resolve, check_length, resources = ctx.resolve, ctx.check_length, ctx.resources
    notes: dict[str, list[str]] = {}
    if deployment_bucket:
        buckets.build_deployment_bucket(ctx)
    buckets.build(ctx)
    queues.build(ctx)
    topics.build(ctx)
    streams.build(ctx)
    tables.build(ctx)

    # --- functions -------------------------------------------------------------------------------
    for fn in functions:
        s = fn.settings
        place = f"functions.{fn.name}"
        check_length("function", names.function(fn.name), place)
        check_length("role", names.role("function", fn.name), place)
        if not fn.code_dir.is_dir():
            problems.append(f"{where}: {place}.code: folder {fn.code_dir} does not exist")
            continue
        for name, _path in source_files(fn.code_dir):
            if SECRET_FILES.search(name):
                problems.append(f"{_rel(fn.code_dir, project.root)}/{name}: looks like a secret and would be "
                                "uploaded in the bundle; move it out of the function's folder and pass the value "
                                "with `environment: {NAME: ${env:NAME}}`")
        environment: dict[str, str] = {}
        secret_keys: set[str] = set()
        for key, raw in s.environment.items():
            used = placeholders(raw)
            if any(ENV_PLACEHOLDER.match(u) for u in used):
                secret_keys.add(key)
            elif SECRET_NAMES.search(key) and raw and not used:
                secret_keys.add(key)
                warnings.append(f"{where}: {place}.environment.{key} looks like a secret written in the stack "
                                f"file; use `{key}: ${{env:{key}}}` to read it from the deploying shell instead")
            environment[key] = resolve(raw, values, f"{where}: {place}.environment.{key}")
        role = names.role("function", fn.name)
        policy = function_policy(fn.name, s, arns)
        resources.append(Role(logical=f"function-{fn.name}", name=role, service="lambda.amazonaws.com",
                              policy=policy.document(), notes=tuple(policy.notes)))
        resources.append(LogGroup(logical=f"function-{fn.name}", name=names.function_log_group(fn.name)))
        digest = bundle_digest(FunctionConfig.in_project(project, fn), code_platform) if compute_digests else ""
        resources.append(Function(
            logical=fn.name, name=names.function(fn.name), role=role, role_arn=names.role_arn(role),
            handler=s.handler, runtime=s.runtime, memory_size=s.memory_size, timeout=s.timeout,
            environment=environment, secret_keys=frozenset(secret_keys),
            reserved_concurrency=s.reserved_concurrency, architecture=s.architecture, description=s.description,
            code_dir=fn.code_dir, code_digest=digest, log_group=names.function_log_group(fn.name),
        ))
        if s.api is not None:
            try:
                resources.append(rest_api_resource(fn.name, names.function(fn.name), names.function_arn(fn.name),
                                                   names.region, s.api.stage, fn.code_dir, s.handler,
                                                   [layer.python_dir for layer in project.layers_of(fn)]))
            except ValueError as exc:
                problems.append(f"{where}: {place}.api: {exc}")
        for i, trigger in enumerate(s.triggers):
            if trigger.s3 is not None and trigger.s3.bucket in bucket_names:
                buckets.s3_trigger(ctx, fn.name, i, trigger.s3)
            if trigger.sns is not None and trigger.sns.topic in stack.topics:
                resources.extend(topics.subscription(fn.name, trigger.sns, names))
            if trigger.sqs is not None and trigger.sqs.queue in stack.queues:
                resources.append(queues.sqs_mapping(fn.name, trigger.sqs, names))
            if trigger.stream is not None and (trigger.stream.table in stack.tables
                                               or trigger.stream.kinesis in stack.streams):
                resources.append(streams.stream_mapping(fn.name, trigger.stream, names))
            if trigger.pipe is not None:
                resources.extend(pipes.pipe_resources(("function", fn.name), i, trigger.pipe, names))

    state_machines.build(ctx)
    buckets.build_notifications(ctx)
    for r in resources:
        if isinstance(r, Role) and r.notes:
            notes[r.key] = list(r.notes)
    if problems:
        raise DeployInputError(list(dict.fromkeys(problems)))
    return DesiredStack(stack=names.stack, stage=stage, names=names, resources=dependency_order(resources),
                        values=values, warnings=warnings, notes=notes)


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
