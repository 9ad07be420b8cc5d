"""``stepkit build`` and ``stepkit invoke``: Lambda functions of the project, locally.

Exit codes: 0 success; 1 the function failed (or a bundle could not be built); 2 bad usage
or bad input (unknown function, invalid event JSON, invalid stack file).
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from stepkit.cli.common import console as make_console
from stepkit.runtime import FunctionConfig, LambdaRuntime, LambdaServiceError
from stepkit.runtime.bundle import HOST, LAMBDA, PLATFORMS, BuildResult, BundleError, build_bundle
from stepkit.stack import Project, ProjectFunction, StackError

_STACK_OPTION = click.option(
    "--stack",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The project's stack file (default: infra/stack.yaml found from the current folder up).",
)


def _load_project(stack: Path | None) -> Project:
    try:
        project = Project.load(stack) if stack else Project.discover()
        project.check_code_dirs()
    except StackError as exc:
        raise click.UsageError(str(exc)) from None
    return project


def _select(project: Project, names: tuple[str, ...]) -> list[ProjectFunction]:
    functions = {fn.name: fn for fn in project.functions()}
    unknown = [n for n in names if n not in functions]
    if unknown:
        known = ", ".join(functions) or "none"
        raise click.UsageError(
            f"unknown function {', '.join(unknown)} (functions of {project.root}: {known})"
        )
    return [functions[n] for n in names] if names else list(functions.values())


def _size(size: int) -> str:
    return f"{size / 1024:.1f} KB" if size < 1024 * 1024 else f"{size / (1024 * 1024):.1f} MB"


@click.command("build")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@_STACK_OPTION
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the zips (default: <project>/.stepkit/build).")
@click.option("--force", is_flag=True, help="Build even when nothing changed since the last build.")
@click.option("--platform", "platform", type=click.Choice(PLATFORMS), default=LAMBDA, show_default=True,
              help="lambda: every requirement as wheels for Lambda's platform (the function's runtime and "
                   "architecture). host: for stepkit's runtime on this machine: the code, and only the "
                   "requirements this environment lacks.")
@click.option("--json", "as_json", is_flag=True, help="Print the bundles (and how many failed) as JSON.")
def build_command(names: tuple[str, ...], stack: Path | None, out: Path | None, force: bool, platform: str,
                  as_json: bool) -> None:
    """Build the zip AWS Lambda accepts for each function (all of them if no NAME is given).

    Code plus the dependencies of its requirements.txt as wheels for Lambda's platform
    (or, with --platform host, what this machine's runtime needs), reproducible byte for
    byte; a function whose sources did not change is skipped. A zip over 50 MB is built
    too: `stepkit deploy` sends it to Lambda through S3.
    """
    project = _load_project(stack)
    out_dir = out or project.root / ".stepkit" / "build" / ("host" if platform == HOST else "")
    console, errors = make_console(), make_console(stderr=True)
    results: list[BuildResult] = []
    failed = 0
    for function in _select(project, names):
        with errors.status(f"building [bold]{function.name}[/bold]…"):
            try:
                results.append(build_bundle(FunctionConfig.in_project(project, function), out_dir, force=force,
                                            platform=platform))
            except BundleError as exc:
                failed += 1
                if not as_json:
                    errors.print(f"[bold red]✗[/bold red] {exc}", highlight=False)
    if as_json:
        bundles = [{"function": r.name, "skipped": r.skipped, "path": str(r.path), "zipped_bytes": r.zipped_bytes,
                    "unzipped_bytes": r.unzipped_bytes, "files": r.files} for r in results]
        click.echo(json.dumps({"bundles": bundles, "failed": failed}, indent=2))
    elif results:
        table = Table("function", "status", "zip", "unzipped", "files", "path", box=None)
        for r in results:
            status = "[dim]unchanged[/dim]" if r.skipped else "[green]built[/green]"
            path = r.path.relative_to(Path.cwd()) if r.path.is_relative_to(Path.cwd()) else r.path
            sizes = (_size(r.zipped_bytes), _size(r.unzipped_bytes))
            table.add_row(r.name, status, *sizes, str(r.files), str(path))
        console.print(table)
    if failed:
        sys.exit(1)


def _read_event(value: str) -> bytes:
    if value.startswith("@"):
        source = value[1:]
        try:
            data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
        except OSError as exc:
            raise click.BadParameter(f"cannot read {source}: {exc.strerror}", param_hint="--event") from None
    else:
        source, data = "the command line", value.encode()
    try:
        json.loads(data or b"{}")
    except ValueError as exc:
        raise click.BadParameter(f"invalid JSON in {source}: {exc}", param_hint="--event") from None
    return data


@click.command("invoke")
@click.argument("name")
@click.option("--event", "-e", default="{}", metavar="JSON|@FILE",
              help="The event, as JSON text or @FILE (@- reads standard input). Default {}.")
@_STACK_OPTION
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object (StatusCode, FunctionError, Payload, Logs...) and nothing else.")
def invoke_command(name: str, event: str, stack: Path | None, as_json: bool) -> None:
    """Invoke the function NAME once, as Lambda would, and print its result and its log.

    The result goes to standard output and the log to standard error. Exit code 1 when the
    invocation failed (FunctionError), 2 for an unknown function or an invalid event.
    """
    payload = _read_event(event)
    project = _load_project(stack)
    _select(project, (name,))
    errors = make_console(stderr=True)
    try:
        # A function run here acts with this machine's AWS configuration (see runtime.environment).
        with (
            errors.status(f"invoking [bold]{name}[/bold]…"),
            LambdaRuntime.from_project(project, host_aws=True) as runtime,
        ):
            result = runtime.invoke(name, payload, log_type="Tail")
    except LambdaServiceError as exc:
        errors.print(f"[bold red]{exc.error_code}[/bold red]: {exc.message}", highlight=False)
        sys.exit(1)
    body, is_json = _decoded(result.payload)
    if as_json:
        document = {
            "StatusCode": result.status_code,
            "FunctionError": result.function_error,
            "ExecutedVersion": result.executed_version,
            "RequestId": result.request_id,
            "LogResult": result.log_result,
            "Payload": body,
            "Logs": result.logs,
        }
        click.echo(json.dumps(document, indent=2))
    else:
        errors.rule(f"log of {name}", style="dim")
        errors.print(result.logs.rstrip("\n"), markup=False, highlight=False, style="dim", soft_wrap=True)
        errors.rule(style="dim")
        if result.function_error:
            errors.print(f"[bold red]{result.function_error}: {result.error_type}[/bold red]")
        console = make_console()
        if is_json:
            console.print_json(data=body)
        else:
            console.print(body, markup=False, highlight=False)
    if result.function_error:
        sys.exit(1)


def _decoded(payload: bytes) -> tuple[Any, bool]:
    """(the payload, whether it is JSON): parsed JSON, else text, else base64 of the bytes."""
    try:
        return json.loads(payload), True
    except ValueError:
        try:
            return payload.decode(), False
        except UnicodeDecodeError:
            return base64.b64encode(payload).decode(), False


COMMANDS = [build_command, invoke_command]
