"""Reading ``infra/stack.yaml`` into a :class:`~stepkit.stack.model.Stack`, with located errors.

PyYAML's node tree keeps each key's line, so a pydantic error's location
(``functions.train.memory_size``) is turned back into ``infra/stack.yaml:7``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from stepkit.stack.model import Stack

Location = tuple[str, ...]


class StackError(Exception):
    """The stack file cannot be read; ``problems`` are ``(line, field, message)`` triples."""

    def __init__(self, path: Path | str, problems: list[tuple[int | None, str, str]]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__("\n".join(self._format(p) for p in problems))

    def _format(self, problem: tuple[int | None, str, str]) -> str:
        line, field, message = problem
        where = f"{self.path}:{line}" if line else self.path
        return f"{where}: {field}: {message}" if field else f"{where}: {message}"


def load_stack(path: Path | str) -> Stack:
    """Read and validate a stack file; raises :class:`StackError` naming file, line and field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StackError(path, [(None, "", f"cannot read: {exc.strerror or exc}")]) from exc
    return parse_stack(text, path)


def parse_stack(text: str, path: Path | str = "stack.yaml") -> Stack:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise StackError(path, [(line, "", f"not valid YAML: {problem}")]) from exc
    if node is None:
        return Stack.model_validate({})
    lines: dict[Location, int] = {}
    duplicates = list(_index_lines(node, (), lines))
    if duplicates:
        raise StackError(path, [(line, ".".join(loc), "duplicate key") for loc, line in duplicates])
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise StackError(path, [(node.start_mark.line + 1, "", "the stack file must be a mapping")])
    try:
        stack = Stack.model_validate(data)
    except ValidationError as exc:
        raise StackError(path, [_locate(err, lines) for err in exc.errors()]) from exc
    problems = [_located(loc, message, lines) for loc, message in stack.reference_problems()]
    for stage in stack.stages:
        problems.extend(_stage_problems(stack, stage, lines))
    if problems:
        raise StackError(path, list(dict.fromkeys(problems)))
    return stack


def _located(loc: Location, message: str, lines: dict[Location, int]) -> tuple[int | None, str, str]:
    line = None
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            line = lines[loc[:end]]
            break
    return line, ".".join(loc), message


def _stage_problems(stack: Stack, stage: str, lines: dict[Location, int]) -> list[tuple[int | None, str, str]]:
    """Problems of the stack as ``stage`` makes it, located at the stage's override when it set
    the field, else at the base field."""
    overridden = stack.stage_override_locations(stage)

    def where(loc: Location) -> Location:
        for end in range(len(loc), 0, -1):
            if loc[:end] in overridden:
                return ("stages", stage, *loc)
        return loc

    try:
        staged = stack.merged_for_stage(stage)
    except ValidationError as exc:
        out = []
        for err in exc.errors():
            loc = tuple(str(part) for part in err["loc"])
            line, _, message = _locate({**err, "loc": where(loc)}, lines)
            out.append((line, ".".join(where(loc)), message))
        return out
    return [_located(where(loc), message, lines) for loc, message in staged.reference_problems()
            if where(loc)[0] == "stages"]


def _index_lines(
    node: yaml.Node, loc: Location, lines: dict[Location, int]
) -> Iterator[tuple[Location, int]]:
    """Record the line of every key and item under ``node``; yield duplicate keys."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key_loc = (*loc, str(key_node.value))
            line = key_node.start_mark.line + 1
            if key_loc in lines:
                yield key_loc, line
            lines[key_loc] = line
            yield from _index_lines(value_node, key_loc, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            item_loc = (*loc, str(index))
            lines[item_loc] = item.start_mark.line + 1
            yield from _index_lines(item, item_loc, lines)


def _locate(error: Any, lines: dict[Location, int]) -> tuple[int | None, str, str]:
    loc = tuple(str(part) for part in error["loc"])
    line = None
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            line = lines[loc[:end]]
            break
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif "input" in error and error["type"] not in ("missing",) and not isinstance(error["input"], dict):
        message = f"{message} (got {error['input']!r})"
    return line, ".".join(loc), message
