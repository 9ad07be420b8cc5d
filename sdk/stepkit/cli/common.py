"""What every command shares: the one rule for the endpoint URL, consoles that never wrap
when piped, and errors as one line (or ``{"error": ...}`` on stdout with ``--json``).

Exit codes (the README's): 0 success; 1 the thing ran and failed (an execution failed, an
endpoint answered with an error, a deploy call failed); 2 bad usage or input, or a target
that cannot be used (no endpoint answers, no credentials, a missing extra).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

EXIT_FAILED, EXIT_USAGE = 1, 2

DEFAULT_ENDPOINT_URL = "http://127.0.0.1:4566"
ENDPOINT_RULE = "--endpoint-url, else $AWS_ENDPOINT_URL, else $STEPKIT_ENDPOINT_URL, else http://127.0.0.1:4566"

#: Width of a console whose output is not a terminal and COLUMNS is not set: wide enough that
#: nothing (an ARN, a policy, a command to paste) is ever wrapped.
_UNWRAPPED = 10_000


def endpoint_url(option: str | None, environ: Mapping[str, str] | None = None,
                 default: str = DEFAULT_ENDPOINT_URL) -> str:
    """The endpoint a command talks to; the same order for every command (``ENDPOINT_RULE``)."""
    env = os.environ if environ is None else environ
    return option or env.get("AWS_ENDPOINT_URL") or env.get("STEPKIT_ENDPOINT_URL") or default


def endpoint_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--endpoint-url`` with no default of its own: :func:`endpoint_url` resolves it."""
    return click.option("--endpoint-url", metavar="URL", default=None,
                        help=f"The endpoint to talk to ({ENDPOINT_RULE}).")(function)


json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print JSON on stdout (errors too, as {\"error\": ...}) and nothing else.")


def console(stderr: bool = False) -> Console:
    """A rich console that wraps only on a terminal: piped or in CI, lines are kept whole
    (``COLUMNS``, when set, is the width, as rich reads it)."""
    stream = sys.stderr if stderr else sys.stdout
    stream_is_tty = hasattr(stream, "isatty") and stream.isatty()
    if stream_is_tty or os.environ.get("COLUMNS"):
        return Console(stderr=stderr, highlight=False)
    return Console(stderr=stderr, highlight=False, width=_UNWRAPPED, soft_wrap=True)


def pasteable_table(headers: list[str], rows: list[list[Text]], *, flexible: str | None = None) -> Table:
    """A table whose cells are never cut or wrapped, so a name or ARN in it can be pasted into
    the next command; only the ``flexible`` column (free text) folds when the width is short."""
    table = Table(box=None)
    for index, header in enumerate(headers):
        if header == flexible:
            table.add_column(header, overflow="fold")
        else:
            widest = max((row[index].cell_len for row in rows), default=0)
            table.add_column(header, no_wrap=True, min_width=max(widest, len(header)))
    for row in rows:
        table.add_row(*row)
    return table


class CommandError(click.ClickException):
    """A failure reported as one line (no usage banner), or as JSON with ``--json``."""

    def __init__(self, message: str, *, kind: str = "Error", exit_code: int = EXIT_FAILED,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.exit_code = exit_code  # type: ignore[misc]  # click declares a class-wide code; ours varies
        self.details = details or {}

    def document(self) -> dict[str, Any]:
        return {"error": self.kind, "message": self.message, **self.details}


def fail(message: str, *, kind: str = "Error", exit_code: int = EXIT_FAILED, **details: Any) -> NoReturn:
    raise CommandError(message, kind=kind, exit_code=exit_code, details=details)


def error_document(exc: click.ClickException) -> dict[str, Any]:
    if isinstance(exc, CommandError):
        return exc.document()
    return {"error": type(exc).__name__, "message": exc.format_message()}


def print_error(exc: click.ClickException, as_json: bool) -> None:
    """One line on stderr, or the JSON document on stdout."""
    if as_json:
        click.echo(json.dumps(error_document(exc)))
    elif isinstance(exc, CommandError):
        click.echo(f"Error: {exc.message}", err=True)
    else:
        exc.show()


def aws_error(exc: Exception) -> CommandError | None:
    """A call to an endpoint or AWS that no command handled, as one line: exit 2 when nothing
    answers or no credentials were found (the target cannot be used), 1 for an error answer.
    None for anything else (a bug, which should show)."""
    import botocore.exceptions as errors

    if isinstance(exc, errors.ClientError):
        error = exc.response.get("Error", {})
        return CommandError(f"{error.get('Code')}: {error.get('Message')}", kind=str(error.get("Code")))
    unusable = (errors.EndpointConnectionError, errors.NoCredentialsError, errors.NoRegionError,
                errors.ConnectTimeoutError)
    if isinstance(exc, unusable):
        return CommandError(str(exc), kind=type(exc).__name__, exit_code=EXIT_USAGE)
    if isinstance(exc, errors.BotoCoreError):
        return CommandError(str(exc), kind=type(exc).__name__)
    return None


#: Modules that only an extra installs, and which extra: a command that needs one says so.
EXTRA_OF_MODULE: dict[str, str] = {
    "sklearn": "ml", "numpy": "ml", "aws_lambda_powertools": "ml", "pyarrow": "parquet", "awscli": "aws",
}


def missing_module_error(module: str) -> CommandError:
    """The error for a module that is not installed: the extra to install, when one has it."""
    top = module.split(".")[0]
    extra = EXTRA_OF_MODULE.get(top)
    if extra:
        return CommandError(f"this command needs the {extra!r} extra ({top} is missing): "
                            f"pip install 'stepkit[{extra}]'", kind="MissingExtra", exit_code=EXIT_USAGE,
                            details={"extra": extra})
    return CommandError(f"a dependency of stepkit is missing ({top}): reinstall it with "
                        "pip install --force-reinstall stepkit", kind="MissingDependency", exit_code=EXIT_USAGE)


def require(*modules: str) -> None:
    """Stop (exit 2, naming the extra) unless every module is installed, before any work."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise missing_module_error(module)


def dump(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, default=str))
