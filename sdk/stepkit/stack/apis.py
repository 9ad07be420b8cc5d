"""An HTTP API in front of a function: ``functions.<name>.api`` in ``infra/stack.yaml``.

The function's folder is a Chalice app (``app.py`` with ``app = Chalice(...)`` and its routes,
``chalicelib/``, ``requirements.txt``) and its handler the app object (``app.app``). Deploying
the stack creates the function, a REST API whose routes Chalice's own swagger generator
writes from the app's route table, a stage, and the permission for API Gateway to invoke it::

    functions:
      serving:
        handler: app.app
        api: {framework: chalice, stage: api}
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    framework: Literal["chalice"] = "chalice"
    """What describes the routes; Chalice is the one stepkit reads."""
    stage: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,128}$")] = "api"
    """The API Gateway stage the API is deployed to (``api``: Chalice's own default)."""
