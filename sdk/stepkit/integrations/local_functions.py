"""A project's functions (``functions/`` + ``infra/stack.yaml``) as the Lambda backend of
local runs; worker processes start only when a Lambda task first needs them."""

from __future__ import annotations

import threading
from typing import Any

from stepkit.integrations.registry import TaskInvocation
from stepkit.stack.project import Project


class ProjectLambdaBackend:
    def __init__(self, project: Project, **runtime_options: Any) -> None:
        self.project = project
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

                self._runtime = LambdaRuntime.from_project(self.project, **self._options)
                self._integration = LambdaRuntimeIntegration(self._runtime)
            return self._runtime

    def __call__(self, invocation: TaskInvocation) -> Any:
        self.runtime  # noqa: B018 - starts the runtime on first use
        return self._integration(invocation)

    def close(self) -> None:
        with self._lock:
            if self._runtime is not None:
                self._runtime.close()
                self._runtime = None
