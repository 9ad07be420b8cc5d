"""The project's one declaration of what it deploys: ``infra/stack.yaml``.

The model is validated with pydantic at the boundary; errors name the file, the line and
the field. Today the file declares functions; the deploy issue adds further sections
(state machines, buckets, queues, triggers, stages) as new fields of :class:`Stack`.
"""

from stepkit.stack.functions import Architecture, FunctionSettings
from stepkit.stack.loader import StackError, load_stack, parse_stack
from stepkit.stack.model import Stack
from stepkit.stack.project import Project, ProjectFunction

__all__ = [
    "Architecture",
    "FunctionSettings",
    "Project",
    "ProjectFunction",
    "Stack",
    "StackError",
    "load_stack",
    "parse_stack",
]
