"""The engine's task interface: an execution runs its Tasks through whatever TaskResolver it
is given; the registry and the MockConfigFile mocks are two of them."""

from typing import Any

from stepkit.engine.clock import VirtualClock
from stepkit.engine.compiler import compile_definition
from stepkit.engine.execution import ExecutionRun
from stepkit.engine.task_tokens import TaskTokens
from stepkit.engine.tasks import Integration, TaskInvocation, TaskResource, parse_resource
from stepkit.integrations.mock_config import MockConfig, MockedTasks
from stepkit.integrations.registry import IntegrationRegistry

SM = "arn:aws:states:us-east-1:123456789012:stateMachine:Iface"
TWO_TASKS = {
    "StartAt": "A",
    "States": {
        "A": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "ResultPath": "$.a", "Next": "B"},
        "B": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "ResultPath": "$.b", "End": True},
    },
}


class RecordingResolver:
    """Not a registry: answers every Task with the state's name, and makes no clients."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def integration_for(self, state_name: str, resource: TaskResource) -> tuple[Integration, bool]:
        self.asked.append((state_name, resource.action))

        def answer(invocation: TaskInvocation) -> Any:
            return {"state": invocation.state_name, "params": invocation.parameters}

        return answer, False

    def client(self, service_name: str, region_name: str | None = None) -> Any:
        raise AssertionError("no state here needs an AWS client")


def _run(resolver: Any) -> Any:
    run = ExecutionRun(compile_definition(TWO_TASKS, "us-east-1"), input={"x": 1}, name="e", state_machine_arn=SM,
                       resolver=resolver, clock=VirtualClock(), tokens=TaskTokens())
    return run.start()


def test_an_execution_runs_its_tasks_through_any_resolver():
    resolver = RecordingResolver()
    execution = _run(resolver)
    assert execution.status == "SUCCEEDED"
    assert execution.output == {"x": 1, "a": {"state": "A", "params": {"x": 1}},
                                "b": {"state": "B", "params": {"x": 1, "a": {"state": "A", "params": {"x": 1}}}}}
    assert resolver.asked == [("A", "publish"), ("B", "sendMessage")]


def test_mocks_answer_their_states_and_hand_the_others_to_the_registry():
    registry = IntegrationRegistry()
    registry.register("arn:aws:states:::sqs:sendMessage", lambda invocation: {"sent": True})
    config = MockConfig.load({
        "StateMachines": {"Iface": {"TestCases": {"Happy": {"A": "Published"}}}},
        "MockedResponses": {"Published": {"0": {"Return": {"MessageId": "m-1"}}}},
    })
    mocks = MockedTasks(config, "Happy", "Iface", fallback=registry)
    a, mocked_a = mocks.integration_for("A", parse_resource("arn:aws:states:::sns:publish"))
    b, mocked_b = mocks.integration_for("B", parse_resource("arn:aws:states:::sqs:sendMessage"))
    assert (mocked_a, mocked_b) == (True, False)
    execution = _run(mocks)
    assert execution.output == {"x": 1, "a": {"MessageId": "m-1"}, "b": {"sent": True}}
    assert b is not a


def test_the_mocks_clients_are_the_registrys():
    registry = IntegrationRegistry()
    made = object()
    registry.clients.set_factory(lambda service, region_name=None: made)
    mocks = MockedTasks(MockConfig.load({"StateMachines": {"M": {"TestCases": {"T": {}}}}}), "T", "M",
                        fallback=registry)
    assert mocks.client("s3") is made is registry.client("s3")
