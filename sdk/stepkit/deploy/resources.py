"""The base of what a stack deploys, as plain dataclasses: one per AWS resource, holding
every value deploy sets and nothing that needs the target to know (ARNs are computed from
names). Each kind's dataclass is in its provider (:mod:`stepkit.deploy.providers`).

The planner compares these with what was recorded; the executor turns them into API calls;
the CloudFormation writer turns them into a template. ``key`` is the stable identity of a
resource in the stack (``function:train``) and survives a change of physical name.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

MASK = "****"


@dataclass(frozen=True)
class Resource:
    kind: ClassVar[str] = ""
    #: Deploy creates kinds in this order and deletes in the reverse.
    order: ClassVar[int] = 0

    logical: str
    """The stack's own name for it: the key under its section, or a derived name."""
    name: str
    """The physical name on the target."""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.logical}"

    @property
    def depends_on(self) -> tuple[str, ...]:
        return ()

    def properties(self) -> dict[str, Any]:
        """Every value deploy sets: what is compared to decide an update."""
        skip = {"logical", "name", *self._not_compared()}
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name not in skip}

    def display(self) -> dict[str, Any]:
        """:meth:`properties` fit to print or record: secrets masked."""
        return self.properties()

    def digest(self) -> str:
        text = json.dumps({"name": self.name, **self.properties()}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def _not_compared(self) -> tuple[str, ...]:
        return ()


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
