'''``stepkit init DIR``: a new project with the layout stepkit expects and a working example.

The files are kept here as text (not as package data) so they are always installed with
stepkit. ``{name}`` in a file is the stack's name.
'''

from __future__ import annotations

import re
from pathlib import Path

_STACK = """\
# What `stepkit deploy` creates: the same description runs locally (`stepkit run`), on the
# local endpoint (`stepkit deploy`), on LocalStack and on AWS (`--target localstack|aws`).
name: {name}

functions:
  greet:                     # code in functions/greet/, handler app.handler
    runtime: python3.12
    timeout: 10
    memory_size: 128
    environment:
      GREETING: Hello
{api}
state_machines:
  hello:
    definition: statemachines/hello.asl.json
    type: STANDARD
    logging: {{level: ERROR}}
    triggers:                # an object under inbox/incoming/ starts an execution
      - s3: {{bucket: inbox, prefix: incoming/}}

buckets:
  inbox: {{}}

stages:
  dev: {{}}
  prod:
    functions:
      greet: {{memory_size: 256}}
"""

_FUNCTION = '''\
"""Greets a name: from the event's "name", or from the key of an uploaded object."""

import os


def handler(event, context):
    name = event.get("name")
    if name is None and "detail" in event:  # an S3 "Object Created" event through EventBridge
        name = event["detail"]["object"]["key"].rsplit("/", 1)[-1]
    greeting = os.environ.get("GREETING", "Hello")
    return {"message": f"{greeting}, {name or 'world'}!"}
'''

#: ``stepkit init --api``: an HTTP API (a Chalice app) in front of a function.
_API_STACK = """
  web:                       # a Chalice app in functions/web/: deploy also creates its REST API
    handler: app.app
    runtime: python3.12
    timeout: 10
    api: {{framework: chalice, stage: api}}
"""

_API_APP = '''\
"""The project's HTTP API: a Chalice app. `stepkit deploy` creates a REST API from its routes."""

from chalice import Chalice, Response

app = Chalice(app_name="web")


@app.route("/health")
def health():
    return {"status": "ok"}


@app.route("/greet/{name}", cors=True)
def greet(name):
    return {"message": f"Hello, {name}!"}


@app.route("/echo", methods=["POST"])
def echo():
    body = app.current_request.json_body
    if not isinstance(body, dict):
        return Response(body={"error": "send a JSON object"}, status_code=400)
    return {"echo": body}
'''

_API_README = """
The HTTP API (`functions/web/`, a Chalice app; needs `pip install 'stepkit[api]'`): after
`stepkit deploy`, `stepkit status` shows its URL; on the local endpoint it is
`http://127.0.0.1:4566/restapis/<api-id>/api/_user_request_/`:

```
curl http://127.0.0.1:4566/restapis/<api-id>/api/_user_request_/greet/you
python -c "import requests; print(requests.post('<url>/echo', json={{'a': 1}}).json())"
```
"""

_DEFINITION = """\
{
  "Comment": "Calls the greet function and checks its answer.",
  "StartAt": "Greet",
  "States": {
    "Greet": {
      "Type": "Task",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {"FunctionName": "${GreetFunctionArn}", "Payload.$": "$"},
      "OutputPath": "$.Payload",
      "Retry": [{"ErrorEquals": ["Lambda.ServiceException", "Lambda.TooManyRequestsException"], "MaxAttempts": 2}],
      "Next": "Greeted?"
    },
    "Greeted?": {
      "Type": "Choice",
      "Choices": [{"Variable": "$.message", "IsPresent": true, "Next": "Done"}],
      "Default": "NoGreeting"
    },
    "NoGreeting": {"Type": "Fail", "Error": "NoGreeting", "Cause": "greet returned no message"},
    "Done": {"Type": "Succeed"}
  }
}
"""

_TEST = '''\
"""Run with `python -m pytest`: the function alone, the state machine with it, the deployed stack.

The stepkit_* fixtures come with stepkit (its pytest plugin); each test gets its own local
endpoint, emptied after it:
- stepkit_run(NAME or FILE, input) runs a state machine here with the project's functions;
- stepkit_stack is infra/stack.yaml deployed to the test's endpoint (stepkit_endpoint).
"""

import importlib.util
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _greet():
    spec = importlib.util.spec_from_file_location("greet_app", ROOT / "functions" / "greet" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def test_greet_uses_the_name():
    assert _greet()({"name": "Ada"}, None) == {"message": "Hello, Ada!"}


def test_the_state_machine_greets(stepkit_run):
    execution = stepkit_run("hello", {"name": "Ada"})
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == {"message": "Hello, Ada!"}


def test_the_greeting_comes_from_the_environment(stepkit_run):
    execution = stepkit_run("hello", {"name": "Ada"}, env_vars={"greet": {"GREETING": "Hi"}})
    assert execution.output == {"message": "Hi, Ada!"}


def test_an_upload_starts_the_deployed_state_machine(stepkit_stack, stepkit_endpoint):
    stepkit_endpoint.client("s3").put_object(Bucket=stepkit_stack.bucket("inbox"), Key="incoming/Grace", Body=b"")
    sfn = stepkit_endpoint.client("stepfunctions")
    deadline = time.monotonic() + 120
    while True:
        runs = sfn.list_executions(stateMachineArn=stepkit_stack.state_machine_arn("hello"))["executions"]
        if runs and runs[0]["status"] != "RUNNING":
            break
        assert time.monotonic() < deadline, "no execution ended after the upload"
        time.sleep(0.1)
    described = sfn.describe_execution(executionArn=runs[0]["executionArn"])
    assert json.loads(described["output"]) == {"message": "Hello, Grace!"}
'''

_README = """\
# {name}

A stepkit project: Lambda functions in `functions/<name>/`, Step Functions definitions in
`statemachines/`, and one description of the stack in `infra/stack.yaml`.

```
stepkit run statemachines/hello.asl.json --input '{{"name": "you"}}'   # run it here
python -m pytest                                                       # its tests
stepkit up &                                                           # the local AWS endpoint
stepkit plan                                                           # what deploy would do
stepkit deploy                                                         # deploy it there
stepkit deploy --target aws --stage prod                               # the same, on AWS
stepkit destroy --yes                                                  # delete what deploy created
```
{api}"""

_GITIGNORE = """\
.stepkit/
__pycache__/
.venv/
"""

FILES = {
    "infra/stack.yaml": _STACK,
    "functions/greet/app.py": _FUNCTION,
    "functions/greet/requirements.txt": "# the function's dependencies, one per line (bundled by `stepkit build`)\n",
    "statemachines/hello.asl.json": _DEFINITION,
    "tests/test_hello.py": _TEST,
    "README.md": _README,
    ".gitignore": _GITIGNORE,
}
API_FILES = {
    "functions/web/app.py": _API_APP,
    "functions/web/requirements.txt": "chalice>=1.31,<1.35\n",
}
#: Files whose text is a format string (``{name}``); the others are written as they are.
_FORMATTED = {"infra/stack.yaml", "README.md"}


class InitError(Exception):
    pass


def stack_name(folder: Path) -> str:
    cleaned = re.sub(r"[^a-z0-9]+", "-", folder.resolve().name.lower()).strip("-")[:24].strip("-")
    return cleaned if cleaned[:1].isalpha() else f"app-{cleaned}"[:24].strip("-")


def create_project(directory: Path, *, name: str | None = None, force: bool = False, api: bool = False
                   ) -> list[Path]:
    """Write the example project into ``directory`` (``api``: with an HTTP API); returns the
    files written."""
    name = name or stack_name(directory)
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,23}", name):
        raise InitError(f"stack name {name!r}: use 1-24 lowercase letters, digits or '-', starting with a letter "
                        "(pass --name)")
    if directory.exists() and not directory.is_dir():
        raise InitError(f"{directory} exists and is not a folder")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise InitError(f"{directory} is not empty; choose a new folder, or pass --force to add the files that "
                        "are missing")
    written = []
    for relative, text in {**FILES, **(API_FILES if api else {})}.items():
        path = directory / relative
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if relative in _FORMATTED:
            addition = (_API_STACK.format() if relative == "infra/stack.yaml" else _API_README.format()) if api else ""
            text = text.format(name=name, api=addition)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
