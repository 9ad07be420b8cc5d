"""``stepkit run``: run a state machine definition locally."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.text import Text

from stepkit.cli.common import console as cli_console
from stepkit.cli.inputs import read_json_argument, read_text_file

_STATUS_STYLE = {"SUCCEEDED": "bold green", "FAILED": "bold red", "ABORTED": "bold yellow"}


class _Progress:
    """A one-line live view: the state being run, Map iterations done, events so far."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.current = ""
        self.events = 0
        self.iterations = 0
        self.started = time.monotonic()
        self.live = Live(self._render(), console=console, transient=True, refresh_per_second=8)

    def _render(self) -> Text:
        elapsed = time.monotonic() - self.started
        text = Text.assemble(
            ("running ", "cyan"),
            (self.current or "…", "bold"),
            f"  events {self.events}",
            f"  map items done {self.iterations}" if self.iterations else "",
            f"  {elapsed:.1f}s",
        )
        return text

    def __call__(self, event: Any) -> None:
        self.events += 1
        kind = event.event_type
        if kind.endswith("StateEntered"):
            self.current = event.details["name"]
            if event.depth == 0:  # a line per top-level state; inner ones show in the status line
                self.console.print(f"  [dim]→[/dim] {self.current} [dim]({kind[:-12]})[/dim]")
        elif kind == "MapIterationSucceeded":
            self.iterations += 1
        if self.events % 50 == 0 or kind.endswith("StateEntered"):
            self.live.update(self._render())


@click.command("run")
@click.argument("definition", metavar="DEFINITION|NAME|MODULE:FLOW")
@click.option("--input", "input_", metavar="JSON|@FILE|file://FILE", help="Execution input (default {}).")
@click.option("--name", help="Execution name (default: a UUID).")
@click.option("--mock-config", type=click.Path(dir_okay=False, path_type=Path),
              help="A Step Functions Local MockConfigFile answering Task states.")
@click.option("--test-case", help="The test case of the mock config to use.")
@click.option("--skip-waits", is_flag=True, help="Do not really wait in Wait states and retries.")
@click.option("--sub", "subs", multiple=True, metavar="NAME=VALUE",
              help="A definition substitution for ${NAME} (repeatable). The stack's own (${TrainFunctionArn}, "
                   "${ArtifactsBucket}...) are filled in as a deploy of --stage names them.")
@click.option("--stage", default="dev", show_default=True, envvar="STEPKIT_STAGE",
              help="The stage whose names and settings the stack's values take.")
@click.option("--env-vars", type=click.Path(dir_okay=False, path_type=Path),
              help='Environment variables for the functions, as SAM\'s: {"FunctionName": {"VAR": "value"}, '
                   '"Parameters": {"VAR": "value for every function"}}.')
@click.option("--endpoint-url", metavar="URL",
              help="Where the functions' and the tasks' AWS calls go: this, else $AWS_ENDPOINT_URL, else "
                   "$STEPKIT_ENDPOINT_URL, else a local endpoint started for the run with the stack's buckets "
                   "and queues.")
@click.option("--project", type=click.Path(file_okay=False, path_type=Path),
              help="The project whose functions/ run Lambda tasks (default: found from the working directory).")
@click.option("--json", "as_json", is_flag=True, help="Print only the result as JSON.")
def run_command(
    definition: str,
    input_: str | None,
    name: str | None,
    mock_config: Path | None,
    test_case: str | None,
    skip_waits: bool,
    subs: tuple[str, ...],
    stage: str,
    env_vars: Path | None,
    endpoint_url: str | None,
    project: Path | None,
    as_json: bool,
) -> None:
    """Run the state machine DEFINITION (an ASL JSON file), the state machine NAME of the
    project's infra/stack.yaml, or the Python workflow MODULE:FLOW (pipelines.training:training,
    path/to/file.py:flow) locally.

    A Python workflow is type checked and compiled, its @flow.task functions run as Lambda
    functions of the project; with the name of a state machine of the stack it runs in its
    place (its substitutions and type).

    Lambda tasks run the project's functions in local worker processes, with the environment a
    deploy of --stage gives them (and --env-vars). Their AWS calls, and the definition's AWS
    service tasks, go to --endpoint-url, else to a local endpoint started for the run: never
    to AWS by accident. Exit code: 0 when the execution succeeded, 1 when it failed or the
    definition is invalid, 2 for bad arguments or unreadable input.
    """
    from stepkit.cli.common import endpoint_url as endpoint_rule

    # The order of every command; the default here is an endpoint of the run's own.
    endpoint = endpoint_rule(endpoint_url, default="") or None
    execution = run_locally(definition, input_, name, mock_config, test_case, skip_waits, subs, project, as_json,
                            stage=stage, env_vars=env_vars, endpoint_url=endpoint)
    _report(execution, as_json)


def run_locally(
    definition: str | Path,
    input_: str | None,
    name: str | None,
    mock_config: Path | None,
    test_case: str | None,
    skip_waits: bool,
    subs: tuple[str, ...],
    project: Path | None,
    as_json: bool,
    *,
    stage: str = "dev",
    env_vars: Path | None = None,
    endpoint_url: str | None = None,
    on_run: Callable[[Any, str], None] | None = None,
    **runtime_options: Any,
) -> Any:
    """Set up and run a definition (a file, or a state machine of the stack by name) as
    ``stepkit run`` does (``stepkit cost`` too): the finished execution. ``runtime_options``
    go to the project's LambdaRuntime; ``on_run`` is given the prepared ``ExecutionRun``
    (its Map Runs' children, after the run) and the definition's text as run (substitutions made;
    DEFINITION may be a stack's state machine by name)."""
    from stepkit.asl.substitutions import UnresolvedSubstitution
    from stepkit.local import LocalRunError, ProjectSession

    payload = read_json_argument(input_, "--input", default={})
    if mock_config is not None and test_case is None:
        raise click.BadParameter("--mock-config needs --test-case", param_hint="--test-case")
    console = cli_console(stderr=True)
    values = _parse_subs(subs)
    flow = _flow_target(definition)
    try:
        session = ProjectSession(project, stage=stage, endpoint_url=endpoint_url, env_vars=env_vars,
                                 runtime_options=runtime_options, flows=flow)
    except LocalRunError as e:
        if e.param:
            raise click.BadParameter(str(e), param_hint=e.param) from None
        raise click.ClickException(str(e)) from None
    with session:
        where = str(definition)
        path = Path(definition)
        source: str
        if flow:
            source = where = next(iter(flow))
        elif path.is_file():
            source = read_text_file(path, "DEFINITION")
        elif where in session.stack.state_machines:
            source = where
        else:
            known = ", ".join(session.stack.state_machines) or "none"
            raise click.BadParameter(f"{where}: no such file, nor a state machine of the project's stack "
                                     f"(state machines: {known})", param_hint="DEFINITION")
        try:
            text, stack_name, stack_type = session.definition(source, values)
        except UnresolvedSubstitution as e:
            raise click.BadParameter(f"{e}; give it with --sub NAME=VALUE", param_hint="--sub") from None
        return _execute(session, text, stack_name or path.name.split(".")[0], stack_type, console, as_json,
                        where=where, payload=payload, name=name, mock_config=mock_config, test_case=test_case,
                        skip_waits=skip_waits, on_run=on_run)


def _flow_target(definition: str | Path) -> dict[str, str] | None:
    """``{state machine name: MODULE:FLOW}`` when DEFINITION names a Python workflow (not a file):
    run as the stack's state machine of that name, or as a new one."""
    text = str(definition)
    module, sep, attribute = text.rpartition(":")
    if not sep or not module or not attribute.isidentifier() or Path(text).is_file():
        return None
    return {attribute[:40]: text}


def _execute(session: Any, text: str, machine_name: str, machine_type: str, console: Console, as_json: bool,
             where: str, **options: Any) -> Any:
    from stepkit.runner import InvalidDefinition, InvalidExecutionInput, StateMachine

    try:
        machine = StateMachine(json.loads(text), name=machine_name, type=machine_type,
                               registry=session.registry())
    except json.JSONDecodeError as e:
        _fail_definition(console, as_json, f"{where}: invalid JSON: {e.msg} (line {e.lineno}, column {e.colno})")
    except RecursionError:
        _fail_definition(console, as_json, f"{where}: invalid JSON: nested too deeply")
    except InvalidDefinition as e:
        _fail_definition(console, as_json, str(e), e.diagnostics)
    payload = options.pop("payload")
    on_run = options.pop("on_run", None)
    try:
        progress = None if as_json or not console.is_terminal else _Progress(console)
        run = machine.prepare(payload, listener=progress, **options)
    except InvalidExecutionInput as e:
        raise click.BadParameter(str(e), param_hint="--input") from None
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--mock-config") from None
    if on_run is not None:
        on_run(run, text)
    try:
        if progress is not None:
            with progress.live:
                return run.start()
        return run.start()
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: the execution was not finished[/yellow]")
        sys.exit(130)


def _report(execution: Any, as_json: bool) -> None:
    result = {
        "executionArn": execution.execution_arn,
        "status": execution.status,
        "output": execution.output,
        "error": execution.error,
        "cause": execution.cause,
        "durationSeconds": round((execution.stop_date or 0) - execution.start_date, 3),
    }
    if as_json:
        click.echo(json.dumps(result, default=str))
    else:
        out = cli_console()  # piped: lines kept whole (an ARN to paste)
        out.print(f"[{_STATUS_STYLE.get(execution.status, 'bold')}]{execution.status}[/] "
                  f"{execution.execution_arn} in {result['durationSeconds']}s, {len(execution.history)} events")
        if execution.status == "SUCCEEDED":
            out.print_json(json.dumps(execution.output))
        else:
            out.print(f"[red]error:[/red] {execution.error}")
            out.print(f"[red]cause:[/red] {execution.cause}")
    sys.exit(0 if execution.status == "SUCCEEDED" else 1)


def _parse_subs(subs: tuple[str, ...]) -> dict[str, str]:
    values = {}
    for item in subs:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--sub")
        values[key] = value
    return values


def _fail_definition(console: Console, as_json: bool, message: str, diagnostics: list | None = None) -> None:
    if as_json:
        click.echo(json.dumps({"status": "INVALID_DEFINITION", "error": "InvalidDefinition", "cause": message,
                               "diagnostics": [d.to_dict() for d in diagnostics or []]}))
    else:
        console.print(f"[bold red]invalid definition[/bold red]: {message}")
    sys.exit(1)


COMMANDS = [run_command]
