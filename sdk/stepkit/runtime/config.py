"""What the runtime needs to know about one function."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stepkit.stack.functions import HANDLER_PATTERN, Architecture
from stepkit.stack.model import FUNCTION_NAME
from stepkit.stack.project import Project, ProjectFunction


class FunctionConfig(BaseModel):
    """A function as the runtime runs it.

    Mirrors :class:`stepkit.stack.FunctionSettings` with the code folder resolved. ``timeout``
    accepts fractions of a second (Lambda takes whole seconds) so tests of the timeout
    path stay short.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(pattern=FUNCTION_NAME.pattern)]
    code_dir: Path
    handler: Annotated[str, Field(pattern=HANDLER_PATTERN)] = "app.handler"
    runtime: str = "python3.11"
    memory_size: Annotated[int, Field(ge=128, le=10240)] = 128
    timeout: Annotated[float, Field(gt=0, le=900)] = 3
    environment: dict[str, str] = Field(default_factory=dict)
    reserved_concurrency: Annotated[int, Field(ge=0)] | None = None
    architecture: Architecture = "x86_64"
    max_retry_attempts: Annotated[int, Field(ge=0, le=2)] = 2
    deps_dir: Path | None = None
    """A folder of already installed dependencies; when unset they come from ``requirements.txt``."""
    layer_dirs: tuple[Path, ...] = ()
    """The folders of the function's layers, in ``sys.path`` order (:func:`layer_site_dirs`), on
    ``sys.path`` after its own code and dependencies, as Lambda puts ``/opt/python`` there."""

    @field_validator("code_dir", "deps_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        # Workers run in the code folder, so a relative path would mean something else there.
        return value.resolve() if value is not None else None

    @field_validator("layer_dirs")
    @classmethod
    def _absolute_layers(cls, value: tuple[Path, ...]) -> tuple[Path, ...]:
        return tuple(path.resolve() for path in value)

    @classmethod
    def from_project(cls, function: ProjectFunction, layer_dirs: Sequence[Path] = ()) -> FunctionConfig:
        s = function.settings
        return cls(
            name=function.name,
            code_dir=function.code_dir,
            layer_dirs=tuple(layer_dirs),
            handler=s.handler,
            runtime=s.runtime,
            memory_size=s.memory_size,
            timeout=s.timeout,
            environment=dict(s.environment),
            reserved_concurrency=s.reserved_concurrency,
            architecture=s.architecture,
            max_retry_attempts=s.max_retry_attempts,
        )

    @classmethod
    def in_project(cls, project: Project, function: ProjectFunction) -> FunctionConfig:
        """``function`` with its layers' code folders, as ``project`` declares them and as Lambda
        merges them (:func:`layer_site_dirs`)."""
        layers = [layer.path for layer in project.layers_of(function)]
        return cls.from_project(function, layer_site_dirs(layers, function.settings.runtime))

    @property
    def requirements_file(self) -> Path | None:
        path = self.code_dir / "requirements.txt"
        return path if path.is_file() else None


def python_tag(runtime: str) -> str:
    """``python3.12`` for runtime ``python3.12``; the host's for anything else."""
    if re.fullmatch(r"python3\.\d+", runtime):
        return runtime
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def layer_site_dirs(layer_dirs: Sequence[str | Path], runtime: str) -> list[Path]:
    """Where Lambda's Python runtime finds the modules of layers extracted at ``layer_dirs``
    (in the function's order), only the folders that exist.

    Lambda merges a function's layers into one ``/opt`` in their order, a later layer's file
    replacing an earlier one's, and puts ``/opt/python/lib/pythonX.Y/site-packages`` before
    ``/opt/python`` on ``sys.path``. With a folder per layer that is: every layer's
    ``site-packages``, then every layer's ``python/``, the later layer first in each (a package
    split across layers is not merged: the later layer's copy of it is the one imported)."""
    found = []
    for sub in (f"python/lib/{python_tag(runtime)}/site-packages", "python"):
        for layer in reversed(layer_dirs):
            path = Path(layer) / sub
            if path.is_dir():
                found.append(path)
    return found
