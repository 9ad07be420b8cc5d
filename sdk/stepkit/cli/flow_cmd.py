"""``stepkit compile MODULE:FLOW`` and ``stepkit decompile FILE``: Python workflows <-> ASL.

``compile`` imports a module (``package.module`` from the current folder, or a
``path/to/file.py``), takes its :class:`stepkit.flow.Workflow` and writes the definition,
after validating it as Step Functions would. ``decompile`` writes the builder code for a
definition (:func:`stepkit.flow.to_python`). Exit codes: 0 done, 1 the definition is
invalid or its data does not fit its tasks' input types (:mod:`stepkit.flow.typecheck`),
2 the module, flow or file cannot be used.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn

import click

from stepkit.cli.common import EXIT_USAGE, fail

if TYPE_CHECKING:
    from stepkit.flow.typecheck import FlowTypeError


def fail_types(exc: FlowTypeError) -> NoReturn:
    """A workflow whose data does not fit its tasks: exit 1, each finding in the document."""
    fail(str(exc), kind="FlowTypeError", findings=[
        {"state": f.state, "task": f.task, "field": f.field, "reason": f.reason, "source": f.source}
        for f in exc.findings])


def _import(module: str) -> ModuleType:
    """``module`` by dotted name (the current folder first on the path) or by file path."""
    from stepkit.flow.typecheck import FlowTypeError

    try:
        if module.endswith(".py") or "/" in module:
            path = Path(module)
            if not path.is_file():
                fail(f"no such file: {module}", kind="FlowNotFound", exit_code=EXIT_USAGE)
            spec = importlib.util.spec_from_file_location(path.stem, path)
            if spec is None or spec.loader is None:
                fail(f"cannot import {module}", kind="FlowNotFound", exit_code=EXIT_USAGE)
            loaded = importlib.util.module_from_spec(spec)
            sys.modules[path.stem] = loaded  # a task bundled from source finds its module here
            spec.loader.exec_module(loaded)
            return loaded
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
        return importlib.import_module(module)
    except click.ClickException:
        raise
    except FlowTypeError as exc:  # a @flow.workflow is type checked as it compiles, at import
        fail_types(exc)
    except Exception as exc:  # the user's module: whatever it raises is why it cannot be used
        fail(f"cannot import {module}: {type(exc).__name__}: {exc}", kind="FlowNotFound", exit_code=EXIT_USAGE)


def load_flow(target: str) -> Any:
    """The Workflow that ``MODULE:NAME`` names."""
    from stepkit.flow import Workflow

    module_name, sep, attribute = target.rpartition(":")
    if not sep or not module_name or not attribute:
        fail(f"expected MODULE:FLOW (such as pipelines.train:workflow), got {target!r}",
             kind="InvalidArgument", exit_code=EXIT_USAGE)
    module = _import(module_name)
    workflow = getattr(module, attribute, None)
    if not isinstance(workflow, Workflow):
        what = "nothing" if workflow is None else type(workflow).__name__
        fail(f"{module_name}:{attribute} is {what}, not a stepkit.flow.Workflow", kind="FlowNotFound",
             exit_code=EXIT_USAGE)
    return workflow


@click.command("compile")
@click.argument("target", metavar="MODULE:FLOW")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the definition here (default: stdout).")
@click.option("--json", "as_json", is_flag=True, help="Errors (and, with -o, what was written) as JSON.")
def compile_flow(target: str, output: str | None, as_json: bool) -> None:
    """Compile the workflow FLOW of MODULE to an ASL definition."""
    from stepkit.asl.validation import ERROR, invalid_definition_message, validate_definition
    from stepkit.flow.typecheck import FlowTypeError

    workflow = load_flow(target)
    findings = workflow.check_types()
    if findings:
        fail_types(FlowTypeError(findings))
    definition = workflow.to_asl()
    problems = [d for d in validate_definition(definition) if d.severity == ERROR]
    if problems:
        fail(invalid_definition_message(problems), kind="InvalidDefinition",
             diagnostics=[d.to_dict() for d in problems])
    text = json.dumps(definition, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    _write(output, text)
    states = len(definition["States"])
    if as_json:
        click.echo(json.dumps({"file": output, "states": states}))
    else:
        click.echo(f"{target} -> {output} ({states} top-level states)", err=True)


@click.command("decompile")
@click.argument("file", metavar="FILE")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the Python here (default: stdout).")
@click.option("--name", "variable", default="workflow", show_default=True, help="The Workflow's variable.")
@click.option("--json", "as_json", is_flag=True, help="Errors as JSON.")
def decompile(file: str, output: str | None, variable: str, as_json: bool) -> None:
    """Write stepkit.flow builder code for the ASL definition in FILE ("-" for stdin)."""
    from stepkit.flow import NotExpressible, to_python

    if not variable.isidentifier():
        fail(f"--name must be a Python identifier, not {variable!r}", kind="InvalidArgument", exit_code=EXIT_USAGE)
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        definition = json.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}", kind="UnreadableFile", exit_code=EXIT_USAGE)
    except json.JSONDecodeError as exc:
        fail(f"{file} is not JSON: {exc}", kind="InvalidDefinition")
    if not isinstance(definition, dict):
        fail(f"{file}: a definition is a JSON object", kind="InvalidDefinition")
    try:
        source = to_python(definition, variable=variable)
    except NotExpressible as exc:
        fail(f"{file}: {exc}", kind="InvalidDefinition")
    if output is None:
        click.echo(source, nl=False)
    else:
        _write(output, source)


def _write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {path}: {exc}", kind="UnwritableFile", exit_code=EXIT_USAGE)


COMMANDS = [compile_flow, decompile]
