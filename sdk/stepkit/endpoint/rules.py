"""The service-specific input rules AWS applies beyond botocore's shapes (which
``stepkit.endpoint.validation`` checks for every operation first).

Step Functions: a lone UTF-16 surrogate gets its member's own error (a name ``InvalidName``, an
execution's input ``InvalidExecutionInput``, ...); a tag needs a key. Lambda: an environment
takes no reserved key, 4 KB in all, and no NUL (a process environment holds C strings).
"""

from __future__ import annotations

import json
from typing import Any

from stepkit.endpoint.errors import AwsError
from stepkit.endpoint.validation import validation_error
from stepkit.stack.functions import RESERVED_ENVIRONMENT_KEYS

_ENV_PREFIX = "Lambda was unable to configure your environment variables because the environment variables you have "
_ENV_LIMIT = 4096  # bytes of all keys and values together


# -- Step Functions --------------------------------------------------------------------------


def sfn_tag_map(tags: list | None) -> dict[str, str]:
    """``tags`` as a map; a tag without a key is refused (the model leaves ``key`` optional)."""
    problems = [f"Value null at 'tags.{i + 1}.member{'' if tag is None else '.key'}' failed to satisfy constraint: "
                "Member must not be null" for i, tag in enumerate(tags or []) if tag is None or tag.get("key") is None]
    if problems:
        raise validation_error(problems)
    return {t["key"]: t.get("value") or "" for t in tags or []}


def sfn_bad_text(operation: str, path: str, value: str) -> AwsError:
    """The error of a member holding a lone UTF-16 surrogate: the member's own error where
    Step Functions has one (names, execution input, task output, definitions)."""
    if path == "name":
        return AwsError("InvalidName", f"Invalid Name: '{value}'")
    reason = "the text holds an unpaired UTF-16 surrogate"
    if path == "input":
        return AwsError("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{reason}'")
    if path == "output":
        return AwsError("InvalidOutput", f"Invalid Output: '{reason}'")
    if path == "definition":
        return AwsError("InvalidDefinition", f"Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: {reason}'")
    return validation_error([f"Value at '{path}' failed to satisfy constraint: Member must not contain unpaired "
                             "UTF-16 surrogate characters"])


# -- Lambda ----------------------------------------------------------------------------------


def lambda_bad_text(operation: str, path: str, value: str) -> AwsError:
    """A lone UTF-16 surrogate cannot be stored, nor given to a worker: refused, never echoed."""
    if path.startswith("environment."):
        return AwsError("InvalidParameterValueException", _ENV_PREFIX + "provided contain an unpaired UTF-16 "
                        "surrogate character.")
    return AwsError("InvalidParameterValueException", f"The value of '{path}' contains an unpaired UTF-16 "
                    "surrogate character.")


def check_lambda_environment(p: dict[str, Any]) -> None:
    """Lambda's rules for ``Environment.Variables`` beyond the model's: no reserved key, 4 KB in
    all, and (a process environment being C strings) no NUL character."""
    variables = (p.get("Environment") or {}).get("Variables") or {}
    reserved = sorted(k for k in variables if k in RESERVED_ENVIRONMENT_KEYS)
    if reserved:
        raise AwsError("InvalidParameterValueException", _ENV_PREFIX + "provided contains reserved keys that are "
                       f"currently not supported for modification. Reserved keys used in this request: "
                       f"{', '.join(reserved)}")
    if any("\x00" in k or "\x00" in (v or "") for k, v in variables.items()):
        raise AwsError("InvalidParameterValueException", _ENV_PREFIX + "provided contain a NUL character, which an "
                       "environment variable cannot hold.")
    measured = json.dumps(variables, separators=(",", ":"), ensure_ascii=False)
    if len(measured.encode()) > _ENV_LIMIT:
        raise AwsError("InvalidParameterValueException", _ENV_PREFIX + "provided exceeded the 4KB limit. String "
                       f"measured: {measured}")
