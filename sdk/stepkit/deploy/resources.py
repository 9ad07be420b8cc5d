"""What a stack deploys, as plain dataclasses: one per AWS resource, holding every value
deploy sets and nothing that needs the target to know (ARNs are computed from names).

The planner compares these with what was recorded; the executor turns them into API calls;
the CloudFormation writer turns them into a template. ``key`` is the stable identity of a
resource in the stack (``function:train``) and survives a change of physical name.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
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


@dataclass(frozen=True)
class Function(Resource):
    kind: ClassVar[str] = "function"
    order: ClassVar[int] = 50

    role: str = ""
    """Physical name of its role."""
    role_arn: str = ""
    handler: str = "app.handler"
    runtime: str = "python3.11"
    memory_size: int = 128
    timeout: int = 3
    environment: dict[str, str] = field(default_factory=dict)
    secret_keys: frozenset[str] = frozenset()
    """Environment variables whose values are secrets: never printed nor recorded."""
    reserved_concurrency: int | None = None
    architecture: str = "x86_64"
    description: str = ""
    code_dir: Path = Path()
    code_digest: str = ""
    """The bundle's digest (sources, requirements, platform): a new digest means new code."""
    log_group: str = ""

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (f"role:function-{self.logical}", f"log_group:function-{self.logical}")

    def _not_compared(self) -> tuple[str, ...]:
        return ("code_dir", "secret_keys", "log_group")

    def display(self) -> dict[str, Any]:
        out = self.properties()
        out["environment"] = {k: (MASK if k in self.secret_keys else v) for k, v in self.environment.items()}
        out["code_digest"] = self.code_digest[:12]
        return out


KINDS: dict[str, type[Resource]] = {
    cls.kind: cls
    for cls in (Function,)
}
