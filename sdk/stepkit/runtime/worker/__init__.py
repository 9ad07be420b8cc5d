"""The code that runs inside a function's worker process.

Standard library only, and never imported under the ``stepkit`` name inside a worker:
``__main__`` loads this folder as the private package ``_stepkit_worker`` so that neither
stepkit nor its dependencies (pydantic, ...) are imported into the function's interpreter,
where the function's own versions must win.
"""
