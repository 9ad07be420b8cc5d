"""``stepkit.local``: a project's stack run here with a deploy's names, shared by ``stepkit
run`` and ``stepkit.run(..., project=...)``; no process or server is started here."""

import json
from pathlib import Path

import pytest

import stepkit
from stepkit.integrations.local_functions import _Aliased
from stepkit.local import LocalRunError, LocalStack, ProjectSession, load_env_vars
from stepkit.stack.project import Project
from stepkit.templates import create_project


@pytest.fixture
def hello(tmp_path: Path) -> Project:
    root = tmp_path / "hello"
    create_project(root, name="hello")
    stack = root / "infra" / "stack.yaml"
    stack.write_text(stack.read_text().replace("      GREETING: Hello\n",
                                               "      GREETING: Hello\n      INBOX: ${InboxBucket}\n"))
    return Project.discover(root)


def test_values_are_those_a_deploy_of_the_stage_gives(hello: Project):
    stack = LocalStack(hello)
    assert stack.values["GreetFunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:hello-dev-greet"
    assert stack.values["InboxBucket"] == "hello-dev-inbox"
    assert stack.environment("greet") == {"GREETING": "Hello", "INBOX": "hello-dev-inbox"}
    prod = LocalStack(hello, "prod")
    assert prod.values["InboxBucket"] == "hello-prod-inbox"
    assert [c.memory_size for c in prod.function_configs()] == [256]  # the stage's override
    assert [c.memory_size for c in stack.function_configs()] == [128]
    assert stack.aliases() == {"hello-dev-greet": "greet"}


def test_env_vars_parameters_then_the_functions_own(hello: Project):
    stack = LocalStack(hello, env_vars=load_env_vars({"Parameters": {"GREETING": "Hi", "DEBUG": True},
                                                      "greet": {"GREETING": "Hey", "N": 3}}))
    assert stack.environment("greet") == {"GREETING": "Hey", "INBOX": "hello-dev-inbox", "DEBUG": "true", "N": "3"}
    config = next(c for c in stack.function_configs() if c.name == "greet")
    assert config.environment["GREETING"] == "Hey"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"gret": {"A": "b"}}, "gret is not a function of the stack (functions: greet)"),
        ({"greet": ["A"]}, "at greet: Input should be a valid dictionary"),
        ({"greet": {"A": {"nested": 1}}}, "at greet.A"),
    ],
)
def test_bad_env_vars_name_the_problem(hello: Project, content: dict, message: str):
    with pytest.raises(LocalRunError, match="env vars") as caught:
        LocalStack(hello, env_vars=load_env_vars(content))
    assert message in str(caught.value) and caught.value.param == "--env-vars"


def test_env_vars_file_that_is_not_json(tmp_path: Path):
    path = tmp_path / "env.json"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(LocalRunError, match="not a readable JSON file"):
        load_env_vars(path)
    path.write_text(json.dumps({"Parameters": {"A": "1"}}))
    assert load_env_vars(path) == {"Parameters": {"A": "1"}}


def test_unknown_stage_is_an_argument_error(hello: Project):
    with pytest.raises(LocalRunError) as caught:
        LocalStack(hello, "qa")
    assert caught.value.param == "--stage" and "unknown stage 'qa'" in str(caught.value)


def test_a_state_machine_by_name_and_a_definition_with_substitutions(hello: Project):
    with ProjectSession(hello) as session:
        text, name, kind = session.definition("hello")
        assert name == "hello-dev-hello" and kind == "STANDARD"
        assert json.loads(text)["States"]["Greet"]["Parameters"]["FunctionName"].endswith(":function:hello-dev-greet")
        definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "${InboxBucket}/${Extra}",
                                                       "End": True}}}
        text, name, _ = session.definition(definition, {"Extra": "x"})
        assert json.loads(text)["States"]["P"]["Result"] == "hello-dev-inbox/x" and name == ""


def test_deployed_names_reach_the_projects_functions():
    calls = []

    class Runtime:
        def invoke(self, name: str, payload: bytes = b"", **options: object) -> str:
            calls.append(name)
            return name

    aliased = _Aliased(Runtime(), {"hello-dev-greet": "greet"})
    aliased.invoke("arn:aws:lambda:us-east-1:123456789012:function:hello-dev-greet:$LATEST")
    aliased.invoke("hello-dev-greet")
    aliased.invoke("other")
    assert calls == ["arn:aws:lambda:us-east-1:123456789012:function:greet:$LATEST", "greet", "other"]


def test_library_run_fills_substitutions():
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"bucket": "${Bucket}"}, "End": True}}}
    execution = stepkit.run(definition, substitutions={"Bucket": "b-1"})
    assert execution.output == {"bucket": "b-1"}
    with pytest.raises(stepkit.InvalidDefinition, match=r"no value for the definition substitution\(s\): \$\{Bucket\}"):
        stepkit.run(json.dumps(definition), substitutions={"Other": "x"})


def test_the_testing_package_reaches_the_conformance_adapters_lazily():
    import stepkit.testing
    from stepkit.testing import conformance

    assert stepkit.testing.run_case is conformance.run_case
    with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
        stepkit.testing.nothing_here  # noqa: B018


def test_a_local_run_gives_each_function_its_layers():
    """`stepkit run training` runs the repository's functions with their `model` layer on
    sys.path (its `python/` folder), as the endpoint and Lambda do."""
    repo = Path(__file__).resolve().parents[3]
    project = Project.discover(repo)
    configs = {c.name: c for c in LocalStack(project).function_configs()}
    layer = (repo / "functions" / "layers" / "model" / "python").resolve()
    assert layer in [p.resolve() for p in configs["preprocess"].layer_dirs]
    assert all(layer in [p.resolve() for p in configs[f.name].layer_dirs]
               for f in project.functions() if "model" in f.settings.layers)
