"""The ``stepkit`` command line.

Each sub-command lives in a module of this package whose name ends in ``_cmd`` and that
exposes ``COMMANDS``, a list of click commands. ``COMMAND_MODULES`` says which module holds
which command, so that a command's module (and what it imports: moto, boto3, the engine)
is imported only when that command runs; a test checks the table against the modules.

Exit codes: 0 success; 1 the thing ran and failed (an execution failed, a definition is
invalid); 2 bad usage or bad input (click's own code for usage errors), an endpoint or
target that cannot be used, or a missing extra. With ``--json`` every error is a JSON
document on stdout. A closed pipe (``stepkit executions | head``) ends quietly.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from stepkit.cli.common import aws_error, missing_module_error, print_error

COMMAND_MODULES: dict[str, str] = {
    "aws": "aws_cmd",
    "build": "functions_cmd",
    "compile": "flow_cmd",
    "cost": "estimate_cmd",
    "decompile": "flow_cmd",
    "demo": "demo_cmd",
    "deploy": "deploy_cmd",
    "destroy": "deploy_cmd",
    "executions": "executions_cmd",
    "graph": "graph_cmd",
    "history": "executions_cmd",
    "init": "deploy_cmd",
    "invoke": "functions_cmd",
    "logs": "endpoint_cmd",
    "package": "deploy_cmd",
    "plan": "deploy_cmd",
    "run": "run_cmd",
    "serving": "serving_cmd",
    "simulate": "estimate_cmd",
    "start": "executions_cmd",
    "status": "deploy_cmd",
    "ui": "ui_cmd",
    "up": "endpoint_cmd",
    "validate": "validate_cmd",
}


def load_command(name: str) -> click.Command | None:
    module_name = COMMAND_MODULES.get(name)
    if module_name is None:
        return None
    module = importlib.import_module(f"{__name__}.{module_name}")
    return next((c for c in module.COMMANDS if c.name == name), None)


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> Any:
        return load_command(cmd_name)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any) -> Any:
        """Run a command; errors, a missing extra and a closed pipe end it as the README says."""
        argv = list(sys.argv[1:] if args is None else args)
        as_json = "--json" in (argv[: argv.index("--")] if "--" in argv else argv) and argv[:1] != ["aws"]
        try:
            result = super().main(argv, prog_name or "stepkit", standalone_mode=False, **extra)
            code: Any = result if isinstance(result, int) else 0
        except SystemExit as exc:
            code = exc.code
        except click.ClickException as exc:
            print_error(exc, as_json)
            code = exc.exit_code
        except click.exceptions.Abort as exc:
            if not isinstance(exc.__cause__, KeyboardInterrupt):
                click.echo("Aborted!", err=True)
            code = 130 if isinstance(exc.__cause__, KeyboardInterrupt) else 1  # Ctrl-C: the shell's convention
        except ModuleNotFoundError as exc:
            error = missing_module_error(exc.name or "")
            print_error(error, as_json)
            code = error.exit_code
        except Exception as exc:
            error = aws_error(exc)
            if error is None:
                raise
            print_error(error, as_json)
            code = error.exit_code
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _quiet_after_closed_pipe()
        sys.exit(code)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # click would exit 1: a reader that has seen enough is no failure
            _quiet_after_closed_pipe()


def _quiet_after_closed_pipe() -> None:
    """The reader went away (``| head``): stop without a traceback, and without Python's
    "Exception ignored" when it flushes stdout at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (a test's runner)
        pass
    sys.exit(0)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="stepkit")
def main() -> None:
    """stepkit: serverless ML workflows on your machine (Step Functions + Lambda, no Docker)."""
