"""The root of ``infra/stack.yaml``.

To add a section (state machines, buckets, queues, triggers, stages), add a field here
with its own model in a module of this package; ``extra="forbid"`` keeps typos such as
``fucntions:`` from being silently ignored.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stepkit.stack.functions import FunctionSettings

#: Lambda's rule for function names.
FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Stack(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    functions: Annotated[dict[str, FunctionSettings], Field(default_factory=dict)]

    @field_validator("functions", mode="before")
    @classmethod
    def _empty_entry_means_defaults(cls, value: object) -> object:
        # `train:` with nothing under it is a function with every default.
        # Names are checked here, before the entries, so a bad name is reported with them.
        if value is None:
            return {}
        if isinstance(value, dict):
            for name in value:
                if not FUNCTION_NAME.match(str(name)):
                    raise ValueError(f"function name {name!r} must be 1-64 letters, digits, '-' or '_'")
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value
