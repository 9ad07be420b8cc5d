"""infra/stack.yaml: defaults, validation with file/line/field, and project discovery."""

from pathlib import Path

import pytest

from stepkit.runtime import FunctionConfig
from stepkit.stack import FunctionSettings, Project, StackError, load_stack, parse_stack


def test_a_function_without_settings_gets_lambdas_defaults() -> None:
    stack = parse_stack("functions:\n  train:\n  score: {}\n")
    assert stack.functions["train"] == FunctionSettings()
    assert stack.functions["score"] == FunctionSettings()
    train = stack.functions["train"]
    assert (train.handler, train.memory_size, train.timeout) == ("app.handler", 128, 3)
    assert train.runtime == "python3.11"
    assert train.reserved_concurrency is None and train.max_retry_attempts == 2


def test_an_empty_file_is_an_empty_stack() -> None:
    assert parse_stack("").functions == {}


def test_environment_values_become_strings() -> None:
    stack = parse_stack("functions:\n  f:\n    environment: {DEBUG: true, RETRIES: 3, NAME: x}\n")
    assert stack.functions["f"].environment == {"DEBUG": "true", "RETRIES": "3", "NAME": "x"}


def _problems(text: str) -> list[str]:
    with pytest.raises(StackError) as caught:
        parse_stack(text, "infra/stack.yaml")
    return str(caught.value).splitlines()


def test_errors_name_file_line_and_field() -> None:
    text = "functions:\n  train:\n    handler: app.handler\n    memory_size: lots\n    timeuot: 5\n"
    assert _problems(text) == [
        "infra/stack.yaml:4: functions.train.memory_size: Input should be a valid integer, "
        "unable to parse string as an integer (got 'lots')",
        "infra/stack.yaml:5: functions.train.timeuot: unknown field",
    ]


def test_out_of_range_and_reserved_environment_are_rejected_with_their_line() -> None:
    text = "functions:\n  f:\n    timeout: 901\n    environment:\n      AWS_REGION: eu-west-1\n"
    problems = _problems(text)
    assert problems[0].startswith("infra/stack.yaml:3: functions.f.timeout: Input should be less than")
    assert problems[1].startswith("infra/stack.yaml:4: functions.f.environment:")
    assert "AWS_REGION is reserved by Lambda" in problems[1]


def test_environment_names_follow_lambdas_pattern() -> None:
    for key in ("A", "9LIVES", "NAÏVE", "HAS-DASH"):  # AWS refuses each: [a-zA-Z]([a-zA-Z0-9_])+
        problems = _problems(f"functions:\n  f:\n    environment:\n      {key}: x\n")
        assert len(problems) == 1 and "is not valid" in problems[0], key
    stack = parse_stack("functions:\n  f:\n    environment:\n      AB_9: x\n")
    assert stack.functions["f"].environment == {"AB_9": "x"}


def test_a_bad_function_name_a_duplicate_key_and_broken_yaml() -> None:
    assert "must be 1-64 letters" in _problems("functions:\n  bad name: {}\n")[0]
    assert _problems("functions:\n  a: {}\n  a: {}\n") == ["infra/stack.yaml:3: functions.a: duplicate key"]
    assert _problems("functions:\n  a: [\n")[0].startswith("infra/stack.yaml:3: not valid YAML")
    assert _problems("- just a list\n") == ["infra/stack.yaml:1: the stack file must be a mapping"]


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="cannot read"):
        load_stack(tmp_path / "missing.yaml")


def _project(tmp_path: Path, stack: str | None) -> Path:
    (tmp_path / "functions" / "train").mkdir(parents=True)
    (tmp_path / "functions" / "prepare").mkdir()
    (tmp_path / "functions" / "_shared").mkdir()
    (tmp_path / "src" / "score").mkdir(parents=True)
    if stack is not None:
        (tmp_path / "infra").mkdir()
        (tmp_path / "infra" / "stack.yaml").write_text(stack)
    return tmp_path


def test_project_lists_declared_and_discovered_functions(tmp_path: Path) -> None:
    root = _project(tmp_path, "functions:\n  train:\n    memory_size: 1024\n  score:\n    code: src/score\n")
    project = Project.discover(root / "functions" / "train")
    assert project.root == root.resolve()
    functions = {fn.name: fn for fn in project.functions()}
    assert sorted(functions) == ["prepare", "score", "train"]  # _shared is not a function
    assert functions["train"].settings.memory_size == 1024
    assert functions["prepare"].settings == FunctionSettings()
    assert functions["score"].code_dir == (root / "src" / "score").resolve()
    config = FunctionConfig.from_project(functions["train"])
    assert config.memory_size == 1024 and config.code_dir == (root / "functions" / "train").resolve()


def test_project_without_stack_file_uses_the_folder(tmp_path: Path) -> None:
    project = Project.discover(_project(tmp_path, None))
    assert project.stack_path is None
    assert [fn.name for fn in project.functions()] == ["prepare", "train"]


def test_a_declared_function_without_folder_is_reported(tmp_path: Path) -> None:
    root = _project(tmp_path, "functions:\n  ghost: {}\n")
    with pytest.raises(StackError, match=r"functions.ghost.code: folder .*ghost does not exist"):
        Project.load(root / "infra" / "stack.yaml").check_code_dirs()
