"""A stepkit project on disk: its root, its stack file and its function folders.

A project root holds ``infra/stack.yaml`` and ``functions/<name>/``. A folder under
``functions/`` that the stack file does not mention is still a function, with defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from stepkit.stack.functions import FunctionSettings
from stepkit.stack.layers import LAYER_PYTHON_DIR, LayerSettings
from stepkit.stack.loader import StackError, load_stack
from stepkit.stack.model import FUNCTION_NAME, STACK_NAME, Stack
from stepkit.stack.resources import StateMachineSettings

STACK_FILE = Path("infra") / "stack.yaml"
FUNCTIONS_DIR = "functions"
#: Where the state machines of ``flow:`` entries are compiled to, and their tasks bundled.
FLOWS_BUILD_DIR = Path(".stepkit") / "build" / "flows"


@dataclass(frozen=True)
class ProjectFunction:
    name: str
    settings: FunctionSettings
    code_dir: Path


@dataclass(frozen=True)
class ProjectLayer:
    name: str
    settings: LayerSettings
    path: Path

    @property
    def python_dir(self) -> Path:
        """What a function of this layer imports from (``/opt/python`` on Lambda)."""
        return self.path / LAYER_PYTHON_DIR


@dataclass(frozen=True)
class ProjectStateMachine:
    name: str
    settings: StateMachineSettings
    definition_path: Path
    """The ASL file; for a ``flow:`` state machine, where :mod:`stepkit.flow.stack` compiles it to."""


@dataclass(frozen=True)
class Project:
    root: Path
    stack: Stack
    stack_path: Path | None

    @classmethod
    def load(cls, stack_path: Path | str) -> Project:
        """The project of a stack file: its root is the folder above ``infra/`` when the file
        sits in one, else the file's own folder."""
        stack_path = Path(stack_path).resolve()
        parent = stack_path.parent
        root = parent.parent if parent.name == "infra" else parent
        return cls(root=root, stack=load_stack(stack_path), stack_path=stack_path)

    @classmethod
    def discover(cls, start: Path | str | None = None) -> Project:
        """The nearest project at or above ``start`` (default: the working directory).

        Without any ``infra/stack.yaml`` above, ``start`` itself is the root and every
        folder of its ``functions/`` is a function with default settings.
        """
        here = Path(start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / STACK_FILE).is_file():
                return cls.load(folder / STACK_FILE)
        return cls(root=here, stack=Stack.model_validate({}), stack_path=None)

    def functions(self) -> list[ProjectFunction]:
        """Every function, declared or found under ``functions/``, sorted by name."""
        found: dict[str, ProjectFunction] = {}
        for name, settings in self.stack.functions.items():
            code = Path(settings.code) if settings.code else Path(FUNCTIONS_DIR) / name
            found[name] = ProjectFunction(name, settings, (self.root / code).resolve())
        folder = self.root / FUNCTIONS_DIR
        # A folder holding layers (functions/layers/model) is not a function.
        layer_paths = [layer.path for layer in self.layers()]
        if folder.is_dir():
            for child in folder.iterdir():
                name = child.name
                if any(path == child.resolve() or child.resolve() in path.parents for path in layer_paths):
                    continue
                if (child.is_dir() and FUNCTION_NAME.match(name) and name not in found and name[0] != "_"
                        and name not in self.stack.disabled_functions):
                    found[name] = ProjectFunction(name, FunctionSettings(), child.resolve())
        return [found[name] for name in sorted(found)]

    def layers(self) -> list[ProjectLayer]:
        """Every declared layer, in the stack file's order."""
        return [ProjectLayer(name, settings, (self.root / settings.path).resolve())
                for name, settings in self.stack.layers.items()]

    def layers_of(self, function: ProjectFunction) -> list[ProjectLayer]:
        """The layers ``function`` uses, in its order (the order of ``sys.path``)."""
        by_name = {layer.name: layer for layer in self.layers()}
        return [by_name[name] for name in function.settings.layers if name in by_name]

    def state_machines(self) -> list[ProjectStateMachine]:
        """The state machines to deploy: those not ``enabled: false``."""
        return [ProjectStateMachine(name, settings, (self.root / (settings.definition or FLOWS_BUILD_DIR /
                                                                   f"{name}.asl.json")).resolve())
                for name, settings in self.stack.state_machines.items() if settings.enabled]

    @property
    def flows(self) -> dict[str, str]:
        """State machine -> the Python workflow (``module:name``) it is compiled from."""
        return {name: s.flow for name, s in self.stack.state_machines.items() if s.flow}

    @property
    def name(self) -> str:
        """The stack's name: ``name:`` of the stack file, else the project folder's name made
        lowercase with '-' for anything else (``My_Project`` -> ``my-project``)."""
        if self.stack.name:
            return self.stack.name
        cleaned = re.sub(r"[^a-z0-9]+", "-", self.root.name.lower()).strip("-")[:24].strip("-")
        if not cleaned or not cleaned[0].isalpha():
            cleaned = f"stack-{cleaned}"[:24].strip("-")
        return cleaned if STACK_NAME.match(cleaned) else "stepkit"

    def for_stage(self, stage: str) -> Project:
        """The project as ``stage`` sees it (its overrides merged into the stack)."""
        return Project(root=self.root, stack=self.stack.for_stage(stage), stack_path=self.stack_path)

    def function(self, name: str) -> ProjectFunction:
        for fn in self.functions():
            if fn.name == name:
                return fn
        raise KeyError(name)

    def check_code_dirs(self) -> None:
        """Raise :class:`StackError` for a declared function whose folder does not exist, or a
        layer without its ``python/`` folder."""
        missing: list[tuple[int | None, str, str]] = [
            (None, f"functions.{fn.name}.code", f"folder {fn.code_dir} does not exist")
            for fn in self.functions()
            if not fn.code_dir.is_dir()
        ]
        missing += [
            (None, f"layers.{layer.name}.path", f"folder {layer.python_dir} does not exist (a layer's code "
             f"is under {LAYER_PYTHON_DIR}/, as Lambda extracts it to /opt/{LAYER_PYTHON_DIR})")
            for layer in self.layers()
            if not layer.python_dir.is_dir()
        ]
        if missing:
            raise StackError(self.stack_path or self.root, missing)
