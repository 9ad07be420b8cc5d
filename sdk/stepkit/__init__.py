"""stepkit: serverless ML workflows on your machine.

``stepkit.run(definition, input, ...)`` runs an Amazon States Language definition and
returns the finished ``Execution``; ``stepkit.StateMachine`` compiles once for many runs.
"""

from typing import Any

__all__ = ["Execution", "InvalidDefinition", "InvalidExecutionInput", "LocalRunError", "StateMachine", "run"]


def __getattr__(name: str) -> Any:
    # Imported lazily so that `import stepkit` (and the CLI's start-up) stays cheap.
    if name in ("run", "StateMachine", "InvalidDefinition", "InvalidExecutionInput"):
        from stepkit import runner

        return getattr(runner, name)
    if name == "LocalRunError":
        from stepkit.local import LocalRunError

        return LocalRunError
    if name == "Execution":
        from stepkit.engine.execution import Execution

        return Execution
    raise AttributeError(f"module 'stepkit' has no attribute {name!r}")
