"""``stepkit demo``: the ML pipeline end to end on an embedded local endpoint."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from stepkit.cli.common import EXIT_USAGE, console, dump, fail, json_option, require


@click.command("demo")
@click.option("--dataset", default="breast_cancer", show_default=True,
              type=click.Choice(["breast_cancer", "wine", "iris", "synthetic"]),
              help="The scikit-learn dataset to train on (shipped with scikit-learn: nothing is downloaded).")
@click.option("--rows", default=200, show_default=True, help="Rows in the file uploaded for batch inference.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".stepkit/demo"),
              show_default=True, help="Where the endpoint keeps the demo's executions, functions and buckets.")
@click.option("--project", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="The project whose stack is deployed.")
@json_option
def demo_command(dataset: str, rows: int, state_dir: Path, project: Path, as_json: bool) -> None:
    """Start a local endpoint, deploy the stack, upload a dataset, and watch the training
    pipeline and the batch inference that the uploads start; then report.

    Needs the `ml` extra (scikit-learn and numpy, which the pipeline's functions and its
    datasets use). Exit code 0 when both pipelines succeeded, 1 otherwise. With --json the
    progress and report go to stderr and a summary to stdout.
    """
    from stepkit.demo import DemoOptions, run_demo

    require("sklearn", "numpy")
    root = project.resolve()
    if not (root / "infra" / "stack.yaml").is_file():
        fail(f"no infra/stack.yaml in {root}: give the project with --project", kind="InvalidProject",
             exit_code=EXIT_USAGE)
    out = console(stderr=as_json)
    try:
        result = run_demo(DemoOptions(root, state_dir.resolve(), dataset, rows), out)
    except KeyboardInterrupt:
        out.print("[yellow]interrupted[/yellow]")
        sys.exit(130)
    except Exception as e:  # the demo's own failure: say what and where, no traceback
        fail(f"the demo stopped: {type(e).__name__}: {e}", kind="DemoStopped")
    if as_json:
        dump(result.summary())
    sys.exit(0 if result.status == "SUCCEEDED" else 1)


COMMANDS = [demo_command]
