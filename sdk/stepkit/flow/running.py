"""Running a built workflow: its tasks bundled and served by the local Lambda runtime."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stepkit.integrations.lambda_runtime import LambdaRuntimeIntegration
from stepkit.integrations.registry import IntegrationRegistry
from stepkit.runner import StateMachine
from stepkit.runtime import LambdaRuntime

if TYPE_CHECKING:
    from stepkit.engine.execution import Execution
    from stepkit.flow.builder import Workflow


def run_workflow(workflow: Workflow, input: Any = None, *, name: str = "StateMachine", **options: Any) -> Execution:
    """One execution of ``workflow``; the runtime's workers are stopped when it ends.

    Raises :class:`~stepkit.flow.typecheck.FlowTypeError` before anything runs when the
    data cannot satisfy a typed task's input."""
    from stepkit.flow.typecheck import require_types

    require_types(workflow, workflow.input_type)
    with tempfile.TemporaryDirectory(prefix="stepkit-flow-") as folder:
        configs = [task.bundle(Path(folder, task.name)) for task in workflow.tasks()]
        with LambdaRuntime(configs) as runtime:
            registry = IntegrationRegistry()
            registry.set_lambda_backend(LambdaRuntimeIntegration(runtime))
            machine = StateMachine(workflow.to_asl(), name=name, registry=registry)
            return machine.run(input, **options)
