"""State machines of a stack written in Python: ``state_machines: {x: {flow: "pipelines.training:training"}}``.

:func:`with_flows` turns a project whose stack names flows into one the deployer and the
local runner already understand, so nothing downstream knows flows exist:

- each flow is imported (``package.module`` with the project root first on ``sys.path``, or
  ``path/to/file.py`` relative to it), type checked, compiled, and written to
  ``.stepkit/build/flows/<machine>.asl.json`` (where :meth:`Project.state_machines` looks);
- each of its ``@flow.task`` functions is bundled under ``.stepkit/build/flows/functions/<task>/``
  and becomes a function of the stack (its memory, timeout, runtime and environment), so
  deploy packages and creates it, IAM lets the state machine invoke it, and a local run
  serves it from a worker like any function of ``functions/``;
- in the definition each task's ARN becomes ``${<Task>FunctionArn}``, which deploy fills in
  with the deployed function's ARN.

A source bundle carries the part of stepkit its module imports (``stepkit.flow`` and
``stepkit.asl``) and their requirements, so it runs on Lambda, where stepkit is not installed.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import math
import shutil
import sys
from pathlib import Path
from typing import Any

from stepkit.flow.builder import Workflow
from stepkit.flow.fields import replace_strings
from stepkit.flow.tasks import Task
from stepkit.stack.functions import FunctionSettings
from stepkit.stack.project import FLOWS_BUILD_DIR, Project
from stepkit.stack.references import camel
from stepkit.stack.resources import StateMachineSettings

#: What a source bundle needs of stepkit to import its module and run its handler.
VENDORED_PACKAGES = ("asl", "flow")
#: Their requirements, pinned to the versions this machine runs.
VENDORED_REQUIREMENTS = ("pydantic", "jsonata-python")


class FlowError(Exception):
    """A flow that cannot be used: ``problems`` say which and why (one line each)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def import_flow(root: Path, target: str) -> Workflow:
    """The Workflow ``target`` (``module:name`` or ``file.py:name``) names, imported from ``root``.

    Raises :class:`FlowError` (the module's own exception as the reason) or
    :class:`~stepkit.flow.typecheck.FlowTypeError` when a ``@flow.workflow`` does not type check.
    """
    from stepkit.flow.typecheck import FlowTypeError

    module_name, _, attribute = target.rpartition(":")
    try:
        if module_name.endswith(".py") or "/" in module_name:
            path = (root / module_name).resolve()
            if not path.is_file():
                raise FlowError([f"flow {target}: no such file: {path}"])
            spec = importlib.util.spec_from_file_location(path.stem, path)
            if spec is None or spec.loader is None:
                raise FlowError([f"flow {target}: cannot import {path}"])
            module = importlib.util.module_from_spec(spec)
            sys.modules[path.stem] = module  # a task bundled from source finds its module here
            spec.loader.exec_module(module)
        else:
            module = _import_fresh(root, module_name)
    except (FlowError, FlowTypeError):
        raise
    except Exception as exc:  # the user's module: whatever it raises is why the flow cannot be used
        raise FlowError([f"flow {target}: cannot import {module_name}: {type(exc).__name__}: {exc}"]) from None
    workflow = getattr(module, attribute, None)
    if not isinstance(workflow, Workflow):
        what = "nothing" if workflow is None else type(workflow).__name__
        raise FlowError([f"flow {target}: {module_name}:{attribute} is {what}, not a stepkit.flow.Workflow"])
    return workflow


def _import_fresh(root: Path, module_name: str) -> Any:
    """``module_name`` as the files under ``root`` have it now: a module (or parent package)
    imported before from elsewhere is dropped, one from ``root`` is reloaded (a process that
    deploys or runs twice, such as a test session, sees the edits in between)."""
    if str(root) in sys.path:  # first, ahead of another project's root put there before
        sys.path.remove(str(root))
    sys.path.insert(0, str(root))
    parts = module_name.split(".")
    for depth in range(1, len(parts) + 1):
        name = ".".join(parts[:depth])
        loaded = sys.modules.get(name)
        file = getattr(loaded, "__file__", None)
        if loaded is not None and not (file and Path(file).resolve().is_relative_to(root.resolve())):
            for stale in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
                del sys.modules[stale]
    loaded = sys.modules.get(module_name)
    return importlib.reload(loaded) if loaded is not None else importlib.import_module(module_name)


def with_flows(project: Project, extra: dict[str, str] | None = None) -> Project:
    """``project`` with every ``flow:`` state machine compiled and its tasks as functions.

    ``extra`` adds state machines (name -> ``module:name``) for this use only: ``stepkit run
    module:flow`` runs a flow as a state machine of the stack. Raises :class:`FlowError` or
    :class:`~stepkit.flow.typecheck.FlowTypeError`.
    """
    stack = project.stack
    machines = dict(stack.state_machines)
    for name, target in (extra or {}).items():
        base = machines.get(name)
        machines[name] = base.model_copy(update={"flow": target, "definition": ""}) if base is not None else \
            StateMachineSettings(flow=target)
    flows = {name: s for name, s in machines.items() if s.flow}
    if not flows:
        return project
    overridden = sorted(f"stages.{stage}.state_machines.{name}" for stage, o in stack.stages.items()
                        for name, sm in o.state_machines.items() if "flow" in sm or "definition" in sm)
    if overridden:
        raise FlowError([f"{place}: a stage cannot change a state machine's definition or flow"
                         for place in overridden])
    build = project.root / FLOWS_BUILD_DIR
    functions = dict(stack.functions)
    owner: dict[str, str] = {}
    for name, settings in flows.items():
        workflow = import_flow(project.root, settings.flow)
        from stepkit.flow.typecheck import require_types

        require_types(workflow, workflow.input_type)
        tasks = workflow.tasks()
        for task in tasks:
            if task.name in functions and owner.get(task.name) != settings.flow:
                raise FlowError([f"state_machines.{name}.flow: task {task.name!r} of {settings.flow} has the name "
                                 "of another function of the stack; name it with @flow.task(name=...)"])
            owner[task.name] = settings.flow
            functions[task.name] = _function_settings(task, build / "functions" / task.name)
        definition = _with_placeholders(workflow.to_asl(), tasks)
        build.mkdir(parents=True, exist_ok=True)
        (build / f"{name}.asl.json").write_text(json.dumps(definition, indent=2) + "\n", encoding="utf-8")
    compiled = stack.model_copy(update={"functions": functions, "state_machines": machines})
    return Project(root=project.root, stack=compiled, stack_path=project.stack_path)


def bundle_task(task: Task, folder: Path) -> str:
    """Write ``task``'s code folder for a stack (its bundle, plus stepkit's part for a source
    bundle); its handler."""
    if folder.exists():
        shutil.rmtree(folder)
    handler = task.bundle(folder).handler
    if task.bundle_kind == "source":
        package = Path(__file__).resolve().parents[1]
        (folder / "stepkit").mkdir()
        shutil.copyfile(package / "__init__.py", folder / "stepkit" / "__init__.py")
        for sub in VENDORED_PACKAGES:
            shutil.copytree(package / sub, folder / "stepkit" / sub,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        pins = [f"{dist}=={importlib.metadata.version(dist)}" for dist in VENDORED_REQUIREMENTS]
        requirements = folder / "requirements.txt"
        existing = requirements.read_text(encoding="utf-8").splitlines() if requirements.is_file() else []
        requirements.write_text("".join(f"{line}\n" for line in [*existing, *pins]), encoding="utf-8")
    return handler


def _function_settings(task: Task, folder: Path) -> FunctionSettings:
    handler = bundle_task(task, folder)
    return FunctionSettings.model_validate({
        "code": str(folder), "handler": handler, "runtime": task.runtime, "memory_size": task.memory,
        "timeout": math.ceil(task.timeout), "environment": dict(task.environment),
        "description": f"@flow.task {task.fn.__module__}.{task.fn.__qualname__}"})


def _with_placeholders(definition: dict[str, Any], tasks: list[Task]) -> dict[str, Any]:
    """The definition with each task's ARN replaced by ``${<Task>FunctionArn}``."""
    return replace_strings(definition, {task.arn(): "${" + camel(task.name) + "FunctionArn}" for task in tasks})
