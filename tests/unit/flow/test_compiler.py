"""The function-body compiler: each construct's states, and each error with its file:line."""

import inspect

import pytest

from stepkit import flow
from stepkit.flow.compiler import compile_function


@flow.task
def work(event):
    return event


def line_of(fn, text: str) -> int:
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, line in enumerate(lines) if text in line)


def test_a_sequence_of_calls_and_assignments():
    def body(event):
        a = work(event)
        b = a["x"] + 1
        work(x=b, y=[a, "s"])

    states = compile_function(body).definition()["States"]
    assert list(states) == ["Start", "work", "Set b", "work 2"]
    assert states["Start"]["Assign"] == {"event": "{% $states.input %}"}
    assert states["Set b"]["Assign"] == {"b": "{% ($a.`x` + 1) %}"}
    assert states["work 2"]["Arguments"] == {"x": "{% $b %}", "y": '{% [$a, "s"] %}'}
    assert states["work 2"]["End"] is True


def test_conditions_translate_to_jsonata():
    def body(event):
        if (event["a"] >= 2 and not event["b"]) or len(event["c"]) != 0:
            work(event)

    choice = compile_function(body).definition()["States"]["If line " + str(line_of(body, "if (event"))]
    assert choice["Choices"] == [{
        "Next": "work",
        "Condition": "{% ((($event.`a` >= 2) and $not($event.`b`)) or ($count($event.`c`) != 0)) %}",
    }]
    assert choice["Default"] == "Done"


@pytest.mark.parametrize(
    ("source_line", "message"),
    [
        ("while True:", "While statements do not compile; supported: task calls"),
        ("x = open('f')", "has no JSONata translation"),
        ("print(event)", "print is not a @flow.task of this module"),
        ("y = unknown + 1", "'unknown' is not a variable"),
    ],
)
def test_unsupported_python_is_an_error_with_file_and_line(source_line, message, tmp_path):
    namespace = {"work": work}
    code = f"def body(event):\n    {source_line}\n        pass\n" if source_line.endswith(":") else \
        f"def body(event):\n    {source_line}\n"
    path = str(tmp_path / "unsupported.py")
    (tmp_path / "unsupported.py").write_text(code)
    exec(compile(code, path, "exec"), namespace)
    with pytest.raises(flow.FlowCompileError, match=message) as caught:
        compile_function(namespace["body"])
    assert str(caught.value).startswith(f"{path}:2: ")


def test_a_function_without_source_is_an_error_not_a_traceback():
    namespace = {}
    exec("def body(event):\n    return event\n", namespace)
    with pytest.raises(flow.FlowCompileError, match="cannot be read"):
        compile_function(namespace["body"])


def test_loops_try_sleep_and_raise():
    def body(event):
        for item in event:
            work(item)
        try:
            sleep(5)
            work(event)
        except (TimeoutError, Exception) as e:
            raise Broken(f"{e}")  # noqa: B904 - compiled to a Fail state, never run

    states = compile_function(body).definition()["States"]
    kinds = [(name, s["Type"]) for name, s in states.items()]
    loop = line_of(body, "for item")
    assert kinds == [("Start", "Pass"), (f"For line {loop}", "Map"), (f"Sleep line {loop + 3}", "Wait"),
                     ("work 2", "Task"), ("Raise Broken", "Fail")]
    processor = states[f"For line {loop}"]["ItemProcessor"]
    assert list(processor["States"]) == [f"Item line {loop}", "work"]
    assert processor["States"][f"Item line {loop}"]["Assign"] == {"item": "{% $states.input %}"}
    assert states["work 2"]["Catch"][0]["ErrorEquals"] == ["States.Timeout", "States.ALL"]
    assert states["Raise Broken"]["Cause"] == "{% ($string($e)) %}"


def sleep(seconds):
    """The compiler reads ``sleep(n)`` as a Wait state."""


class Broken(Exception):
    pass


def test_raise_inside_try_is_refused():
    def body(event):
        try:
            raise ValueError("x")
        except ValueError:
            pass

    with pytest.raises(flow.FlowCompileError, match=r"test_compiler\.py:\d+: raise ends the execution"):
        compile_function(body)
