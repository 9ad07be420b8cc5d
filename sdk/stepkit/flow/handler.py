"""The Lambda handlers of bundled tasks; these run inside the runtime's worker processes."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stepkit.flow.tasks import META_FILE, PICKLE_FILE, this_python


class PickledForAnotherPython(RuntimeError):
    """The bundle's pickle was written by another Python version than the one loading it."""


def source_handler(module: str, attribute: str) -> Callable[[Any, Any], Any]:
    """The handler of a source bundle: the task named ``attribute`` of ``module``."""
    return getattr(importlib.import_module(module), attribute).lambda_handler


def pickle_handler(handler_file: str) -> Callable[[Any, Any], Any]:
    """The handler of a cloudpickle bundle, in the folder of ``handler_file``."""
    folder = Path(handler_file).resolve().parent
    meta = json.loads((folder / META_FILE).read_text())
    if meta.get("python") != this_python():
        raise PickledForAnotherPython(
            f"task {meta.get('task')!r} was pickled by {meta.get('python')} and cannot load on "
            f"{this_python()} ({sys.version.split()[0]}); rebuild it on {meta.get('python')} or use bundle='source'"
        )
    import cloudpickle

    return cloudpickle.loads((folder / PICKLE_FILE).read_bytes()).lambda_handler
