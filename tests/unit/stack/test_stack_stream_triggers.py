"""Stack: a function's ``stream`` trigger (a table's DynamoDB stream) and ``pipe`` trigger (a
queue, a table's stream or a Kinesis stream) and their checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stepkit.stack.model import Stack


def _stream_stack(trigger: dict, stream: str | None = "new_image") -> Stack:
    table: dict = {"partition_key": {"name": "id"}}
    if stream:
        table["stream"] = stream
    return Stack.model_validate({"tables": {"t": table}, "queues": {"q": {}},
                                 "functions": {"f": {"triggers": [{"stream": trigger}]}}})


def test_stream_trigger_checks() -> None:
    assert _stream_stack({"table": "t", "on_failure": {"queue": "q"}}).reference_problems() == []
    [(where, message)] = _stream_stack({"table": "t"}, stream=None).reference_problems()
    assert where == ("functions", "f", "triggers", "0", "stream", "table") and "has no stream" in message
    [(where, message)] = _stream_stack({"table": "nope"}).reference_problems()
    assert "table 'nope' is not declared" in message
    [(where, _)] = _stream_stack({"table": "t", "on_failure": {"topic": "none"}}).reference_problems()
    assert where[-2:] == ("on_failure", "topic")
    [(where, _)] = _stream_stack({"table": "t", "filters": [{"eventName": "INSERT"}]}).reference_problems()
    assert where[-2:] == ("filters", "0")
    for bad in ({"table": "t", "max_record_age": 30}, {"table": "t", "parallelization": 11},
                {"table": "t", "on_failure": {"queue": "q", "topic": "x"}}):
        with pytest.raises(ValidationError):
            _stream_stack(bad)
    with pytest.raises(ValidationError, match="state machine is started by"):
        Stack.model_validate({"tables": {"t": {"partition_key": {"name": "id"}, "stream": "keys_only"}},
                              "state_machines": {"m": {"definition": "m.json",
                                                       "triggers": [{"stream": {"table": "t"}}]}}})


def test_pipe_trigger_checks() -> None:
    def stack(pipe: dict, **sections: dict) -> Stack:
        return Stack.model_validate({"tables": {"t": {"partition_key": {"name": "id"}, "stream": "new_image"},
                                                "plain": {"partition_key": {"name": "id"}}},
                                     "queues": {"q": {}}, "functions": {"f": {}}, **sections,
                                     "state_machines": {"m": {"definition": "m.json", "triggers": [{"pipe": pipe}]}}})

    assert stack({"table": "t", "enrichment": "f"}).reference_problems() == []
    assert stack({"queue": "q"}).reference_problems() == []
    problems = dict(stack({"table": "plain", "enrichment": "g", "filters": [{"a": 1}]}).reference_problems())
    assert "has no stream" in problems[("state_machines", "m", "triggers", "0", "pipe", "table")]
    assert "function 'g' is not declared" in problems[("state_machines", "m", "triggers", "0", "pipe", "enrichment")]
    assert ("state_machines", "m", "triggers", "0", "pipe", "filters", "0") in problems
    with pytest.raises(ValidationError, match="exactly one of `queue`, `table`"):
        stack({"queue": "q", "table": "t"})
    with pytest.raises(ValidationError, match="exactly one of `queue`, `table`"):
        stack({"kinesis": "clicks", "table": "t"})
    assert stack({"kinesis": "clicks"}, streams={"clicks": {}}).reference_problems() == []
    [(where, message)] = stack({"kinesis": "views"}, streams={"clicks": {}}).reference_problems()
    assert where[-2:] == ("pipe", "kinesis") and "stream 'views' is not declared under `streams:`" in message


def test_kinesis_stream_trigger_checks() -> None:
    def stack(trigger: dict) -> Stack:
        return Stack.model_validate({"streams": {"clicks": {"shards": 2}},
                                     "functions": {"f": {"triggers": [{"stream": trigger}]}}})

    assert stack({"kinesis": "clicks"}).reference_problems() == []
    [(where, message)] = stack({"kinesis": "views"}).reference_problems()
    assert where[-1] == "kinesis" and "stream 'views' is not declared under `streams:`" in message
    with pytest.raises(ValidationError, match="exactly one of `table`"):
        stack({"kinesis": "clicks", "table": "t"})
    with pytest.raises(ValidationError):
        Stack.model_validate({"streams": {"clicks": {"shards": 0}}})
