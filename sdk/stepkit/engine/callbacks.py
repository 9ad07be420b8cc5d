"""The former name of :mod:`stepkit.engine.task_tokens`, kept only for
``endpoint/stepfunctions.py``, which another change is splitting: its import moves to
``task_tokens`` when that lands, and this module goes."""

from stepkit.engine.task_tokens import InvalidToken, TaskTokens, TokenTimedOut

__all__ = ["InvalidToken", "TaskTokens", "TokenTimedOut"]
