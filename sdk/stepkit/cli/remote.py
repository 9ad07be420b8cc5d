"""Talking to an endpoint from the commands: boto3 clients, errors as the README's exit
codes, and names instead of ARNs.

A state machine or function is named as the endpoint knows it (``hello-dev-hello``), by its
ARN, or by its name in the stack of the current project (``hello``), which the deployer's
naming (:mod:`stepkit.deploy.naming`) turns into the deployed name for the stage.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from stepkit.cli.common import EXIT_FAILED, EXIT_USAGE, CommandError, aws_error, fail


def client(service: str, url: str, region: str) -> Any:
    """A client of the endpoint at ``url``. Its keys come from the environment (or are the
    endpoint's test keys) and nothing else of the host's AWS configuration is read: an
    ``AWS_PROFILE`` naming no profile must not stop ``stepkit executions``."""
    from botocore.config import Config

    from stepkit.aws_sessions import isolated_session, make_client

    return make_client(
        isolated_session(), service, endpoint_url=url, region_name=region,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or "test",
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or "test",
        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}, connect_timeout=2),
    )


def call(fn: Any, **kwargs: Any) -> Any:
    """``fn(**kwargs)``; an unreachable endpoint exits 2, an error answer exits 1."""
    from botocore.exceptions import ClientError, EndpointConnectionError

    try:
        return fn(**kwargs)
    except EndpointConnectionError as exc:
        url = exc.kwargs.get("endpoint_url")
        fail(f"no endpoint answers at {url}: start one with `stepkit up` (or give --endpoint-url)",
             kind="EndpointUnreachable", exit_code=EXIT_USAGE, endpoint_url=url)
    except ClientError as exc:
        raise aws_error(exc) or CommandError(str(exc)) from None


def pages(fn: Any, key: str, **kwargs: Any) -> list[Any]:
    """Every item of a paginated call, through :func:`call`."""
    items: list[Any] = []
    token = None
    while True:
        page = call(fn, **kwargs, **({"nextToken": token} if token else {}))
        items.extend(page[key])
        token = page.get("nextToken")
        if not token:
            return items


def when(value: Any) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else ""


def stack_name_of(ref: str, kind: str, stage: str | None) -> str | None:
    """The deployed name of the stack's state machine or function ``ref`` for ``stage``,
    when the working directory is in a project whose stack declares it; else None."""
    from stepkit.deploy.naming import Names
    from stepkit.stack import Project, StackError
    from stepkit.stack.model import DEFAULT_STAGE

    try:
        project = Project.discover(Path.cwd())
    except StackError:
        return None
    declared = project.stack.state_machines if kind == "state_machine" else project.stack.functions
    if project.stack_path is None or ref not in declared:
        return None
    names = Names(stack=project.name, stage=stage or os.environ.get("STEPKIT_STAGE") or DEFAULT_STAGE,
                  region="", account="")
    return names.state_machine(ref) if kind == "state_machine" else names.function(ref)


def machine_arn(sfn: Any, ref: str, stage: str | None, url: str) -> str:
    """The ARN of the state machine ``ref``: an ARN, a deployed name, or a name of the stack."""
    if ref.startswith("arn:"):
        return ref
    machines = pages(sfn.list_state_machines, "stateMachines")
    by_name = {m["name"]: m["stateMachineArn"] for m in machines}
    deployed = stack_name_of(ref, "state_machine", stage)
    for name in (ref, deployed):
        if name in by_name:
            return by_name[name]
    known = ", ".join(sorted(by_name)) or "none"
    also = f" (nor {deployed!r}, its deployed name)" if deployed else ""
    fail(f"no state machine named {ref!r}{also} at {url}; state machines there: {known}",
         kind="StateMachineDoesNotExist", exit_code=EXIT_FAILED)


def execution_arn(sfn: Any, ref: str, execution: str | None, stage: str | None, url: str) -> str:
    """The ARN of an execution: an ARN, MACHINE and the execution's name (its id), or a name
    alone when exactly one state machine has an execution of that name."""
    if execution is None and ref.startswith("arn:"):
        return ref
    if execution is not None:
        if execution.startswith("arn:"):
            return execution
        arn = machine_arn(sfn, ref, stage, url)
        return f"{arn.replace(':stateMachine:', ':execution:', 1)}:{execution}"
    found = [e["executionArn"] for m in pages(sfn.list_state_machines, "stateMachines") if m["type"] == "STANDARD"
             for e in pages(sfn.list_executions, "executions", stateMachineArn=m["stateMachineArn"])
             if e["name"] == ref]
    if len(found) == 1:
        return found[0]
    if not found:
        fail(f"no execution named {ref!r} at {url} (name its state machine too: MACHINE EXECUTION)",
             kind="ExecutionDoesNotExist", exit_code=EXIT_FAILED)
    pasteable = "; ".join(" ".join(a.split(":")[-2:]) for a in found)
    fail(f"{len(found)} executions are named {ref!r}: give the state machine too ({pasteable})",
         kind="AmbiguousExecution", exit_code=EXIT_USAGE)
