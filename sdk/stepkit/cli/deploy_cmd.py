"""``stepkit deploy``, ``plan``, ``destroy``, ``status``, ``package`` and ``init``.

Exit codes: 0 success; 1 a call to the target failed part way (what was done is recorded,
and running the command again converges); 2 bad input: the stack file, a definition, an
option, a resource that belongs to someone else, or a target that cannot be used (no
credentials, an endpoint that does not answer, a record of another account); nothing was
touched then.

The endpoint of ``--target local`` (and ``localstack``) follows the CLI's one rule
(:data:`stepkit.cli.common.ENDPOINT_RULE`); ``--target aws`` uses boto3's own chain, which
``--endpoint-url`` overrides.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from stepkit.cli.common import ENDPOINT_RULE, endpoint_url
from stepkit.cli.common import console as make_console
from stepkit.deploy.errors import DeployError, DeployInputError, TargetError
from stepkit.deploy.planner import CREATE, DELETE, REPLACE, UNCHANGED, UPDATE, Plan
from stepkit.deploy.target import LOCALSTACK_ENDPOINT, TARGETS
from stepkit.runtime.bundle import PLATFORMS
from stepkit.stack import StackError
from stepkit.stack.model import DEFAULT_STAGE

EXIT_FAILED, EXIT_INPUT, EXIT_TARGET = 1, 2, 2
_SYMBOL = {CREATE: ("+", "green"), UPDATE: ("~", "yellow"), REPLACE: ("±", "magenta"), DELETE: ("-", "red"),
           UNCHANGED: ("=", "dim")}


def _target_options(function: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--target", "-t", type=click.Choice(TARGETS), default="local", show_default=True,
                     envvar="STEPKIT_TARGET",
                     help=f"local: the stepkit endpoint ({ENDPOINT_RULE}); localstack: the same, "
                          f"default {LOCALSTACK_ENDPOINT}; aws: boto3's credential chain and endpoints."),
        click.option("--endpoint-url", metavar="URL", help="The endpoint of the target (see --target)."),
        click.option("--stage", "-s", default=DEFAULT_STAGE, show_default=True, envvar="STEPKIT_STAGE",
                     help="The stage whose overrides apply; deployments of stages are separate."),
        click.option("--code-platform", type=click.Choice(PLATFORMS), envvar="STEPKIT_CODE_PLATFORM",
                     help="Where the target runs the functions, so what their bundles hold. host: stepkit's "
                          "runtime on this machine (default for local and localstack): the code, and only the "
                          "requirements this environment lacks. lambda: Lambda's platform (default for aws): "
                          "every requirement as wheels for the declared runtime."),
        click.option("--profile", help="AWS profile (for --target aws)."),
        click.option("--region", help="AWS region (default: AWS_REGION, the profile's, the stack's, us-east-1)."),
        click.option("--stack", type=click.Path(dir_okay=False, path_type=Path),
                     help="The stack file (default: infra/stack.yaml found from the current folder up)."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON document and nothing else."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _fail(as_json: bool, code: int, kind: str, messages: list[str]) -> None:
    if as_json:
        click.echo(json.dumps({"error": kind, "message": "; ".join(messages), "messages": messages}))
    else:
        err = make_console(stderr=True)
        titles = {EXIT_INPUT: "bad input", EXIT_FAILED: "failed"}
        title = "target unavailable" if kind == "TargetError" else titles[code]
        err.print(f"[bold red]{title}[/bold red] [dim](nothing was changed)[/dim]" if code != EXIT_FAILED
                  else f"[bold red]{title}[/bold red]")
        for message in messages:
            err.print(f"  {message}", markup=False, soft_wrap=True)
    sys.exit(code)


def target_environ(target: str, option: str | None) -> dict[str, str]:
    """The environment the deployer resolves ``target``'s endpoint from, by the CLI's rule."""
    environ = dict(os.environ)
    if target == "local":
        environ["STEPKIT_ENDPOINT_URL"] = endpoint_url(option)
    elif target == "localstack":
        environ["AWS_ENDPOINT_URL"] = endpoint_url(option, default=LOCALSTACK_ENDPOINT)
    elif option:
        os.environ["AWS_ENDPOINT_URL"] = environ["AWS_ENDPOINT_URL"] = option  # boto3 reads the process's
    return environ


def _open(stack: Path | None, stage: str, target: str, region: str | None, profile: str | None,
          as_json: bool, code_platform: str | None = None, endpoint: str | None = None) -> Any:
    from stepkit.deploy.service import Deployment

    try:
        return Deployment.open(stack, stage=stage, target=target, region=region, profile=profile,
                               code_platform=code_platform, environ=target_environ(target, endpoint))
    except StackError as exc:
        _fail(as_json, EXIT_INPUT, "StackError", str(exc).splitlines())
    except DeployInputError as exc:
        _fail(as_json, EXIT_INPUT, "InvalidInput", exc.problems)
    except TargetError as exc:
        _fail(as_json, EXIT_TARGET, "TargetError", [str(exc)])


def _plan(deployment: Any, as_json: bool) -> Plan:
    try:
        return deployment.plan()
    except DeployInputError as exc:
        _fail(as_json, EXIT_INPUT, "InvalidInput", exc.problems)
    except TargetError as exc:
        _fail(as_json, EXIT_TARGET, "TargetError", [str(exc)])
    raise AssertionError  # unreachable


def _where(plan: Plan) -> str:
    endpoint = f"{plan.endpoint}, " if plan.endpoint else ""
    code = f", code for {plan.code_platform}" if plan.code_platform else ""
    return f"stack [bold]{plan.stack}[/bold], stage [bold]{plan.stage}[/bold] on [bold]{plan.target}[/bold] " \
           f"({endpoint}{plan.region}, account {plan.account}{code})"


def _value(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def render_plan(console: Console, plan: Plan, *, show_unchanged: bool = False, policies: bool = True) -> None:
    console.print(f"Plan for {_where(plan)}")
    for warning in plan.warnings:
        console.print(f"[yellow]warning[/yellow] {warning}", highlight=False, markup=False)
    width = max((len(a.kind) for a in plan.actions), default=8)
    for action in plan.actions:
        if action.op == UNCHANGED and not show_unchanged:
            continue
        symbol, style = _SYMBOL[action.op]
        line = Text.assemble((f"  {symbol} {action.op:<9}", style), (f"{action.kind:<{width}}  ", "bold"),
                             action.name)
        if action.reason:
            line.append(f"  ({action.reason})", style="dim")
        console.print(line)
        for change in action.changes:
            if change.field == "policy":
                continue
            console.print(Text(f"        {change.field}: {_value(change.old)} → {_value(change.new)}"))
        resource = action.resource
        if policies and resource is not None and resource.kind == "role" and action.op != UNCHANGED:
            document = json.dumps(resource.policy, indent=2)  # type: ignore[attr-defined]
            console.print(Text("        policy " + document.replace("\n", "\n        "), style="cyan"))
            for note in resource.notes:  # type: ignore[attr-defined]
                console.print(Text(f"        note: {note}", style="yellow"))
    console.print(f"[bold]{plan.summary()}[/bold]")


@click.command("plan")
@_target_options
@click.option("--show-unchanged", is_flag=True, help="List the resources that would not change too.")
@click.option("--no-policies", is_flag=True, help="Do not print the IAM policies of new or changed roles.")
def plan_command(target: str, stage: str, code_platform: str | None, endpoint_url: str | None, profile: str | None,
                 region: str | None,
                 stack: Path | None, as_json: bool, show_unchanged: bool, no_policies: bool) -> None:
    """Show what `stepkit deploy` would create, update or delete, with the IAM policies it
    would give each function and state machine. Changes nothing."""
    deployment = _open(stack, stage, target, region, profile, as_json, code_platform, endpoint_url)
    plan = _plan(deployment, as_json)
    if as_json:
        click.echo(json.dumps(plan.to_dict(), indent=2, default=str))
        return
    render_plan(make_console(), plan, show_unchanged=show_unchanged, policies=not no_policies)


@click.command("deploy")
@_target_options
@click.option("--no-policies", is_flag=True, help="Do not print the IAM policies of new or changed roles.")
def deploy_command(target: str, stage: str, code_platform: str | None, endpoint_url: str | None, profile: str | None,
                 region: str | None,
                 stack: Path | None, as_json: bool, no_policies: bool) -> None:
    """Build changed bundles and create or update every resource of the stack, in dependency
    order; wait for functions to be Active; wire triggers and permissions.

    Only what this stack created (recorded under .stepkit/deployments/) is ever updated or
    deleted. Running it again after an interruption converges; running it with nothing
    changed changes nothing."""
    started = time.monotonic()
    deployment = _open(stack, stage, target, region, profile, as_json, code_platform, endpoint_url)
    plan = _plan(deployment, as_json)
    console, err = make_console(), make_console(stderr=True)
    if not plan.changes:
        if as_json:
            click.echo(json.dumps({**plan.to_dict(), "changed": False, "built": []}, indent=2, default=str))
        else:
            console.print(f"Deploy of {_where(plan)}")
            console.print(f"[bold green]nothing changed[/bold green]: all {len(plan.actions)} resources are "
                          "up to date")
        return
    if not as_json:
        render_plan(console, plan, policies=not no_policies)
    status = None if as_json else err.status("deploying…")

    def progress(op: str, kind: str, name: str, phase: str) -> None:
        if status is None:
            return
        if phase == "start":
            status.update(f"{op} {kind.replace('_', ' ')} [bold]{name}[/bold]…")
        else:
            symbol, style = _SYMBOL[op]
            err.print(Text.assemble((f"  {symbol} ", style), f"{kind.replace('_', ' ')} {name}", (" ✓", "green")))

    try:
        if status is not None:
            with status:
                deployment.deploy(plan, progress)
        else:
            deployment.deploy(plan, progress)
    except DeployError as exc:
        _fail(as_json, EXIT_FAILED, "DeployError",
              [str(exc), f"{exc.done} step(s) were done and recorded; fix the cause and run `stepkit deploy` again"])
    except TargetError as exc:
        _fail(as_json, EXIT_TARGET, "TargetError", [str(exc)])
    built = sorted(name for name, fresh in deployment.built.items() if fresh)
    if as_json:
        click.echo(json.dumps({**plan.to_dict(), "changed": True, "built": built}, indent=2, default=str))
        return
    if built:
        console.print(f"built bundles: {', '.join(built)}")
    console.print(f"[bold green]deployed[/bold green]: {plan.summary()} in {time.monotonic() - started:.1f}s")


@click.command("destroy")
@_target_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--delete-data", is_flag=True, help="Delete the objects of the stack's buckets too.")
def destroy_command(target: str, stage: str, code_platform: str | None, endpoint_url: str | None, profile: str | None,
                 region: str | None,
                 stack: Path | None, as_json: bool, yes: bool, delete_data: bool) -> None:
    """Delete what this stack created on the target for the stage, and nothing else.

    A bucket that still holds objects stops the destroy before anything is deleted, unless
    --delete-data is given."""
    deployment = _open(stack, stage, target, region, profile, as_json, code_platform, endpoint_url)
    recorded = deployment.to_destroy()
    if not recorded:
        if as_json:
            click.echo(json.dumps({"deleted": [], "message": "nothing recorded"}))
        else:
            make_console().print(f"nothing to destroy: no deploy of stage {stage} on {target} is recorded")
        return
    if not yes:
        if not sys.stdin.isatty():
            _fail(as_json, EXIT_INPUT, "ConfirmationNeeded",
                  [f"destroy would delete {len(recorded)} resources; pass --yes to confirm"])
        click.confirm(f"Delete {len(recorded)} resources of stage {stage} on {target}?", abort=True)
    err = make_console(stderr=True)

    def progress(op: str, kind: str, name: str, phase: str) -> None:
        if phase == "done" and not as_json:
            err.print(Text.assemble(("  - ", "red"), f"{kind.replace('_', ' ')} {name}", (" ✓", "green")))

    try:
        deleted = deployment.destroy(progress, delete_data=delete_data)
    except DeployInputError as exc:
        _fail(as_json, EXIT_INPUT, "InvalidInput", exc.problems)
    except DeployError as exc:
        _fail(as_json, EXIT_FAILED, "DeployError", [str(exc), "run `stepkit destroy` again to finish"])
    if as_json:
        click.echo(json.dumps({"deleted": [{"kind": r.kind, "name": r.name} for r in deleted]}, indent=2))
    else:
        make_console().print(f"[bold]destroyed[/bold] {len(deleted)} resources of stage {stage} on {target}")


@click.command("status")
@_target_options
def status_command(target: str, stage: str, code_platform: str | None, endpoint_url: str | None, profile: str | None,
                 region: str | None,
                 stack: Path | None, as_json: bool) -> None:
    """Show what is deployed for the stage on the target, and the state of each resource.

    Exit code 1 when a recorded resource is missing on the target."""
    deployment = _open(stack, stage, target, region, profile, as_json, code_platform, endpoint_url)
    rows = deployment.status()
    missing = [r for r in rows if r["state"] == "missing" or r["recorded"] != "done"]
    if as_json:
        click.echo(json.dumps({"stage": stage, "target": target, "region": deployment.target.region,
                               "account": deployment.conn.account, "updated": deployment.state.updated,
                               "resources": rows}, indent=2))
    elif not rows:
        make_console().print(f"no deploy of stage {stage} on {target} is recorded")
    else:
        table = Table("kind", "name", "state", "arn", box=None, title=f"stage {stage} on {target} "
                      f"({deployment.target.region}, account {deployment.conn.account}), "
                      f"deployed {deployment.state.updated}")
        for row in rows:
            state = row["state"] if row["recorded"] == "done" else f"{row['state']} (interrupted)"
            style = "red" if row in missing else ""
            table.add_row(row["kind"], row["name"], Text(state, style=style), row["arn"] or row.get("url", ""))
        make_console().print(table)
    if missing:
        sys.exit(EXIT_FAILED)


@click.command("package")
@click.option("--format", "fmt", type=click.Choice(["cloudformation"]), default="cloudformation", show_default=True)
@click.option("--stage", "-s", default=DEFAULT_STAGE, show_default=True, envvar="STEPKIT_STAGE")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for template.json and code/ (default: <project>/.stepkit/package/<stage>).")
@click.option("--stack", type=click.Path(dir_okay=False, path_type=Path), help="The stack file.")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def package_command(fmt: str, stage: str, out: Path | None, stack: Path | None, as_json: bool) -> None:
    """Write a CloudFormation template of the stack (and the function zips it refers to), so
    a team can hand deployment to its own pipeline:

        aws s3 sync OUT/code s3://BUCKET/
        aws cloudformation deploy --template-file OUT/template.json --stack-name NAME \\
            --capabilities CAPABILITY_NAMED_IAM --parameter-overrides CodeBucket=BUCKET
    """
    from stepkit.deploy.cloudformation import write_package
    from stepkit.deploy.service import load_project

    try:
        _, project = load_project(stack, stage)
        out_dir = out or project.root / ".stepkit" / "package" / stage
        written = write_package(project, stage, out_dir)
    except StackError as exc:
        _fail(as_json, EXIT_INPUT, "StackError", str(exc).splitlines())
    except DeployInputError as exc:
        _fail(as_json, EXIT_INPUT, "InvalidInput", exc.problems)
    if as_json:
        click.echo(json.dumps({"format": fmt, **{k: str(v) for k, v in written.items()}}, indent=2))
    else:
        make_console().print(f"wrote [bold]{written['template']}[/bold] and {written['zips']} "
                                       f"zips (functions and layers) under {written['code']}")


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="The stack's name (default: the folder's name).")
@click.option("--force", is_flag=True, help="Write into a folder that is not empty (never overwrites files).")
@click.option("--api", is_flag=True, help="Add an HTTP API: a Chalice app in functions/web/ (needs stepkit[api]).")
@click.option("--json", "as_json", is_flag=True, help="Print the files written as JSON.")
def init_command(directory: Path, name: str | None, force: bool, api: bool, as_json: bool) -> None:
    """Create a new stepkit project in DIRECTORY: infra/stack.yaml, an example function, a
    state machine that calls it, a test, and a README on how to run and deploy it."""
    from stepkit.templates import InitError, create_project

    try:
        written = create_project(directory, name=name, force=force, api=api)
    except InitError as exc:
        _fail(as_json, EXIT_INPUT, "InitError", [str(exc)])
    if as_json:
        click.echo(json.dumps({"created": str(directory), "files": [str(p) for p in written]}, indent=2))
        return
    console = make_console()
    for path in written:
        console.print(f"  [green]+[/green] {path.relative_to(directory)}")
    console.print(f"[bold]created[/bold] {directory}: try `cd {directory} && stepkit run "
                  "statemachines/hello.asl.json --input '{\"name\": \"you\"}'`")


COMMANDS = [plan_command, deploy_command, destroy_command, status_command, package_command, init_command]
