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


@dataclass(frozen=True)
class StateMachine(Resource):
    kind: ClassVar[str] = "state_machine"
    order: ClassVar[int] = 60

    type: str = "STANDARD"
    role: str = ""
    role_arn: str = ""
    definition: str = ""
    """The definition with every substitution made: what Step Functions gets."""
    source: str = ""
    """The definition as written (placeholders kept), for the CloudFormation template."""
    substitutions: dict[str, str] = field(default_factory=dict)
    log_group: str | None = None
    log_level: str = "OFF"
    include_execution_data: bool = False
    tracing: bool = False
    functions: tuple[str, ...] = ()
    """Logical names of the functions the definition invokes (deploy order)."""

    @property
    def depends_on(self) -> tuple[str, ...]:
        deps = [f"role:state_machine-{self.logical}", *(f"function:{f}" for f in self.functions)]
        if self.log_group:
            deps.append(f"log_group:state_machine-{self.logical}")
        return tuple(deps)

    def _not_compared(self) -> tuple[str, ...]:
        return ("source", "substitutions", "functions")

    def display(self) -> dict[str, Any]:
        out = self.properties()
        out["definition"] = f"{len(self.definition)} characters, sha256 {_sha(self.definition)[:12]}"
        return out


@dataclass(frozen=True)
class StateMachineAlias(Resource):
    """A state machine's alias, moved to a version published from the machine as deployed.
    ``name`` is ``<machine name>:<alias>``; ``revision`` (the machine's digest) changes with
    the machine, so every change of the machine publishes a version and moves the alias."""

    kind: ClassVar[str] = "state_machine_alias"
    order: ClassVar[int] = 65

    state_machine: str = ""
    """The logical name of the state machine."""
    machine_name: str = ""
    alias: str = ""
    description: str = ""
    canary_percentage: int | None = None
    canary_interval_minutes: int = 10
    revision: str = ""

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (f"state_machine:{self.state_machine}",)

    def _not_compared(self) -> tuple[str, ...]:
        return ("canary_interval_minutes",)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


KINDS: dict[str, type[Resource]] = {
    cls.kind: cls
    for cls in (Function, StateMachine,
                StateMachineAlias)
}
