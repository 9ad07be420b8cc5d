"""``stepkit graph FILE --format mermaid|dot|svg``: draw a state machine definition.

Every state is named, nested ones included: a ``Parallel`` state's branches and a ``Map``
state's item processor are drawn as groups (Mermaid subgraphs, Graphviz clusters); Choice
edges carry their rules, Catch edges are dashed and Retry rules are dotted loops.

Exit codes: 0 drawn; 1 the definition is invalid or SVG could not be drawn (Graphviz's
``dot`` missing or failing); 2 the file cannot be read or is not JSON. With ``--json`` the
graph model itself is printed (what the viewer draws), and an error is a JSON document.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from stepkit.asl.substitutions import quote_bare_placeholders
from stepkit.asl.validation import ERROR, validate_definition
from stepkit.cli.common import EXIT_USAGE, fail, json_option
from stepkit.viewer.graph import FORMATS, GraphError, GraphvizMissing, definition_graph


@click.command("graph")
@click.argument("file", metavar="FILE")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="mermaid", show_default=True,
              help="mermaid (for Markdown), dot (Graphviz), or svg (drawn by Graphviz's dot).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output.")
@json_option
def graph(file: str, fmt: str, output: str | None, as_json: bool) -> None:
    """Draw the state machine definition in FILE ("-" for standard input). With --json, print
    the graph itself (nodes, groups, edges) instead of a drawing."""
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}", kind="UnreadableFile", exit_code=EXIT_USAGE)
    # ${Name} placeholders (definition substitutions) stay as text: they do not change the shape.
    try:
        definition = json.loads(quote_bare_placeholders(text))
    except json.JSONDecodeError as exc:
        fail(f"{file} is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", kind="InvalidJson",
             exit_code=EXIT_USAGE)
    errors = [d for d in validate_definition(text, substitutions={}) if d.severity == ERROR]
    if errors:
        fail(f"{file}: invalid definition: " + "; ".join(
            f"{d.code}{' at ' + d.location if d.location else ''}: {d.message}" for d in errors),
            kind="InvalidDefinition", diagnostics=[d.to_dict() for d in errors])
    try:
        model = definition_graph(definition)
        drawn = json.dumps(model.to_dict(), indent=2) + "\n" if as_json else FORMATS[fmt](model)
    except (GraphError, GraphvizMissing, RuntimeError, OSError) as exc:
        fail(str(exc), kind=type(exc).__name__)
    if output is None:
        click.echo(drawn, nl=False)
    else:
        Path(output).write_text(drawn, encoding="utf-8")


COMMANDS = [graph]
