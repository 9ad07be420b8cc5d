"""``stepkit graph FILE --format mermaid|dot|svg``: draw a state machine definition.

Every state is named, nested ones included: a ``Parallel`` state's branches and a ``Map``
state's item processor are drawn as groups (Mermaid subgraphs, Graphviz clusters); Choice
edges carry their rules, Catch edges are dashed and Retry rules are dotted loops.

Exit codes: 0 drawn; 1 the definition is invalid or SVG could not be drawn (Graphviz's
``dot`` missing or failing); 2 the file cannot be read or is not JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from stepkit.asl.validation import ERROR, _quote_bare_placeholders, validate_definition
from stepkit.viewer.graph import FORMATS, GraphError, GraphvizMissing, definition_graph


@click.command("graph")
@click.argument("file", metavar="FILE")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="mermaid", show_default=True,
              help="mermaid (for Markdown), dot (Graphviz), or svg (drawn by Graphviz's dot).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output.")
def graph(file: str, fmt: str, output: str | None) -> None:
    """Draw the state machine definition in FILE ("-" for standard input)."""
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        click.echo(f"Error: cannot read {file}: {exc}", err=True)
        sys.exit(2)
    # ${Name} placeholders (definition substitutions) stay as text: they do not change the shape.
    try:
        definition = json.loads(_quote_bare_placeholders(text))
    except json.JSONDecodeError as exc:
        click.echo(f"Error: {file} is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", err=True)
        sys.exit(2)
    errors = [d for d in validate_definition(text, substitutions={}) if d.severity == ERROR]
    if errors:
        for d in errors:
            click.echo(f"ERROR {d.code}{' at ' + d.location if d.location else ''}: {d.message}", err=True)
        click.echo(f"{file}: invalid; run 'stepkit validate {file}' for details", err=True)
        sys.exit(1)
    try:
        drawn = FORMATS[fmt](definition_graph(definition))
    except (GraphError, GraphvizMissing, RuntimeError, OSError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    if output is None:
        click.echo(drawn, nl=False)
    else:
        Path(output).write_text(drawn, encoding="utf-8")


COMMANDS = [graph]
