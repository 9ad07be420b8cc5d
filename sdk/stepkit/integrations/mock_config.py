"""Step Functions Local's MockConfigFile: replay recorded task results per test case.

Format (AWS's): ``{"StateMachines": {SM: {"TestCases": {CASE: {STATE: MOCK}}}},
"MockedResponses": {MOCK: {"0": {"Return": ...}, "1-2": {"Throw": {"Error", "Cause"}}}}}``.
Responses are consumed in invocation order; a range key repeats one response.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from stepkit.asl.errors import StatesError
from stepkit.engine.tasks import Integration, TaskInvocation, TaskResolver, TaskResource


class MockThrow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    Error: str
    Cause: str | None = None


class MockResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")
    Return: Any = None
    Throw: MockThrow | None = None

    @model_validator(mode="after")
    def _one_of(self) -> MockResponse:
        has_return = "Return" in self.model_fields_set
        if has_return == (self.Throw is not None):
            raise ValueError("a mocked response has exactly one of Return or Throw")
        return self


class MockStateMachine(BaseModel):
    model_config = ConfigDict(extra="allow")
    TestCases: dict[str, dict[str, str]] = Field(default_factory=dict)


class MockConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    StateMachines: dict[str, MockStateMachine] = Field(default_factory=dict)
    MockedResponses: dict[str, dict[str, MockResponse]] = Field(default_factory=dict)

    @classmethod
    def load(cls, source: str | Path | dict) -> MockConfig:
        """From a dict or a JSON file; raises ValueError naming the file and the field."""
        where = "mock config"
        if not isinstance(source, dict):
            where = str(source)
            try:
                source = json.loads(Path(source).read_text())
            except (OSError, ValueError) as e:
                raise ValueError(f"{where}: cannot read mock config: {e}") from None
        try:
            return cls.model_validate(source)
        except ValidationError as e:
            problems = "; ".join(
                f"{'/'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
            )
            raise ValueError(f"{where}: invalid mock config: {problems}") from None

    def test_case(self, test_case: str, state_machine: str | None = None) -> dict[str, str]:
        """The state -> mock mapping of a test case (searched in every state machine
        when none is named)."""
        machines = (
            {state_machine: self.StateMachines[state_machine]}
            if state_machine is not None and state_machine in self.StateMachines
            else self.StateMachines
        )
        for machine in machines.values():
            if test_case in machine.TestCases:
                return machine.TestCases[test_case]
        raise ValueError(f"test case {test_case!r} is not in the mock config")

    def responses(self, mock_name: str) -> list[MockResponse]:
        """The mock's responses in invocation order, ranges expanded."""
        entries = self.MockedResponses.get(mock_name)
        if entries is None:
            raise ValueError(f"mocked response {mock_name!r} is not in MockedResponses")
        ordered: list[tuple[int, MockResponse]] = []
        for key, response in entries.items():
            first, _, last = key.partition("-")
            try:
                lo, hi = int(first), int(last or first)
            except ValueError:
                raise ValueError(f"mocked response {mock_name!r}: bad invocation key {key!r}") from None
            ordered.extend((i, response) for i in range(lo, hi + 1))
        ordered.sort(key=lambda p: p[0])
        return [r for _, r in ordered]


class MockedTasks:
    """The mocks of one test case for one execution: state name -> next response.

    It is the execution's ``TaskResolver``: a mocked state is answered by its mock, any
    other Task by ``fallback`` (the integration registry), which also makes the clients."""

    def __init__(
        self, config: MockConfig, test_case: str, state_machine: str | None = None, *, fallback: TaskResolver
    ) -> None:
        self.fallback = fallback
        mapping = config.test_case(test_case, state_machine)
        self._responses = {state: config.responses(mock) for state, mock in mapping.items()}
        self._calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def integration_for(self, state_name: str, resource: TaskResource) -> tuple[Integration, bool]:
        mocked = self.for_state(state_name)
        if mocked is not None:
            return mocked, True
        return self.fallback.integration_for(state_name, resource)

    def client(self, service_name: str, region_name: str | None = None) -> Any:
        return self.fallback.client(service_name, region_name)

    def for_state(self, state_name: str) -> Integration | None:
        """The mock answering a Task state, or None when the test case does not mock it."""
        responses = self._responses.get(state_name)
        if responses is None:
            return None

        def mocked(invocation: TaskInvocation) -> Any:
            with self._lock:
                n = self._calls.get(state_name, 0)
                self._calls[state_name] = n + 1
            if n >= len(responses):
                raise StatesError(
                    "States.Runtime",
                    f"The mock for state '{state_name}' has no response for invocation {n}.",
                )
            response = responses[n]
            if response.Throw is not None:
                raise StatesError(response.Throw.Error, response.Throw.Cause)
            return response.Return

        return mocked
