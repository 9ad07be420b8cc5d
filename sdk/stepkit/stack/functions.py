"""Settings of one Lambda function as ``infra/stack.yaml`` declares them.

Every field has AWS Lambda's own default, so a function declared with no settings (or not
declared at all) behaves locally as it will once deployed with the console's defaults.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stepkit.stack.apis import ApiSettings
from stepkit.stack.resources import Grant, Trigger

Architecture = Literal["x86_64", "arm64"]

#: Python runtimes a function may declare; the local workers run on the host interpreter.
PythonRuntime = Literal["python3.11", "python3.12", "python3.13"]

#: Lambda's own environment variables, which a function may not set (AWS rejects them).
RESERVED_ENVIRONMENT_KEYS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)

_ENV_KEY = re.compile(r"[a-zA-Z][a-zA-Z0-9_]+\Z")  # Lambda's pattern: ASCII, two characters at least
HANDLER_PATTERN = r"^[^\s]+\.[^\s.]+$"


class FunctionSettings(BaseModel):
    """One entry of the ``functions`` section; the key is the function's name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    handler: Annotated[str, Field(pattern=HANDLER_PATTERN)] = "app.handler"
    """``module.function``; the module is found in the function's folder."""
    code: str | None = None
    """Folder of the handler code, relative to the project root; default ``functions/<name>``."""
    runtime: PythonRuntime = "python3.11"
    memory_size: Annotated[int, Field(ge=128, le=10240)] = 128
    """MB, as Lambda's ``MemorySize``; a worker whose memory grows past it is stopped."""
    timeout: Annotated[int, Field(ge=1, le=900)] = 3
    """Seconds, as Lambda's ``Timeout``."""
    environment: dict[str, str] = Field(default_factory=dict)
    reserved_concurrency: Annotated[int, Field(ge=0, le=1000)] | None = None
    """At most this many invocations at once (0 throttles every call). Unset: one per CPU."""
    architecture: Architecture = "x86_64"
    """The platform whose wheels ``stepkit build`` vendors."""
    max_retry_attempts: Annotated[int, Field(ge=0, le=2)] = 2
    """Retries of a failed asynchronous (``Event``) invocation."""
    description: str = ""
    triggers: list[Trigger] = Field(default_factory=list)
    """What starts the function once deployed: ``s3`` prefixes, ``sqs`` queues and ``sns`` topics."""
    access: list[Grant] = Field(default_factory=list)
    enabled: bool = True
    """``false`` leaves the function (its role, triggers and API) out of what the stack deploys:
    for a stage on a target that cannot run it; whatever is granted access to it must be
    disabled too."""
    """Buckets, queues, state machines and functions the code uses; its IAM policy allows these."""
    api: ApiSettings | None = None
    """A REST API in front of the function, its routes those of the Chalice app in its folder."""
    layers: list[str] = Field(default_factory=list)
    """Names of the stack's ``layers`` whose ``python/`` the function imports from, in order."""

    @field_validator("layers")
    @classmethod
    def _check_layers(cls, value: list[str]) -> list[str]:
        if len(value) > 5:  # Lambda's limit (stepkit.stack.layers.MAX_LAYERS_PER_FUNCTION)
            raise ValueError(f"a function may use at most 5 layers ({len(value)} given)")
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"layer {repeated[0]!r} is listed twice")
        return value

    @field_validator("environment", mode="before")
    @classmethod
    def _stringify_values(cls, value: object) -> object:
        # YAML reads `DEBUG: 1` as an int; Lambda's environment is all strings.
        if isinstance(value, dict):
            return {k: v if isinstance(v, str) else _yaml_scalar_text(v) for k, v in value.items()}
        return value

    @field_validator("environment")
    @classmethod
    def _check_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not _ENV_KEY.match(key):
                raise ValueError(f"environment variable name {key!r} is not valid (a letter, then letters, "
                                 "digits or _: two characters at least)")
            if key in RESERVED_ENVIRONMENT_KEYS:
                raise ValueError(f"environment variable {key} is reserved by Lambda")
        return value


def _yaml_scalar_text(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value  # left for pydantic to reject with a located error
