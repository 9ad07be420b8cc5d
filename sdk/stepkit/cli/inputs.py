"""Reading JSON arguments given inline or as ``@file`` (shared by the commands)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


def read_json_argument(value: str | None, what: str, default: Any = None) -> Any:
    """Parse ``value`` as JSON, or the JSON file it names with a leading ``@``.

    Raises ``click.BadParameter`` (exit code 2) naming the argument and the problem.
    """
    if value is None:
        return default
    source = "the command line"
    text = value
    if value.startswith("@"):
        path = Path(value[1:])
        source = str(path)
        try:
            text = path.read_text()
        except OSError as e:
            raise click.BadParameter(f"cannot read {path}: {e.strerror}", param_hint=what) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise click.BadParameter(
            f"invalid JSON in {source}: {e.msg} (line {e.lineno}, column {e.colno})", param_hint=what
        ) from None
