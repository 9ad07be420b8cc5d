"""Reference paths: JSONPaths that name one node, used to place a value into a document.

``ResultPath`` (and the other places AWS calls a "reference path") must identify a single
node: only single names and indexes, no ``..``, ``*``, filters or slices. Parsing is
:mod:`stepkit.asl.jsonpath`'s; this module adds copy-on-write placement with AWS's
``States.ResultPathMatchFailure`` when the path cannot be applied.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from stepkit.asl.errors import RESULT_PATH_MATCH_FAILURE, StatesError
from stepkit.asl.java_json import java_json_dumps
from stepkit.asl.jsonpath import JSONPathSyntaxError, compile_path

__all__ = ["ReferencePath", "compile_reference_path"]


class ReferencePath:
    """A path that names one node, used to place a value into a document."""

    __slots__ = ("_segments", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        segments = compile_path(text).segments
        if segments is None:
            raise JSONPathSyntaxError(
                f"{text!r} is not a reference path: it must identify a single node "
                "(no '..', '*', filters, slices or lists of names or indexes)"
            )
        self._segments = segments

    def __repr__(self) -> str:
        return f"ReferencePath({self.text!r})"

    @property
    def segments(self) -> tuple[str | int, ...]:
        """The names and indexes from the root to the node, in order."""
        return self._segments

    def set(self, data: Any, value: Any) -> Any:
        """A new document: ``data`` with ``value`` at this path.

        Only the containers along the path are copied; ``data`` is never mutated.
        Missing objects on the way are created. Raises ``States.ResultPathMatchFailure``
        when the path runs into something that is not an object (or not a list with
        that index).
        """
        if not self._segments:
            return value
        try:
            return self._put(data, 0, value)
        except _NoPlace:
            raise StatesError(
                RESULT_PATH_MATCH_FAILURE,
                f"Unable to apply ReferencePath {self.text} to input {java_json_dumps(data)}",
            ) from None

    def _put(self, node: Any, depth: int, value: Any) -> Any:
        segment: Any = self._segments[depth]  # str or int, told apart by class (the hot path)
        last = depth == len(self._segments) - 1
        if segment.__class__ is str:
            if node.__class__ is not dict and not isinstance(node, Mapping):
                raise _NoPlace
            copy: Any = dict(node)
            if last:
                copy[segment] = value
            else:
                child = node.get(segment, _MISSING)
                copy[segment] = self._put({} if child is _MISSING else child, depth + 1, value)
            return copy
        if not isinstance(node, list):
            raise _NoPlace
        index = segment + len(node) if segment < 0 else segment
        if not 0 <= index < len(node):
            raise _NoPlace
        copy = list(node)
        copy[index] = value if last else self._put(node[index], depth + 1, value)
        return copy


class _NoPlace(Exception):
    """Internal: the reference path runs into a value it cannot be applied to."""


_MISSING = object()


@functools.lru_cache(maxsize=1024)
def compile_reference_path(text: str) -> ReferencePath:
    """Parse a reference path once; raise :class:`JSONPathSyntaxError` if not definite."""
    return ReferencePath(text)
