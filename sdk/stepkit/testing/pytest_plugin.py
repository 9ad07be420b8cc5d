"""stepkit's pytest plugin, registered through the ``pytest11`` entry point: installing
stepkit is enough, no ``conftest.py`` needed.

Fixtures (all per test; nothing is imported until a test uses one):

``stepkit_project``
    The project under test: the one at or above pytest's rootdir, or the folder of the
    ``stepkit_project`` ini option. Override the fixture to test another.
``stepkit_endpoint``
    A :class:`~stepkit.endpoint.LocalEndpoint` of its own (free port, temporary state) on an
    emptied moto: ``.url`` and ``.client("s3")`` (a boto3 client configured for it).
``stepkit_stack``
    The project's ``infra/stack.yaml`` deployed to ``stepkit_endpoint`` by stepkit's deployer
    (stage: the ``stepkit_stage`` ini option, default ``dev``): ``.function_name("greet")``,
    ``.state_machine_arn("hello")``, ``.bucket("inbox")``, ``.values["GreetFunctionArn"]``,
    and ``.execute("hello", {...})`` which starts an execution and returns its
    DescribeExecution once it has ended.
``stepkit_run``
    ``stepkit_run("hello", {...})`` runs a definition in-process (a state machine of the
    stack by name, a file, or a dict) with the project's functions in local workers and
    returns the :class:`~stepkit.Execution`; their AWS calls go to ``stepkit_endpoint``, where
    the stack's buckets and queues exist. Options are :func:`stepkit.run`'s.

Isolation: each test gets a new endpoint with a new state dir, and moto (whose state is
process-wide) is reset before that endpoint starts and after it stops, so nothing a test
creates is seen by the next one. This also means two endpoints must not run at once in one
test process: an endpoint of a whole session, or of another thread, would lose its moto
state at each test. Under ``pytest-xdist`` each worker is its own process, so that is safe.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("stepkit_project", "folder of the stepkit project the stepkit_* fixtures use (default: rootdir)",
                  default="")
    parser.addini("stepkit_stage", "stage the stepkit_* fixtures deploy and run (default: dev)", default="dev")


@pytest.fixture
def stepkit_project(request: pytest.FixtureRequest) -> Any:
    """The stepkit project under test (a :class:`stepkit.stack.Project`)."""
    from stepkit.local import LocalRunError, project_of

    folder = str(request.config.getini("stepkit_project") or "")
    root = Path(request.config.rootpath)
    try:
        return project_of((root / folder) if folder else root)
    except LocalRunError as exc:
        pytest.fail(f"stepkit_project: {exc}", pytrace=False)


@pytest.fixture
def stepkit_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A LocalEndpoint of this test alone (``.url``, ``.client(service_name)``)."""
    from stepkit.testing.fixtures import isolated_endpoint

    with isolated_endpoint(tmp_path_factory.mktemp("stepkit-endpoint")) as endpoint:
        yield endpoint


@pytest.fixture
def stepkit_stack(stepkit_project: Any, stepkit_endpoint: Any, request: pytest.FixtureRequest) -> Any:
    """The project's stack deployed to ``stepkit_endpoint`` (a DeployedStack)."""
    from stepkit.deploy.errors import DeployError, DeployInputError, TargetError
    from stepkit.stack.loader import StackError
    from stepkit.testing.fixtures import deploy_stack

    try:
        return deploy_stack(stepkit_project, stepkit_endpoint, stage=_stage(request))
    except (DeployError, DeployInputError, TargetError, StackError, RuntimeError) as exc:
        pytest.fail(f"stepkit_stack: {exc}", pytrace=False)  # the test's setup failed: said in one line


@pytest.fixture
def stepkit_run(stepkit_project: Any, stepkit_endpoint: Any, request: pytest.FixtureRequest) -> Any:
    """``stepkit_run(definition_or_name, input, **options)`` -> the finished Execution."""
    from stepkit.testing.fixtures import definition_runner

    return definition_runner(stepkit_project, stepkit_endpoint.url, stage=_stage(request))


def _stage(request: pytest.FixtureRequest) -> str:
    return str(request.config.getini("stepkit_stage") or "dev")
