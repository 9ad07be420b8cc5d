"""Call the pipeline's handlers in-process, as Lambda would, without the stepkit runtime.

For tests and for the benchmark's "plain Python loop" baseline. Not a Lambda function::

    harness = ...  # load this file by path (functions/ is not a package)
    preprocess = harness.LocalFunction("preprocess")
    result = preprocess({"dataset_key": "datasets/iris.csv", "run_id": "r1", "bucket": "artifacts"})

Each :class:`LocalFunction` loads ``functions/<name>/handler.py`` as its own module (so the
five ``handler`` modules do not collide, and a new instance is a cold start: the modules of
its layers are imported afresh too, from each layer's ``python/`` folder as Lambda puts
``/opt/python`` on ``sys.path``), passes a
context with Lambda's attributes, applies the function's ``environment`` from
``infra/stack.yaml`` during the call, and round-trips the event and the result through JSON
as Lambda does, so a non-serialisable return value fails here as it would there. A handler's
exception propagates unchanged (its class name is the ``errorType`` Lambda would report).
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import sys
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

FUNCTIONS_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = FUNCTIONS_DIR.parent
PIPELINE = ("preprocess", "train", "select_model", "register_model", "predict")
_counter = itertools.count(1)


class FakeLambdaContext:
    """The attributes of the context object Lambda's Python runtime passes to a handler."""

    def __init__(self, function_name: str, memory_mb: int = 128, timeout_s: int = 3,
                 region: str = "us-east-1", account: str = "123456789012") -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.memory_limit_in_mb = str(memory_mb)  # a string, as in Lambda's runtime
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


def layer_paths(name: str) -> list[Path]:
    """The ``python/`` folders of the layers ``infra/stack.yaml`` gives function ``name``."""
    path = PROJECT_ROOT / "infra" / "stack.yaml"
    if not path.is_file():
        return []
    import yaml

    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    layers = document.get("layers") or {}
    names = ((document.get("functions") or {}).get(name) or {}).get("layers") or []
    return [PROJECT_ROOT / layers[layer]["path"] / "python" for layer in names]


def _import_layers(name: str) -> None:
    """Put the function's layers on ``sys.path`` and forget their modules imported before,
    so this instance imports them afresh (a cold start)."""
    for folder in layer_paths(name):
        if str(folder) not in sys.path:
            sys.path.append(str(folder))
        packages = {child.name.removesuffix(".py") for child in folder.iterdir()}
        for module in [m for m in sys.modules if m.split(".")[0] in packages]:
            del sys.modules[module]


def load_handler_module(name: str) -> ModuleType:
    """A fresh module of ``functions/<name>/handler.py``."""
    _import_layers(name)
    path = FUNCTIONS_DIR / name / "handler.py"
    module_name = f"stepkit_function_{name}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # as an import would; pydantic resolves annotations through it
    spec.loader.exec_module(module)
    return module


def stack_settings(name: str) -> dict[str, Any]:
    """The function's entry of ``infra/stack.yaml`` (empty when there is none)."""
    path = PROJECT_ROOT / "infra" / "stack.yaml"
    if not path.is_file():
        return {}
    import yaml

    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return (document.get("functions") or {}).get(name) or {}


class LocalFunction:
    def __init__(self, name: str, *, environment: dict[str, str] | None = None) -> None:
        self.name = name
        self.module = load_handler_module(name)
        settings = stack_settings(name)
        self.memory_mb = int(settings.get("memory_size", 128))
        self.timeout_s = int(settings.get("timeout", 3))
        # A value with a deploy-time substitution (``${ArtifactsBucket}``) means nothing here.
        self.environment = {k: str(v) for k, v in (settings.get("environment") or {}).items()
                            if "${" not in str(v)}
        self.environment.update(environment or {})

    def __call__(self, event: Any) -> Any:
        event = json.loads(json.dumps(event))
        context = FakeLambdaContext(self.name, self.memory_mb, self.timeout_s)
        lambda_env = {
            **self.environment,
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        }
        saved = {key: os.environ.get(key) for key in lambda_env}
        os.environ.update(lambda_env)
        try:
            result = self.module.handler(event, context)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        return json.loads(json.dumps(result, allow_nan=False))


def lambda_error_payload(exc: BaseException) -> dict[str, Any]:
    """The error payload Lambda returns for a handler's exception."""
    import traceback

    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": str(uuid.uuid4()),
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def for_engine(function: LocalFunction) -> Any:
    """``function`` as a stand-in callable for stepkit's engine (``StateMachine(functions=...)``):
    a handler's exception becomes the task failure Step Functions records for a Lambda
    function error (Error = the errorType, Cause = Lambda's error payload as JSON)."""
    from stepkit.asl.errors import StatesError

    def call(event: Any) -> Any:
        try:
            return function(event)
        except Exception as exc:
            raise StatesError(type(exc).__name__, json.dumps(lambda_error_payload(exc))) from exc

    return call


def pipeline_functions(environment: dict[str, str] | None = None) -> dict[str, LocalFunction]:
    """The five functions of the ML pipeline, by name."""
    return {name: LocalFunction(name, environment=environment) for name in PIPELINE}
