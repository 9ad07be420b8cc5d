"""``stepkit validate FILE``: check a state machine definition as Step Functions would.

Exit codes: 0 valid (warnings allowed), 1 invalid, 2 the file cannot be read or an option
is wrong.

Definition-substitution placeholders (``${Name}``, as in CloudFormation/SAM
``DefinitionSubstitutions``) are accepted: ``--sub Name=value`` replaces one as text before
the definition is parsed; any left without a value is reported once as a warning and the
fields holding it are not checked (a bare one, such as ``"MaxConcurrency": ${Limit}``, is
read as a string so the file still parses).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.text import Text

from stepkit.asl.validation import ERROR, Diagnostic, validate_definition
from stepkit.cli.common import EXIT_USAGE, fail

_STYLES = {"ERROR": "bold red", "WARNING": "yellow"}


def _read(file: str) -> str:
    if file == "-":
        return sys.stdin.read()
    return Path(file).read_text(encoding="utf-8")


def _substitutions(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--sub")
        out[name] = value
    return out


def _line(diagnostic: Diagnostic) -> Text:
    where = f" at {diagnostic.location}" if diagnostic.location else ""
    return Text.assemble(
        (diagnostic.severity, _STYLES.get(diagnostic.severity, "")),
        " ",
        (diagnostic.code, "bold"),
        f"{where}: {diagnostic.message}",
    )


def _summary(file: str, errors: int, warnings: int) -> Text:
    def count(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    if errors:
        return Text.assemble(
            (f"{file}: invalid", "bold red"), f" ({count(errors, 'error')}, {count(warnings, 'warning')})"
        )
    return Text.assemble((f"{file}: valid", "bold green"), f" ({count(warnings, 'warning')})")


@click.command("validate")
@click.argument("file", metavar="FILE")
@click.option("--json", "as_json", is_flag=True, help="Print the diagnostics as a JSON list.")
@click.option(
    "--type",
    "machine_type",
    type=click.Choice(["STANDARD", "EXPRESS"]),
    default="STANDARD",
    show_default=True,
    help="The state machine type; EXPRESS adds the Express-workflow rules.",
)
@click.option(
    "--sub",
    "subs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A definition-substitution value for ${NAME} (repeatable).",
)
def validate(file: str, as_json: bool, machine_type: str, subs: tuple[str, ...]) -> None:
    """Validate the state machine definition in FILE ("-" for standard input)."""
    substitutions = _substitutions(subs)
    try:
        text = _read(file)
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}", kind="UnreadableFile", exit_code=EXIT_USAGE)
    diagnostics = validate_definition(text, state_machine_type=machine_type, substitutions=substitutions)
    errors = sum(d.severity == ERROR for d in diagnostics)
    if as_json:
        click.echo(json.dumps([d.to_dict() for d in diagnostics], indent=2))
    else:
        console = Console(soft_wrap=True, highlight=False)
        for diagnostic in diagnostics:
            console.print(_line(diagnostic))
        console.print(_summary(file, errors, len(diagnostics) - errors))
    sys.exit(1 if errors else 0)


COMMANDS = [validate]
