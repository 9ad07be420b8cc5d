"""Lambda functions (the stack's ``functions:``, kind ``function``), each with its role (from
its triggers and ``access:`` grants) and log group; a function's triggers are built by the
provider of what they create (buckets, topics, queues, streams, pipes; its REST API: apis).

The builder refuses a bundle that would carry a file that looks like a secret, and marks
environment values read with ``${env:NAME}`` as secrets: never printed nor recorded."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from botocore.exceptions import ClientError

from stepkit.asl.substitutions import placeholders
from stepkit.deploy.policy import PolicyBuilder
from stepkit.deploy.providers import apis, buckets, pipes, queues, rules, streams, topics
from stepkit.deploy.providers.base import (
    ENV_PLACEHOLDER,
    MISSING,
    OURS,
    BuildContext,
    Provider,
    Template,
    error_code,
    fn_sub,
    get_att,
    not_found,
    ref,
)
from stepkit.deploy.providers.layers import Layer, LayerProvider, function_layers
from stepkit.deploy.providers.log_groups import LogGroup
from stepkit.deploy.providers.roles import Role
from stepkit.deploy.resources import MASK, Resource
from stepkit.deploy.state import Recorded
from stepkit.runtime.bundle import bundle_digest, source_files
from stepkit.runtime.config import FunctionConfig
from stepkit.stack.references import camel

if TYPE_CHECKING:
    from stepkit.deploy.iam import StackArns
    from stepkit.stack.project import ProjectFunction
    from stepkit.stack.resources import Grant

#: Files that must never be uploaded in a bundle.
SECRET_FILES = re.compile(
    r"(^|/)(\.env(\..+)?|.*\.pem|.*\.key|.*\.p12|.*\.pfx|id_rsa.*|id_ed25519.*|\.aws/.*|credentials(\.json)?|"
    r"\.netrc|\.npmrc|\.pypirc|secrets?\.(json|ya?ml|toml))$"
)
#: Environment variable names that suggest a secret; their literal values are masked and warned about.
SECRET_NAMES = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE|API_?KEY|CREDENTIAL", re.IGNORECASE)
#: How a template's environment value read with ``${env:NAME}`` is marked (:func:`secret_marker`).
_SECRET = re.compile(r"\x00secret:([A-Za-z_][A-Za-z0-9_]*)\x00")


def secret_marker(name: str) -> str:
    """What stands for ``${env:NAME}`` in a template's environment: a ``NoEcho`` parameter."""
    return f"\x00secret:{name}\x00"


@dataclass(frozen=True)
class Function(Resource):
    kind: ClassVar[str] = "function"
    order: ClassVar[int] = 50

    role: str = ""
    """Physical name of its role."""
    role_arn: str = ""
    handler: str = "app.handler"
    runtime: str = "python3.11"
    memory_size: int = 128
    timeout: int = 3
    environment: dict[str, str] = field(default_factory=dict)
    secret_keys: frozenset[str] = frozenset()
    """Environment variables whose values are secrets: never printed nor recorded."""
    reserved_concurrency: int | None = None
    architecture: str = "x86_64"
    description: str = ""
    code_dir: Path = Path()
    code_digest: str = ""
    """The bundle's digest (sources, requirements, platform): a new digest means new code."""
    log_group: str = ""
    layers: tuple[str, ...] = ()
    """Its layers, in order, each as ``<layer name>@<content digest>`` (:attr:`Layer.reference`):
    a layer's new content is a new version the function must list."""

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (f"role:function-{self.logical}", f"log_group:function-{self.logical}")

    def _not_compared(self) -> tuple[str, ...]:
        return ("code_dir", "secret_keys", "log_group")

    def display(self) -> dict[str, Any]:
        out = self.properties()
        out["environment"] = {k: (MASK if k in self.secret_keys else v) for k, v in self.environment.items()}
        out["code_digest"] = self.code_digest[:12]
        return out


def build(ctx: BuildContext) -> None:
    """The stack's ``functions:`` with their roles, log groups, REST APIs and triggers."""
    for fn in ctx.project.functions():
        place = f"functions.{fn.name}"
        ctx.check_length("function", ctx.names.function(fn.name), place)
        ctx.check_length("role", ctx.names.role("function", fn.name), place)
        if not fn.code_dir.is_dir():
            ctx.problems.append(f"{ctx.where}: {place}.code: folder {fn.code_dir} does not exist")
            continue
        for name, _path in source_files(fn.code_dir):
            if SECRET_FILES.search(name):
                ctx.problems.append(f"{ctx.rel(fn.code_dir)}/{name}: looks like a secret and would be "
                                    "uploaded in the bundle; move it out of the function's folder and pass the "
                                    "value with `environment: {NAME: ${env:NAME}}`")
        _function(ctx, fn, place)
        if fn.settings.api is not None:
            apis.build(ctx, fn, fn.settings.api, place)
        _triggers(ctx, fn.name, fn.settings.triggers)


def _function(ctx: BuildContext, fn: ProjectFunction, place: str) -> None:
    s, names = fn.settings, ctx.names
    environment: dict[str, str] = {}
    secret_keys: set[str] = set()
    for key, raw in s.environment.items():
        used = placeholders(raw)
        if any(ENV_PLACEHOLDER.match(u) for u in used):
            secret_keys.add(key)
        elif SECRET_NAMES.search(key) and raw and not used:
            secret_keys.add(key)
            ctx.warnings.append(f"{ctx.where}: {place}.environment.{key} looks like a secret written in the stack "
                                f"file; use `{key}: ${{env:{key}}}` to read it from the deploying shell instead")
        environment[key] = ctx.resolve(raw, ctx.values, f"{ctx.where}: {place}.environment.{key}")
    role = names.role("function", fn.name)
    policy = function_policy(fn.name, s, ctx.arns)
    ctx.add(Role(logical=f"function-{fn.name}", name=role, service="lambda.amazonaws.com",
                 policy=policy.document(), notes=tuple(policy.notes)))
    ctx.add(LogGroup(logical=f"function-{fn.name}", name=names.function_log_group(fn.name)))
    digest = (bundle_digest(FunctionConfig.from_project(fn), ctx.code_platform)
              if ctx.compute_digests else "")
    layers = {r.logical: r for r in ctx.resources if isinstance(r, Layer)}
    ctx.add(Function(
        logical=fn.name, name=names.function(fn.name), role=role, role_arn=names.role_arn(role),
        handler=s.handler, runtime=s.runtime, memory_size=s.memory_size, timeout=s.timeout,
        environment=environment, secret_keys=frozenset(secret_keys),
        reserved_concurrency=s.reserved_concurrency, architecture=s.architecture, description=s.description,
        code_dir=fn.code_dir, code_digest=digest, log_group=names.function_log_group(fn.name),
        layers=tuple(layers[name].reference for name in s.layers if name in layers),
    ))


def _triggers(ctx: BuildContext, function: str, triggers: Any) -> None:
    """Each trigger, built by the provider of what it creates."""
    stack, names = ctx.stack, ctx.names
    for i, trigger in enumerate(triggers):
        if trigger.s3 is not None and trigger.s3.bucket in ctx.bucket_names:
            buckets.s3_trigger(ctx, function, i, trigger.s3)
        if trigger.sns is not None and trigger.sns.topic in stack.topics:
            ctx.add(*topics.subscription(function, trigger.sns, names))
        if trigger.sqs is not None and trigger.sqs.queue in stack.queues:
            ctx.add(queues.sqs_mapping(function, trigger.sqs, names))
        if trigger.stream is not None and (trigger.stream.table in stack.tables
                                           or trigger.stream.kinesis in stack.streams):
            ctx.add(streams.stream_mapping(function, trigger.stream, names))
        if trigger.pipe is not None:
            ctx.add(*pipes.pipe_resources(("function", function), i, trigger.pipe, names))
        if trigger.schedule is not None:
            rules.function_schedule(ctx, function, i, trigger.schedule, f"functions.{function}")


def function_policy(name: str, settings: Any, stack: StackArns) -> PolicyBuilder:
    """A function may write its own logs, read what its triggers deliver, and do what its
    ``access:`` grants say (``settings``: its :class:`~stepkit.stack.FunctionSettings`)."""
    from stepkit.deploy.iam import add_grant

    names = stack.names
    policy = PolicyBuilder()
    policy.allow(["logs:CreateLogStream", "logs:PutLogEvents"], names.log_group_arn(names.function_log_group(name)))
    for trigger in settings.triggers:
        if trigger.s3 is not None:
            buckets.s3_trigger_policy(policy, trigger.s3, stack)
        if trigger.sqs is not None:
            queues.sqs_trigger_policy(policy, trigger.sqs, names)
        if trigger.stream is not None:
            streams.stream_trigger_policy(policy, trigger.stream, names)
    for grant in settings.access:
        add_grant(policy, grant, stack)
    return policy


def grant(policy: PolicyBuilder, grant: Grant, stack: StackArns) -> None:
    """An ``access:`` grant on a function: invoke it."""
    policy.allow(["lambda:InvokeFunction"], stack.names.function_arn(grant.target))


def zip_name(function: Function) -> str:
    """The name of the function's zip beside a template (its digest in it)."""
    return f"{function.logical}-{function.code_digest[:16]}.zip"


class FunctionProvider(Provider):
    """The Lambda calls behind ``Function`` (the code from the executor's bundles: ``api.code``)."""

    resource = Function

    def lookup(self, name: str, r: Resource | None) -> str:
        try:
            found = self.client("lambda").get_function(FunctionName=name)
        except ClientError as exc:
            if not_found(exc):
                return MISSING
            raise
        return self.owned(found.get("Tags"))

    def _function_config(self, r: Function) -> dict[str, Any]:
        layers = self.api.provider("layer")
        assert isinstance(layers, LayerProvider)
        return {
            "Role": r.role_arn, "Handler": r.handler, "Runtime": r.runtime, "MemorySize": r.memory_size,
            "Timeout": r.timeout, "Environment": {"Variables": dict(r.environment)},
            "Description": r.description or f"stepkit {r.logical}",
            # The versions the layers' put just published (or found unchanged), in order.
            "Layers": [layers.latest_arn(reference.rsplit("@", 1)[0]) for reference in r.layers],
        }

    def put(self, r: Function, rec: Recorded | None, existing: bool) -> dict[str, Any]:
        assert self.api.code is not None, "the executor provides the bundles"
        lam = self.client("lambda")
        state = self.lookup(r.name, r) if existing else MISSING
        if state == MISSING:
            code = self.api.code(r)
            try:
                self.retry_iam(lambda: lam.create_function(
                    FunctionName=r.name, Code=code, Architectures=[r.architecture],
                    Tags=self.tags, **self._function_config(r)))
            except ClientError as exc:
                if error_code(exc) != "ResourceConflictException":
                    raise
                state = OURS
        if state != MISSING:
            self.wait_function(r.name)
            old = rec.properties if rec is not None and rec.status == "done" else {}
            if old.get("code_digest") != r.code_digest[:12] or old.get("architecture") != r.architecture:
                lam.update_function_code(FunctionName=r.name, Architectures=[r.architecture], **self.api.code(r))
                self.wait_function(r.name)
            self.retry_iam(lambda: lam.update_function_configuration(FunctionName=r.name,
                                                                      **self._function_config(r)))
        self.wait_function(r.name)
        if r.reserved_concurrency is None:
            lam.delete_function_concurrency(FunctionName=r.name)
        else:
            lam.put_function_concurrency(FunctionName=r.name, ReservedConcurrentExecutions=r.reserved_concurrency)
        config = lam.get_function_configuration(FunctionName=r.name)
        return {"arn": config["FunctionArn"], "code_sha256": config.get("CodeSha256", "")}

    def wait_function(self, name: str) -> None:
        """Until the function is ``Active`` and no update is in progress."""
        deadline = time.monotonic() + self.api.wait_timeout
        delay = 0.5
        while True:
            config = self.client("lambda").get_function_configuration(FunctionName=name)
            state, update = config.get("State", "Active"), config.get("LastUpdateStatus", "Successful")
            if state == "Failed" or update == "Failed":
                reason = config.get("StateReason") or config.get("LastUpdateStatusReason") or "no reason given"
                raise RuntimeError(f"function {name} failed to become Active: {reason}")
            if state == "Active" and update in ("Successful", None):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"function {name} is still {state}/{update} after {self.api.wait_timeout:.0f}s")
            self.sleep(delay)
            delay = min(delay * 1.5, 5)

    def delete(self, rec: Recorded) -> None:
        self.client("lambda").delete_function(FunctionName=rec.name)

    def describe(self, rec: Recorded) -> str:
        config = self.client("lambda").get_function_configuration(FunctionName=rec.name)
        return str(config.get("State", "Active"))

    @classmethod
    def template(cls, r: Function, template: Template) -> None:
        """The function, its code a zip in the ``CodeBucket`` parameter, each ``${env:NAME}``
        of its environment a ``NoEcho`` parameter, its layers' versions."""
        variables: dict[str, Any] = {}
        for key, value in r.environment.items():
            secret = _SECRET.fullmatch(value)
            if secret:
                parameter = f"Secret{camel(secret.group(1).lower())}"
                template.parameters[parameter] = {"Type": "String", "NoEcho": True,
                                                  "Description": f"environment {key} of {r.logical}"}
                variables[key] = {"Ref": parameter}
            else:
                variables[key] = fn_sub(_SECRET.sub("", value))
        properties: dict[str, Any] = {
            "FunctionName": r.name, "Handler": r.handler, "Runtime": r.runtime, "MemorySize": r.memory_size,
            "Timeout": r.timeout, "Architectures": [r.architecture],
            "Role": get_att(f"role:function-{r.logical}"),
            "Code": {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Fn::Sub": f"${{CodePrefix}}{zip_name(r)}"}},
            "LoggingConfig": {"LogGroup": ref(f"log_group:function-{r.logical}")},
        }
        if r.description:
            properties["Description"] = r.description
        if variables:
            properties["Environment"] = {"Variables": variables}
        if r.reserved_concurrency is not None:
            properties["ReservedConcurrentExecutions"] = r.reserved_concurrency
        layers = function_layers(template.project, r.logical)
        if layers:
            properties["Layers"] = layers
        template.add(r, "AWS::Lambda::Function", properties)
        template.output(r)
