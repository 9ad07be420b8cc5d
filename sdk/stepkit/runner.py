"""The library entry points: ``stepkit.run`` and ``StateMachine``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from stepkit.engine.callbacks import TaskTokens
from stepkit.engine.clock import Clock, VirtualClock
from stepkit.engine.compiler import Program, compile_definition
from stepkit.engine.execution import EventListener, Execution, ExecutionRun
from stepkit.engine.states import MAX_PAYLOAD_BYTES, payload_size
from stepkit.integrations.mock_config import MockConfig, MockedTasks
from stepkit.integrations.registry import IntegrationRegistry


class InvalidDefinition(ValueError):
    """The definition does not validate; ``diagnostics`` lists every problem with its place."""

    def __init__(self, message: str, diagnostics: list) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics


class InvalidExecutionInput(ValueError):
    """The execution input is not acceptable (AWS: InvalidExecutionInput)."""


def load_definition(definition: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """A definition from a dict, JSON text, or a path to a JSON file."""
    if isinstance(definition, Mapping):
        return dict(definition)
    if isinstance(definition, Path):
        definition = definition.read_text()
    elif not isinstance(definition, str):
        raise InvalidDefinition(f"a definition is a JSON object, not {type(definition).__name__}", [])
    loaded = json.loads(definition)
    if not isinstance(loaded, dict):
        raise InvalidDefinition("the definition must be a JSON object", [])
    return loaded


def check_definition(definition: dict[str, Any]) -> None:
    """Raise InvalidDefinition (with AWS's message) when the definition has errors."""
    from stepkit.asl.validation import invalid_definition_message, validate_definition

    problems = [d for d in validate_definition(definition) if d.severity == "ERROR"]
    if problems:
        raise InvalidDefinition(invalid_definition_message(problems), problems)


class StateMachine:
    """A definition validated and compiled once, to run many executions.

    ``functions`` maps Lambda function names (or ARNs) to Python callables that stand in
    for them; ``registry`` gives full control over Task resources.
    """

    def __init__(
        self,
        definition: str | Path | Mapping[str, Any],
        *,
        name: str = "StateMachine",
        region: str = "us-east-1",
        account_id: str = "123456789012",
        functions: Mapping[str, Callable[[Any], Any]] | None = None,
        registry: IntegrationRegistry | None = None,
        validate: bool = True,
        type: str = "STANDARD",
        tokens: TaskTokens | None = None,
        role_arn: str | None = None,
    ) -> None:
        if type not in ("STANDARD", "EXPRESS"):
            raise ValueError(f"a state machine's type is STANDARD or EXPRESS, not {type!r}")
        self.type = type
        self.definition = load_definition(definition)
        if validate:
            check_definition(self.definition)
        self.name = name
        self.arn = f"arn:aws:states:{region}:{account_id}:stateMachine:{name}"
        self.program: Program = compile_definition(self.definition, region)
        self.registry = registry or IntegrationRegistry()
        for fn_name, fn in (functions or {}).items():
            self.registry.register_function(fn_name, fn)
        self.tokens = tokens or TaskTokens()
        self.role_arn = role_arn or f"arn:aws:iam::{account_id}:role/stepkit-{name}"

    def prepare(
        self,
        input: Any = None,
        *,
        name: str | None = None,
        mock_config: MockConfig | dict | str | Path | None = None,
        test_case: str | None = None,
        clock: Clock | None = None,
        skip_waits: bool = False,
        listener: EventListener | None = None,
        unlimited_history: bool = False,
        execution_arn: str | None = None,
        redrive_count: int = 0,
        keep_history: bool = True,
        retain_child_histories: bool = True,
    ) -> ExecutionRun:
        """An execution ready to ``start()`` (or to be started on another thread).

        Raises ``InvalidExecutionInput`` for input over Step Functions' 256 KiB limit (as
        StartExecution refuses it) and ValueError for a bad mock config. A STANDARD execution
        fails at AWS's 25,000-event history quota unless ``unlimited_history`` is true.
        ``execution_arn``, ``redrive_count``, ``keep_history`` and ``retain_child_histories``
        go to ``ExecutionRun``.
        """
        size = payload_size(input)
        if size > MAX_PAYLOAD_BYTES:
            raise InvalidExecutionInput(
                f"The execution input is {size} bytes, over the maximum of {MAX_PAYLOAD_BYTES} bytes."
            )
        mocks = None
        if mock_config is not None:
            config = mock_config if isinstance(mock_config, MockConfig) else MockConfig.load(mock_config)
            if test_case is None:
                raise ValueError("a mock config needs a test case name")
            mocks = MockedTasks(config, test_case, self.name)
        return ExecutionRun(
            self.program,
            input={} if input is None else input,
            name=name or str(uuid.uuid4()),
            state_machine_arn=self.arn,
            registry=self.registry,
            clock=clock or (VirtualClock() if skip_waits else Clock()),
            tokens=self.tokens,
            mocks=mocks,
            listener=listener,
            express=self.type == "EXPRESS",
            role_arn=self.role_arn,
            unlimited_history=unlimited_history,
            execution_arn=execution_arn,
            redrive_count=redrive_count,
            keep_history=keep_history,
            retain_child_histories=retain_child_histories,
        )

    def run(self, input: Any = None, **options: Any) -> Execution:
        """Run one execution to its end and return it (status, output, error, history)."""
        return self.prepare(input, **options).start()


def run(
    definition: str | Path | Mapping[str, Any],
    input: Any = None,
    *,
    mock_config: MockConfig | dict | str | Path | None = None,
    test_case: str | None = None,
    functions: Mapping[str, Callable[[Any], Any]] | None = None,
    registry: IntegrationRegistry | None = None,
    name: str | None = None,
    state_machine_name: str | None = None,
    state_machine_type: str | None = None,
    skip_waits: bool = False,
    clock: Clock | None = None,
    listener: EventListener | None = None,
    validate: bool = True,
    substitutions: Mapping[str, str] | None = None,
    project: Any = None,
    stage: str = "dev",
    endpoint_url: str | None = None,
    env_vars: Any = None,
    unlimited_history: bool = False,
) -> Execution:
    """Run ``definition`` once on ``input`` and return the finished execution.

    ``substitutions`` fills ``${Name}`` placeholders of the definition's text (AWS's definition
    substitutions). ``project`` (a folder, its ``infra/stack.yaml``, or a
    :class:`~stepkit.stack.Project`) runs the project's functions for Lambda tasks, in local
    worker processes stopped when the run ends, and fills in the stack's own ``${Name}`` values
    as a deploy of ``stage`` would (``${TrainFunctionArn}``, ``${ArtifactsBucket}``...; given
    ``substitutions`` win); ``definition`` may then be the name of one of the stack's state
    machines. The functions' AWS calls go to ``endpoint_url``, else to a local endpoint
    started for the run (:mod:`stepkit.local`); ``env_vars`` is SAM's ``--env-vars`` content
    or file. Raises InvalidDefinition for a placeholder with no value.

    As on AWS, a STANDARD execution fails (States.Runtime) when its history reaches 25,000
    events and an EXPRESS one has no such quota; ``unlimited_history=True`` lifts the quota
    for a local run.
    """
    import contextlib

    from stepkit.asl.substitutions import UnresolvedSubstitution
    from stepkit.local import ProjectSession, substituted

    with contextlib.ExitStack() as resources:
        stack_name, stack_type = "", "STANDARD"
        try:
            if project is not None or endpoint_url is not None or env_vars is not None:
                session = resources.enter_context(
                    ProjectSession(project, stage=stage, endpoint_url=endpoint_url, env_vars=env_vars))
                definition, stack_name, stack_type = session.definition(definition, substitutions)
                registry = session.registry(registry)
            elif substitutions:
                definition = substituted(definition, substitutions)
        except UnresolvedSubstitution as e:
            raise InvalidDefinition(str(e), []) from None
        machine = StateMachine(definition, name=state_machine_name or stack_name or "StateMachine",
                               functions=functions, registry=registry, validate=validate,
                               type=state_machine_type or stack_type)
        return machine.run(input, name=name, mock_config=mock_config, test_case=test_case, skip_waits=skip_waits,
                           clock=clock, listener=listener, unlimited_history=unlimited_history)
