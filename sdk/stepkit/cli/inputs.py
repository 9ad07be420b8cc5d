"""Reading JSON arguments given inline, as ``@file`` or as ``file://path`` (the aws CLI's form),
shared by the commands.

Every problem is a ``click.BadParameter`` (exit code 2) with a one-line reason: a file that
cannot be read, bytes that are not UTF-8 text (a binary file), text that is not JSON, JSON
nested deeper than Python's parser goes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

#: The aws CLI's prefix for "the value is in this file" (``--cli-input-json file://in.json``).
FILE_URL = "file://"


def argument_file(value: str) -> Path | None:
    """The file a ``@path`` or ``file://path`` argument names; ``None`` for an inline value."""
    if value.startswith("@"):
        return Path(value[1:])
    if value.startswith(FILE_URL):
        return Path(value[len(FILE_URL):])
    return None


def read_text_file(path: Path, what: str) -> str:
    """The UTF-8 text of ``path``; a binary or non-UTF-8 file is a usage error, not a traceback."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise click.BadParameter(f"cannot read {path}: {e.strerror or e}", param_hint=what) from None
    if b"\x00" in data:
        raise click.BadParameter(f"{path} is a binary file, not JSON text", param_hint=what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise click.BadParameter(
            f"{path} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})", param_hint=what
        ) from None


def parse_json_text(text: str, source: str, what: str) -> Any:
    """``text`` parsed as JSON (any JSON value: an object, a string, a number...)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:  # undecodable bytes on the command line arrive as surrogates
        raise click.BadParameter(f"{source} is not UTF-8 text (at character {e.start})", param_hint=what) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise click.BadParameter(
            f"invalid JSON in {source}: {e.msg} (line {e.lineno}, column {e.colno})", param_hint=what
        ) from None
    except RecursionError:
        raise click.BadParameter(f"invalid JSON in {source}: nested too deeply", param_hint=what) from None


def read_json_argument(value: str | None, what: str, default: Any = None) -> Any:
    """Parse ``value`` as JSON, or the JSON file it names with ``@path`` or ``file://path``.

    Raises ``click.BadParameter`` (exit code 2) naming the argument and the problem.
    """
    if value is None:
        return default
    path = argument_file(value)
    if path is None:
        return parse_json_text(value, "the command line", what)
    return parse_json_text(read_text_file(path, what), str(path), what)
