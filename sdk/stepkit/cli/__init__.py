"""The ``stepkit`` command line.

Each sub-command lives in a module of this package whose name ends in ``_cmd`` and that
exposes ``COMMANDS``, a list of click commands. They are discovered here, so adding a
command never means editing this file.

Exit codes: 0 success; 1 the thing ran and failed (an execution failed, a definition is
invalid); 2 bad usage or bad input (click's own code for usage errors).
"""

from __future__ import annotations

import importlib
import pkgutil

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="stepkit")
def main() -> None:
    """stepkit: serverless ML workflows on your machine (Step Functions + Lambda, no Docker)."""


def _register_commands() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.endswith("_cmd"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            for command in module.COMMANDS:
                main.add_command(command)


_register_commands()
