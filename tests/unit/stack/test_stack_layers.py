"""The ``layers`` section of infra/stack.yaml and the functions that use them."""

from __future__ import annotations

from pathlib import Path

import pytest

from stepkit.stack import LayerSettings, Project, StackError, parse_stack

ROOT = Path(__file__).resolve().parents[3]


def _problems(text: str) -> list[str]:
    with pytest.raises(StackError) as caught:
        parse_stack(text, "infra/stack.yaml")
    return str(caught.value).splitlines()


def test_a_layer_and_the_functions_that_use_it() -> None:
    stack = parse_stack("layers:\n  model: {path: functions/layers/model, compatible_runtimes: [python3.12]}\n"
                        "functions:\n  train: {runtime: python3.12, layers: [model]}\n")
    assert stack.layers["model"] == LayerSettings(path="functions/layers/model", compatible_runtimes=["python3.12"])
    assert stack.functions["train"].layers == ["model"]


def test_an_undeclared_layer_is_reported_at_its_line() -> None:
    text = "layers:\n  model: {path: lib}\nfunctions:\n  train:\n    layers:\n      - model\n      - shared\n"
    assert _problems(text) == [
        "infra/stack.yaml:7: functions.train.layers.1: layer 'shared' is not declared under `layers:` "
        "(declared: model)"
    ]


def test_a_layer_for_another_runtime_is_refused() -> None:
    text = "layers:\n  model: {path: lib, compatible_runtimes: [python3.12]}\nfunctions:\n  train: {layers: [model]}\n"
    (problem,) = _problems(text)
    assert problem.startswith("infra/stack.yaml:4: functions.train.layers.0: layer 'model' is for python3.12, ")
    assert "runtime python3.11" in problem


@pytest.mark.parametrize(("layers", "message"), [
    ("[a, a]", "layer 'a' is listed twice"),
    ("[a, b, c, d, e, f]", "at most 5 layers (6 given)"),
])
def test_lambdas_limits_on_a_functions_layers(layers: str, message: str) -> None:
    declared = "".join(f"  {n}: {{path: {n}}}\n" for n in "abcdef")
    (problem,) = _problems(f"layers:\n{declared}functions:\n  f:\n    layers: {layers}\n")
    assert problem.startswith("infra/stack.yaml:10: functions.f.layers:") and message in problem


def test_a_layer_needs_a_path_and_a_valid_name() -> None:
    assert _problems("layers:\n  9bad: {path: p}\n") == [
        "infra/stack.yaml:1: layers: Value error, layer name '9bad' must be 1-40 letters, digits, '-' or '_', "
        "starting with a letter"
    ]
    assert _problems("layers:\n  model: {description: x}\n") == [
        "infra/stack.yaml:2: layers.model.path: Field required"
    ]


def test_the_project_resolves_layers_and_does_not_take_their_folder_for_a_function(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "functions" / "f").mkdir(parents=True)
    (tmp_path / "functions" / "layers" / "model" / "python").mkdir(parents=True)
    (tmp_path / "infra" / "stack.yaml").write_text(
        "layers:\n  model: {path: functions/layers/model}\nfunctions:\n  f: {layers: [model]}\n")
    project = Project.load(tmp_path / "infra" / "stack.yaml")
    assert [fn.name for fn in project.functions()] == ["f"]
    (layer,) = project.layers_of(project.function("f"))
    assert layer.python_dir == (tmp_path / "functions" / "layers" / "model" / "python").resolve()
    project.check_code_dirs()


def test_a_layer_without_its_python_folder_is_reported(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "lib").mkdir()
    (tmp_path / "infra" / "stack.yaml").write_text("layers:\n  model: {path: lib}\n")
    with pytest.raises(StackError, match=r"layers\.model\.path: folder .*lib/python does not exist"):
        Project.load(tmp_path / "infra" / "stack.yaml").check_code_dirs()


def test_the_pipelines_model_functions_all_use_the_model_layer() -> None:
    project = Project.load(ROOT / "infra" / "stack.yaml")
    project.check_code_dirs()
    for fn in project.functions():
        # serving routes with the layer's policies and router state; retrain_on_drift only
        # starts the training state machine
        expected = [] if fn.name == "retrain_on_drift" else ["model"]
        assert [layer.name for layer in project.layers_of(fn)] == expected, fn.name
