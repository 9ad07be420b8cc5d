"""The ``stepkit`` command line.

Each sub-command lives in a module of this package whose name ends in ``_cmd`` and that
exposes ``COMMANDS``, a list of click commands. ``COMMAND_MODULES`` says which module holds
which command, so that a command's module (and what it imports: moto, boto3, the engine)
is imported only when that command runs; a test checks the table against the modules.

Exit codes: 0 success; 1 the thing ran and failed (an execution failed, a definition is
invalid); 2 bad usage or bad input (click's own code for usage errors).
"""

from __future__ import annotations

import importlib
from typing import Any

import click

COMMAND_MODULES: dict[str, str] = {
    "build": "functions_cmd",
    "demo": "demo_cmd",
    "deploy": "deploy_cmd",
    "destroy": "deploy_cmd",
    "executions": "endpoint_cmd",
    "graph": "graph_cmd",
    "history": "endpoint_cmd",
    "init": "deploy_cmd",
    "invoke": "functions_cmd",
    "logs": "endpoint_cmd",
    "package": "deploy_cmd",
    "plan": "deploy_cmd",
    "run": "run_cmd",
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


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="stepkit")
def main() -> None:
    """stepkit: serverless ML workflows on your machine (Step Functions + Lambda, no Docker)."""
