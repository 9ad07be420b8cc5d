"""A project's functions (``functions/`` + ``infra/stack.yaml``) as the Lambda backend of
local runs; worker processes start only when a Lambda task first needs them.

Given a :class:`~stepkit.local.LocalStack`, the functions get their environment as a deploy
of the stage resolves it, answer to their deployed names too (``<stack>-<stage>-train`` as
well as ``train``), and the ``worker_environment`` callable (where their AWS calls go) is
asked for when the first worker starts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from stepkit.engine.tasks import TaskInvocation
from stepkit.runtime.invoker import FunctionInvoker
from stepkit.runtime.results import InvokeResult
from stepkit.stack.project import Project

if TYPE_CHECKING:
    from stepkit.local import LocalStack


class _Aliased(FunctionInvoker):
    """A LambdaRuntime that also knows each function by another name (its deployed one)."""

    def __init__(self, runtime: FunctionInvoker, aliases: Mapping[str, str]) -> None:
        self.runtime = runtime
        self.aliases = aliases

    def invoke(
        self, name_or_arn: str, payload: bytes = b"", *, invocation_type: str = "RequestResponse",
        log_type: str | None = None, qualifier: str | None = None,
    ) -> InvokeResult:
        head, sep, name = name_or_arn.rpartition("function:")
        qualifier = ""
        if ":" in name:
            name, qualifier = name.split(":", 1)
            qualifier = ":" + qualifier
        if name in self.aliases:
            name_or_arn = f"{head}{sep}{self.aliases[name]}{qualifier}"
        return self.runtime.invoke(name_or_arn, payload, invocation_type=invocation_type, log_type=log_type,
                                   qualifier=qualifier)


class ProjectLambdaBackend:
    def __init__(self, project: Project, *, stack: LocalStack | None = None,
                 worker_environment: Callable[[], Mapping[str, str]] | None = None, **runtime_options: Any) -> None:
        self.project = project
        self.stack = stack
        self._worker_environment = worker_environment
        self._options = runtime_options
        self._integration: Any = None
        self._runtime: Any = None
        self._lock = threading.Lock()

    def function_names(self) -> list[str]:
        return [fn.name for fn in self.project.functions()]

    @property
    def runtime(self) -> Any:
        """The LambdaRuntime, started on first use."""
        with self._lock:
            if self._runtime is None:
                from stepkit.integrations.lambda_runtime import LambdaRuntimeIntegration
                from stepkit.runtime import LambdaRuntime

                options = dict(self._options)
                if self._worker_environment is not None:
                    options["env_overrides"] = {**options.get("env_overrides", {}), **self._worker_environment()}
                if self.stack is None:
                    self._runtime = LambdaRuntime.from_project(self.project, **options)
                    self._integration = LambdaRuntimeIntegration(self._runtime)
                else:
                    self.project.check_code_dirs()
                    options.setdefault("cache_dir", self.project.root / ".stepkit" / "site")
                    options.setdefault("region", self.stack.region)
                    self._runtime = LambdaRuntime(self.stack.function_configs(), **options)
                    self._integration = LambdaRuntimeIntegration(_Aliased(self._runtime, self.stack.aliases()))
            return self._runtime

    def __call__(self, invocation: TaskInvocation) -> Any:
        self.runtime  # noqa: B018 - starts the runtime on first use
        return self._integration(invocation)

    def close(self) -> None:
        with self._lock:
            if self._runtime is not None:
                self._runtime.close()
                self._runtime = None
