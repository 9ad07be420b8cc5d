"""Entry point: ``python -I -S <this folder> REQUEST_FD RESPONSE_FD``."""

import importlib
import importlib.util
import os
import sys

_here = sys.path.pop(0)  # this folder: the function must not import our modules by accident
_spec = importlib.util.spec_from_file_location(
    "_stepkit_worker", os.path.join(_here, "__init__.py"), submodule_search_locations=[_here]
)
assert _spec is not None and _spec.loader is not None
_package = importlib.util.module_from_spec(_spec)
sys.modules["_stepkit_worker"] = _package
_spec.loader.exec_module(_package)
sys.exit(importlib.import_module("_stepkit_worker.bootstrap").main(sys.argv[1:]))
