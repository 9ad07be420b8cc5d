"""A project's stack run on this machine without a deploy: what ``stepkit run``, the library's
``stepkit.run(..., project=...)`` and the pytest plugin share.

The names, ARNs and ``${Name}`` values are those a deploy of the stage would give
(:func:`stepkit.deploy.desired.build_desired`, the deployer's own code): a definition's
``${TrainFunctionArn}`` is ``arn:aws:lambda:…:function:<stack>-<stage>-train``, a function's
``ARTIFACTS_BUCKET: ${ArtifactsBucket}`` is ``<stack>-<stage>-artifacts``, and the Lambda
tasks of the definition reach the project's functions by those names (or by their bare
names) in local worker processes.

A function run here never talks to AWS by accident: its ``AWS_ENDPOINT_URL`` is the endpoint
given, else a :class:`~stepkit.endpoint.LocalEndpoint` started in this process (its buckets
and queues created as the stack declares them), with test credentials.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import RootModel, ValidationError

from stepkit.stack.model import DEFAULT_STAGE
from stepkit.stack.project import Project

DEFAULT_REGION = "us-east-1"
#: The local endpoint's account (moto's default), so ARNs match what it reports.
LOCAL_ACCOUNT = "123456789012"
#: Credentials of an emulator: accepted by the local endpoint, refused by AWS.
TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_SESSION_TOKEN": ""}


class LocalRunError(Exception):
    """The project cannot be run locally as asked; the message says what to change.
    ``param``: the command-line option at fault, if one is."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class _EnvVarsFile(RootModel[dict[str, dict[str, str | int | float | bool | None]]]):
    """SAM's ``--env-vars`` file: ``{"FunctionName": {"VAR": "value"}, "Parameters": {...}}``."""


def load_env_vars(source: Path | str | Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """An ``--env-vars`` file (or its content) as ``{function or "Parameters": {VAR: text}}``.

    As in SAM, ``Parameters`` applies to every function and a function's own entry wins.
    Raises :class:`LocalRunError` for a file that is not of that shape."""
    data: Any = source
    if not isinstance(source, Mapping):
        path = Path(source)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise LocalRunError(f"{path}: not a readable JSON file ({exc})", "--env-vars") from None
    try:
        parsed = _EnvVarsFile.model_validate(data).root
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first["loc"][:2]  # function, variable (deeper parts name union members)
        message = first["msg"] if len(loc) < 2 else "a value is a string, a number, a boolean or null"
        where = ".".join(str(p) for p in loc) or "top"
        raise LocalRunError(f'env vars: expected {{"FunctionName": {{"VAR": "value"}}}}; at {where}: {message}',
                            "--env-vars") from None
    return {fn: {k: _text(v) for k, v in values.items()} for fn, values in parsed.items()}


def _text(value: str | int | float | bool | None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@dataclass
class LocalStack:
    """One stage of a project with the names a deploy would give it, and what a local run
    needs of them: ``values`` (every ``${Name}``), each function's resolved environment,
    each state machine's substituted definition."""

    project: Project
    stage: str = DEFAULT_STAGE
    endpoint_url: str | None = None
    env_vars: dict[str, dict[str, str]] = field(default_factory=dict)
    environ: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        from stepkit.deploy.desired import build_desired
        from stepkit.deploy.errors import DeployInputError
        from stepkit.deploy.naming import Names, partition_of
        from stepkit.deploy.providers.functions import Function
        from stepkit.deploy.providers.state_machines import StateMachineResource
        from stepkit.deploy.providers.tables import Table
        from stepkit.stack.model import UnknownStage

        try:
            self.staged = staged = self.project.for_stage(self.stage)
        except UnknownStage as exc:
            raise LocalRunError(str(exc), "--stage") from None
        region = staged.stack.region or DEFAULT_REGION
        self.names = Names(staged.name, self.stage, region, LOCAL_ACCOUNT, partition_of(region),
                           endpoint_url=self.endpoint_url)
        try:
            desired = build_desired(staged, self.stage, self.names, self.environ, compute_digests=False)
        except DeployInputError as exc:
            raise LocalRunError("\n".join(exc.problems)) from None
        self.values: dict[str, str] = dict(desired.values)
        self.functions = {r.logical: r for r in desired.resources if isinstance(r, Function)}
        self.state_machines = {r.logical: r for r in desired.resources if isinstance(r, StateMachineResource)}
        self.buckets = [r.name for r in desired.resources if r.kind == "bucket"]
        self.queues = [r for r in desired.resources if r.kind == "queue"]
        self.tables = [r for r in desired.resources if isinstance(r, Table)]
        unknown = sorted(set(self.env_vars) - {"Parameters", *self.functions})
        if unknown:
            raise LocalRunError(f"env vars: {', '.join(unknown)} is not a function of the stack "
                                f"(functions: {', '.join(sorted(self.functions)) or 'none'})", "--env-vars")

    @property
    def region(self) -> str:
        return self.names.region

    def environment(self, function: str) -> dict[str, str]:
        """The function's variables as deployed, then ``Parameters``, then its own env vars."""
        return {**self.functions[function].environment, **self.env_vars.get("Parameters", {}),
                **self.env_vars.get(function, {})}

    def aliases(self) -> dict[str, str]:
        """Deployed function name -> the project's function name."""
        return {self.names.function(name): name for name in self.functions}

    def function_configs(self) -> list[Any]:
        """The functions as the stage declares them (its overrides merged), environment resolved."""
        from stepkit.runtime.config import FunctionConfig

        return [FunctionConfig.in_project(self.staged, fn).model_copy(update={"environment": self.environment(fn.name)})
                for fn in self.staged.functions()]


class LocalServices:
    """Where the functions' AWS calls go: ``endpoint_url`` when given, else a LocalEndpoint
    started here on first use (with the stack's buckets and queues), stopped by ``close``."""

    def __init__(self, stack: LocalStack, endpoint_url: str | None = None, *, provision: bool = False) -> None:
        self.stack = stack
        self._url = endpoint_url
        self._provision = provision
        self._endpoint: Any = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        with self._lock:
            if self._url is None:
                self._url = self._start()
                self._provision = True
            if self._provision:
                self._provision = False
                provision(self._url, self.stack)
            return self._url

    def worker_environment(self) -> dict[str, str]:
        """What every worker gets on top of its function's environment."""
        return {"AWS_ENDPOINT_URL": self.url, "AWS_REGION": self.stack.region, **TEST_CREDENTIALS}

    def _start(self) -> str:
        try:
            from stepkit.endpoint import LocalEndpoint
        except ImportError as exc:
            raise LocalRunError(
                f"the functions need an AWS endpoint and the local one cannot start: {exc} (reinstall stepkit: "
                "pip install --force-reinstall stepkit), or pass --endpoint-url (endpoint_url=) to use a running one"
            ) from None
        self._endpoint = LocalEndpoint(region=self.stack.region, account=LOCAL_ACCOUNT).start()
        return str(self._endpoint.url)

    def close(self) -> None:
        with self._lock:
            if self._endpoint is not None:
                self._endpoint.stop()
                self._endpoint = None


def provision(endpoint_url: str, stack: LocalStack) -> None:
    """Create the stack's buckets, queues and tables on ``endpoint_url`` when missing (an emulator's:
    never AWS, where ``stepkit deploy`` creates them)."""
    import boto3
    from botocore.exceptions import ClientError

    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=stack.region)
    s3 = session.client("s3", endpoint_url=endpoint_url)
    for bucket in stack.buckets:
        try:
            params: dict[str, Any] = {"Bucket": bucket}
            if stack.region != "us-east-1":
                params["CreateBucketConfiguration"] = {"LocationConstraint": stack.region}
            s3.create_bucket(**params)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
    sqs = session.client("sqs", endpoint_url=endpoint_url)
    for queue in stack.queues:
        sqs.create_queue(QueueName=queue.name)
    dynamodb = session.client("dynamodb", endpoint_url=endpoint_url)
    for table in stack.tables:
        try:
            dynamodb.create_table(**table.create_arguments())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise
            continue
        if table.ttl_attribute:
            dynamodb.update_time_to_live(TableName=table.name, TimeToLiveSpecification={
                "AttributeName": table.ttl_attribute, "Enabled": True})


def project_of(project: Project | Path | str | None) -> Project:
    """A Project, or the one at (or above) a folder, or found from the working directory."""
    if isinstance(project, Project):
        return project
    from stepkit.stack.loader import StackError

    try:
        if project is not None and Path(project).is_file():
            return Project.load(project)
        return Project.discover(project)
    except StackError as exc:
        raise LocalRunError(str(exc)) from None


def with_flows(project: Project, flows: Mapping[str, str] | None = None) -> Project:
    """``project`` with its ``flow:`` state machines (and ``flows``) compiled, their tasks as
    functions (:func:`stepkit.flow.stack.with_flows`); raises :class:`LocalRunError`."""
    if not flows and not project.flows:
        return project
    from stepkit.flow.stack import FlowError
    from stepkit.flow.stack import with_flows as compiled
    from stepkit.flow.typecheck import FlowTypeError

    try:
        return compiled(project, dict(flows or {}))
    except FlowError as exc:  # a flow that cannot be imported: a bad argument when it was one
        raise LocalRunError(str(exc), "DEFINITION" if flows else None) from None
    except FlowTypeError as exc:
        raise LocalRunError(str(exc)) from None


class ProjectSession:
    """A project ready to run its definitions here: its stack's values, its functions in
    local workers (started on the first Lambda task), their AWS calls and the definitions'
    AWS service tasks sent to one endpoint. ``close()`` (or ``with``) stops what it started.

    ``provision``: create the stack's buckets and queues on ``endpoint_url`` (always done on
    an endpoint this session starts itself)."""

    def __init__(self, project: Project | Path | str | None = None, *, stage: str = DEFAULT_STAGE,
                 endpoint_url: str | None = None, env_vars: Path | str | Mapping[str, Any] | None = None,
                 provision: bool = False, environ: Mapping[str, str] | None = None,
                 runtime_options: Mapping[str, Any] | None = None, flows: Mapping[str, str] | None = None) -> None:
        """``runtime_options`` go to the functions' LambdaRuntime (``on_invoke=``...); ``flows``
        (name -> ``module:name``) adds Python workflows as state machines for this session."""
        from stepkit.integrations.local_functions import ProjectLambdaBackend

        self.project = with_flows(project_of(project), flows)
        variables = load_env_vars(env_vars) if env_vars is not None else {}
        self.stack = LocalStack(self.project, stage, endpoint_url, variables, environ)
        self.services = LocalServices(self.stack, endpoint_url, provision=provision)
        self.backend = ProjectLambdaBackend(self.project, stack=self.stack,
                                            worker_environment=self.services.worker_environment,
                                            **dict(runtime_options or {}))

    def definition(self, definition: str | Path | Mapping[str, Any],
                   substitutions: Mapping[str, str] | None = None) -> tuple[str, str, str]:
        """``(definition text, state machine name, type)``: a state machine of the stack by its
        name (its own substitutions too), else a definition with the stack's ``${Name}``
        values and ``substitutions`` (which win) filled in."""
        extra = dict(substitutions or {})
        if isinstance(definition, str) and definition in self.stack.state_machines and not extra:
            machine = self.stack.state_machines[definition]
            return machine.definition, machine.name, machine.type
        if isinstance(definition, str) and definition in self.stack.state_machines:
            machine = self.stack.state_machines[definition]
            source, values = machine.source, {**self.stack.values, **machine.substitutions, **extra}
            return substituted(source, values), machine.name, machine.type
        return substituted(definition, {**self.stack.values, **extra}), "", "STANDARD"

    def registry(self, registry: Any = None) -> Any:
        """``registry`` (or a new one) with the project's functions as its Lambda backend and
        the AWS service integrations pointed at this session's endpoint."""
        from stepkit.integrations.aws import AwsIntegrations
        from stepkit.integrations.registry import IntegrationRegistry

        services = self.services

        class _OnTheEndpoint(AwsIntegrations):
            def client(self, service: str, region: str | None = None) -> Any:
                self.endpoint_url = services.url  # started on first use
                return super().client(service, region)

        integrations = _OnTheEndpoint(None, region=self.stack.region, access_key="test", secret_key="test")
        registry = registry or IntegrationRegistry()
        integrations.register(registry)
        registry.clients.set_factory(lambda service, region_name=None: integrations.client(service, region_name))
        registry.set_lambda_backend(self.backend)
        return registry

    def close(self) -> None:
        self.backend.close()
        self.services.close()

    def __enter__(self) -> ProjectSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def substituted(definition: str | Path | Mapping[str, Any], values: Mapping[str, str]) -> str:
    """The definition's text with every ``${Name}`` replaced; raises
    :class:`~stepkit.asl.substitutions.UnresolvedSubstitution` naming those without a value."""
    from stepkit.asl.substitutions import substitute

    if isinstance(definition, Mapping):
        text = json.dumps(definition)
    elif isinstance(definition, Path):
        text = definition.read_text(encoding="utf-8")
    else:
        text = definition
    return substitute(text, values)
