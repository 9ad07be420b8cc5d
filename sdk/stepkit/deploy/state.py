"""What a deploy created, per stage and target: ``.stepkit/deployments/<stage>.<target>.json``
(or ``<records_dir>/<stage>.<target>.json``, for a deploy to a throw-away endpoint whose
record belongs with the endpoint's own state rather than with the project).

A resource is recorded as ``pending`` (with its physical name) before it is created and as
``done`` (with its digest, its printable properties and what the API returned) after, and
the file is replaced atomically after each step. So a deploy killed half way leaves a record
of everything it may have created: the next deploy adopts those, and destroy deletes them,
and neither touches anything else. Secret values are never written (only a digest that
includes them, so a changed secret is still an update).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stepkit.deploy.errors import TargetError

FORMAT = 1
DEPLOYMENTS_DIR = Path(".stepkit") / "deployments"


@dataclass
class Recorded:
    key: str
    kind: str
    name: str
    status: str = "pending"
    digest: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class DeployState:
    path: Path
    stack: str
    stage: str
    target: str
    endpoint: str | None = None
    region: str | None = None
    account: str | None = None
    resources: dict[str, Recorded] = field(default_factory=dict)
    updated: str | None = None

    @classmethod
    def file_for(cls, root: Path, stage: str, target: str, records_dir: Path | None = None) -> Path:
        return (records_dir or root / DEPLOYMENTS_DIR) / f"{stage}.{target}.json"

    @classmethod
    def load(cls, root: Path, stack: str, stage: str, target: str, records_dir: Path | None = None) -> DeployState:
        path = cls.file_for(root, stage, target, records_dir)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path=path, stack=stack, stage=stage, target=target)
        except (OSError, ValueError) as exc:
            raise TargetError(f"{path}: the deploy record cannot be read ({exc}); fix or remove it") from exc
        if data.get("format") != FORMAT:
            raise TargetError(f"{path}: unknown deploy record format {data.get('format')!r}")
        resources = {k: Recorded(**v) for k, v in data.get("resources", {}).items()}
        return cls(path=path, stack=data.get("stack", stack), stage=stage, target=target,
                   endpoint=data.get("endpoint"), region=data.get("region"), account=data.get("account"),
                   resources=resources, updated=data.get("updated"))

    @property
    def exists(self) -> bool:
        return self.path.is_file()

    def save(self) -> None:
        self.updated = datetime.now(UTC).isoformat(timespec="seconds")
        document = {
            "format": FORMAT, "stack": self.stack, "stage": self.stage, "target": self.target,
            "endpoint": self.endpoint, "region": self.region, "account": self.account, "updated": self.updated,
            "resources": {k: asdict(v) for k, v in self.resources.items()},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".json.partial")
        with partial.open("w", encoding="utf-8") as out:
            json.dump(document, out, indent=2, sort_keys=False)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        partial.replace(self.path)

    def remove_if_empty(self) -> None:
        if not self.resources and self.path.exists():
            self.path.unlink()

    # --- steps ------------------------------------------------------------------------------

    def pending(self, key: str, kind: str, name: str) -> None:
        current = self.resources.get(key)
        if current is None or current.name != name:
            self.resources[key] = Recorded(key=key, kind=kind, name=name)
            self.save()

    def done(self, key: str, kind: str, name: str, digest: str, properties: dict[str, Any],
             outputs: dict[str, Any]) -> None:
        self.resources[key] = Recorded(key=key, kind=kind, name=name, status="done", digest=digest,
                                       properties=properties, outputs=outputs)
        self.save()

    def forget(self, key: str) -> None:
        if self.resources.pop(key, None) is not None:
            self.save()


@contextlib.contextmanager
def locked(root: Path, stage: str, target: str, records_dir: Path | None = None) -> Iterator[None]:
    """One deploy or destroy of a stage and target at a time on this machine."""
    path = DeployState.file_for(root, stage, target, records_dir).with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TargetError(f"another stepkit deploy or destroy of stage {stage} on {target} is running "
                              f"(lock {path}); wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
