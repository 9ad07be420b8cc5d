"""Tasks in Python: ``@task`` turns a function into a Lambda function that a workflow calls.

>>> @task(memory=512, timeout=60, retry=retry(["States.TaskFailed"], max_attempts=2))
... def train(event: TrainInput) -> TrainOutput: ...

A task's body is bundled as a Lambda function's code folder (:meth:`Task.bundle`):

- ``bundle="source"`` (the default, and what a deploy wants): the file of the function's
  module, imported by a two-line handler. The module must be importable on its own (its
  other imports come from ``requirements`` or the platform).
- ``bundle="pickle"``: the function pickled by value with cloudpickle, for functions
  defined in a notebook, a script's ``__main__`` or a closure. A pickle only loads on the
  Python version that wrote it, so bundling checks the task's ``runtime`` against this
  interpreter, and the handler checks again where it loads.

Inputs and outputs typed with pydantic models are validated on the way in (the event
becomes the model) and dumped as JSON on the way out.
"""

from __future__ import annotations

import inspect
import json
import shutil
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

if TYPE_CHECKING:
    from stepkit.runtime.config import FunctionConfig

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
HANDLER_MODULE = "stepkit_task"
PICKLE_FILE = "task.pkl"
META_FILE = "task.json"

BundleKind = Literal["source", "pickle"]


class TaskBundleError(Exception):
    """A task that cannot be bundled as asked (with what to do instead)."""


def this_python() -> str:
    """This interpreter as a Lambda runtime name (``python3.11``)."""
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


class Task:
    """A Python function that runs as a Lambda function; calling it calls the function."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        memory: int = 128,
        timeout: float = 3,
        requirements: list[str] | tuple[str, ...] = (),
        retry: list[dict[str, Any]] | dict[str, Any] | None = None,
        bundle: BundleKind = "source",
        runtime: str = "python3.11",
        environment: dict[str, str] | None = None,
    ) -> None:
        if bundle not in ("source", "pickle"):
            raise ValueError(f"bundle is 'source' or 'pickle', not {bundle!r}")
        self.fn = fn
        self.name = name or fn.__name__.replace("_", "-")
        self.memory = memory
        self.timeout = timeout
        self.requirements = list(requirements)
        self.retry = [retry] if isinstance(retry, dict) else list(retry or [])
        self.bundle_kind: BundleKind = bundle
        self.runtime = runtime
        self.environment = dict(environment or {})
        self.input_type, self.output_type = _model_types(fn)
        # Validates name, memory and timeout now, where the decorator is, not at run time. In a
        # deployed bundle, which carries only stepkit's flow part, it was validated when bundled.
        try:
            from stepkit.runtime.config import FunctionConfig
        except ModuleNotFoundError:
            pass
        else:
            FunctionConfig(name=self.name, code_dir=Path("."), memory_size=memory, timeout=timeout, runtime=runtime)
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<task {self.name} ({self.fn.__module__}.{self.fn.__qualname__})>"

    def arn(self, region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT) -> str:
        """The function's ARN, the Resource of a Task state that calls it."""
        return f"arn:aws:lambda:{region}:{account_id}:function:{self.name}"

    def lambda_handler(self, event: Any, context: Any = None) -> Any:
        """What the Lambda handler does: typed input in, the body, JSON out."""
        if self.input_type is not None:
            event = self.input_type.model_validate(event)
        takes_context = len(inspect.signature(self.fn).parameters) >= 2
        result = self.fn(event, context) if takes_context else self.fn(event)
        if isinstance(result, BaseModel):
            return result.model_dump(mode="json")
        return result

    def bundle(self, folder: Path) -> FunctionConfig:
        """Write the function's code folder into ``folder`` and return how to run it."""
        from stepkit.runtime.config import FunctionConfig

        folder.mkdir(parents=True, exist_ok=True)
        if self.bundle_kind == "pickle":
            self._bundle_pickle(folder)
        else:
            self._bundle_source(folder)
        if self.requirements:
            (folder / "requirements.txt").write_text("".join(f"{line}\n" for line in self.requirements))
        return FunctionConfig(
            name=self.name,
            code_dir=folder,
            handler=f"{HANDLER_MODULE}.handler",
            runtime=self.runtime,
            memory_size=self.memory,
            timeout=self.timeout,
            environment=self.environment,
        )

    def _bundle_source(self, folder: Path) -> None:
        module = sys.modules.get(self.fn.__module__)
        path = getattr(module, "__file__", None)
        qualname = self.fn.__qualname__
        if module is None or path is None or self.fn.__module__ == "__main__" or "<locals>" in qualname:
            raise TaskBundleError(
                f"task {self.name!r}: {self.fn.__module__}.{qualname} has no module file to bundle "
                "(a notebook, a script's __main__ or a closure); use @task(bundle='pickle')"
            )
        module_name = self.fn.__module__.rsplit(".", 1)[-1]
        shutil.copyfile(path, folder / f"{module_name}.py")
        attribute = _attribute_name(module, self)
        (folder / f"{HANDLER_MODULE}.py").write_text(
            "from stepkit.flow.handler import source_handler\n\n"
            f"handler = source_handler({module_name!r}, {attribute!r})\n"
        )

    def _bundle_pickle(self, folder: Path) -> None:
        if self.runtime != this_python():
            raise TaskBundleError(
                f"task {self.name!r}: a cloudpickle bundle only loads on the Python that wrote it; this is "
                f"{this_python()} and the task's runtime is {self.runtime}. Bundle it from {self.runtime}, "
                "or use bundle='source'"
            )
        try:
            import cloudpickle
        except ModuleNotFoundError:
            raise TaskBundleError("bundle='pickle' needs cloudpickle: pip install 'stepkit[flow]'") from None
        module = sys.modules.get(self.fn.__module__)
        by_value = module is not None and self.fn.__module__ not in ("__main__",) and hasattr(module, "__file__")
        if by_value:
            cloudpickle.register_pickle_by_value(module)
        try:
            (folder / PICKLE_FILE).write_bytes(cloudpickle.dumps(self))
        finally:
            if by_value:
                cloudpickle.unregister_pickle_by_value(module)
        (folder / META_FILE).write_text(json.dumps({"python": this_python(), "task": self.name}))
        (folder / f"{HANDLER_MODULE}.py").write_text(
            "from stepkit.flow.handler import pickle_handler\n\nhandler = pickle_handler(__file__)\n"
        )


def _attribute_name(module: Any, task_: Task) -> str:
    for name, value in vars(module).items():
        if value is task_:
            return name
    raise TaskBundleError(
        f"task {task_.name!r} is not a module-level name of {module.__name__}; use @task(bundle='pickle')"
    )


def _model_types(fn: Callable[..., Any]) -> tuple[type[BaseModel] | None, type[BaseModel] | None]:
    """The pydantic models the function's first parameter and return are annotated with."""
    try:
        hints = typing.get_type_hints(fn)
    except (NameError, TypeError):
        return None, None
    parameters = list(inspect.signature(fn).parameters)
    first = hints.get(parameters[0]) if parameters else None

    def model_or_none(hint: Any) -> type[BaseModel] | None:
        return hint if isinstance(hint, type) and issubclass(hint, BaseModel) else None

    return model_or_none(first), model_or_none(hints.get("return"))


def task(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    memory: int = 128,
    timeout: float = 3,
    requirements: list[str] | tuple[str, ...] = (),
    retry: list[dict[str, Any]] | dict[str, Any] | None = None,
    bundle: BundleKind = "source",
    runtime: str = "python3.11",
    environment: dict[str, str] | None = None,
) -> Any:
    """Decorate a function as a Lambda task (``@task`` or ``@task(memory=512, ...)``).

    ``retry`` (``flow.retry(...)`` entries) becomes the Retry of every Task state calling it.
    """
    options: dict[str, Any] = dict(name=name, memory=memory, timeout=timeout, requirements=requirements, retry=retry,
                   bundle=bundle, runtime=runtime, environment=environment)
    if fn is not None:
        return Task(fn, **options)
    return lambda function: Task(function, **options)
