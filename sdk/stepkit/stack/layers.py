"""Lambda layers as ``infra/stack.yaml`` declares them (the ``layers`` section).

A layer is a folder of code several functions share. As on Lambda, its ``python/`` folder is
what a function imports from (Lambda extracts a layer under ``/opt`` and puts
``/opt/python`` on ``sys.path``)::

    layers:
      model: {path: functions/layers/model, compatible_runtimes: [python3.12]}
    functions:
      train: {layers: [model]}
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from stepkit.stack.functions import PythonRuntime

#: The folder under a layer's path that ends up on ``sys.path`` (``/opt/python`` on Lambda).
LAYER_PYTHON_DIR = "python"
#: Lambda's limit on the layers of one function.
MAX_LAYERS_PER_FUNCTION = 5


class LayerSettings(BaseModel):
    """One entry of the ``layers`` section; the key is the layer's name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Annotated[str, Field(min_length=1)]
    """The layer's folder, relative to the project root; its code is under ``python/``."""
    description: Annotated[str, Field(max_length=256)] = ""
    compatible_runtimes: list[PythonRuntime] = Field(default_factory=list)
    """The runtimes the layer is published for; a function of another runtime may not use it.
    Empty: any."""
