"""What the pytest plugin's fixtures are made of (:mod:`stepkit.testing.pytest_plugin`),
usable without pytest too: an isolated endpoint, a stack deployed to it, a runner of
definitions with the project's functions.

moto keeps its state in module-level objects, shared by every endpoint of a process
(:mod:`stepkit.endpoint.server`): :func:`isolated_endpoint` resets it before it starts its
endpoint and after it stops it, so a test never sees the buckets, queues or objects of
another, while Step Functions and Lambda records live in the endpoint's own state dir.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepkit.stack.model import DEFAULT_STAGE
from stepkit.stack.project import Project

#: How long ``DeployedStack.execute`` waits for an execution to end by default.
EXECUTION_TIMEOUT_S = 120.0


def reset_moto() -> None:
    """Empty every moto backend of this process (what moto's ``/moto-api/reset`` does)."""
    from moto.moto_api._internal import moto_api_backend

    moto_api_backend.reset()


@contextlib.contextmanager
def isolated_endpoint(state_dir: Path | None = None) -> Iterator[Any]:
    """A started :class:`~stepkit.endpoint.LocalEndpoint` on a free port with its own state
    (a temporary folder unless ``state_dir``), on an empty moto; stopped and emptied after."""
    from stepkit.endpoint import LocalEndpoint

    reset_moto()
    endpoint = LocalEndpoint(state_dir=state_dir, persist_moto=False).start()
    try:
        yield endpoint
    finally:
        endpoint.stop()
        reset_moto()


@dataclass
class DeployedStack:
    """A project's stack as deployed to a test endpoint: its names, ARNs and ``${Name}`` values."""

    endpoint: Any
    names: Any
    """:class:`stepkit.deploy.naming.Names` of the deploy (``names.function("train")``...)."""
    values: dict[str, str] = field(default_factory=dict)
    """Every ``${Name}`` of the stack, as deployed: ``values["TrainFunctionArn"]``."""

    def function_name(self, key: str) -> str:
        return str(self.names.function(key))

    def function_arn(self, key: str) -> str:
        return str(self.names.function_arn(key))

    def state_machine_arn(self, key: str) -> str:
        return str(self.names.state_machine_arn(key))

    def bucket(self, key: str) -> str:
        return self.values[f"{_camel(key)}Bucket"]

    def queue_url(self, key: str) -> str:
        return self.values[f"{_camel(key)}QueueUrl"]

    def execute(self, state_machine: str, input: Any = None, *, timeout: float = EXECUTION_TIMEOUT_S) -> dict[str, Any]:
        """Start the stack's state machine ``state_machine`` on ``input`` and return its
        DescribeExecution once it has ended (raises TimeoutError past ``timeout`` seconds)."""
        import json

        sfn = self.endpoint.client("stepfunctions")
        arn = sfn.start_execution(stateMachineArn=self.state_machine_arn(state_machine),
                                  input=json.dumps({} if input is None else input))["executionArn"]
        deadline = time.monotonic() + timeout
        while True:
            described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                described.pop("ResponseMetadata", None)
                return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"{arn} still runs after {timeout}s")
            time.sleep(0.05)


def _camel(name: str) -> str:
    from stepkit.stack.references import camel

    return camel(name)


def deploy_stack(project: Project, endpoint: Any, *, stage: str = DEFAULT_STAGE,
                 records_dir: Path | None = None) -> DeployedStack:
    """Deploy ``project``'s stack (``stage``) to ``endpoint`` with stepkit's deployer; raises
    RuntimeError naming the step that failed."""
    from stepkit.deploy.service import Deployment

    if project.stack_path is None:
        raise RuntimeError(f"no infra/stack.yaml in {project.root}: nothing to deploy")
    environ = {**os.environ, "STEPKIT_ENDPOINT_URL": endpoint.url, "AWS_ACCESS_KEY_ID": "test",
               "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": endpoint.region}
    environ.pop("AWS_PROFILE", None)
    deployment = Deployment.open(project.stack_path, stage=stage, target="local", environ=environ,
                                 records_dir=records_dir or Path(str(endpoint.state_dir)) / "deployments")
    _, outcome = deployment.deploy(environ=environ)
    if outcome.failed is not None:
        raise RuntimeError(f"deploying {project.stack_path} failed at {outcome.failed}: {outcome.error}")
    values = deployment.desired(environ).values
    return DeployedStack(endpoint=endpoint, names=deployment.names, values=dict(values))


def definition_runner(project: Project, endpoint_url: str, *, stage: str = DEFAULT_STAGE) -> Callable[..., Any]:
    """``run(definition, input=None, **options)`` -> the finished Execution, with the project's
    functions in local workers whose AWS calls go to ``endpoint_url`` (the stack's buckets and
    queues created there first). ``definition``: a state machine of the stack by name, a file
    (a Path, or a path relative to the project), or the definition itself; ``options`` are
    those of :func:`stepkit.run` (``substitutions=``, ``env_vars=``, ``skip_waits=``...)."""
    from stepkit.local import LocalStack, provision
    from stepkit.runner import run as run_definition

    provision(endpoint_url, LocalStack(project, stage, endpoint_url))

    def run(definition: str | Path | Mapping[str, Any], input: Any = None, **options: Any) -> Any:
        if isinstance(definition, str) and definition not in project.stack.state_machines:
            candidate = project.root / definition
            if not definition.lstrip().startswith("{") and candidate.is_file():
                definition = candidate
        options.setdefault("stage", stage)
        return run_definition(definition, input, project=project, endpoint_url=endpoint_url, **options)

    return run
