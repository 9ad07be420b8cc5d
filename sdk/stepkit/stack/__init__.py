"""The project's one declaration of what it deploys: ``infra/stack.yaml``.

The model is validated with pydantic at the boundary; errors name the file, the line and
the field. The file declares functions, state machines, buckets, queues (with dead-letter
queues), DynamoDB tables, the triggers between them, the access each needs, and stages that override values.
"""

from stepkit.stack.functions import Architecture, FunctionSettings
from stepkit.stack.layers import LayerSettings
from stepkit.stack.loader import StackError, load_stack, parse_stack
from stepkit.stack.model import Stack
from stepkit.stack.project import Project, ProjectFunction, ProjectLayer, ProjectStateMachine
from stepkit.stack.resources import (
    BucketSettings,
    DeadLetter,
    Grant,
    Logging,
    QueueSettings,
    S3Trigger,
    SqsTrigger,
    StateMachineSettings,
    TableKey,
    TableSettings,
    Trigger,
)

__all__ = [
    "Architecture",
    "BucketSettings",
    "DeadLetter",
    "FunctionSettings",
    "Grant",
    "LayerSettings",
    "Logging",
    "Project",
    "ProjectFunction",
    "ProjectLayer",
    "ProjectStateMachine",
    "QueueSettings",
    "S3Trigger",
    "SqsTrigger",
    "Stack",
    "StackError",
    "StateMachineSettings",
    "TableKey",
    "TableSettings",
    "Trigger",
    "load_stack",
    "parse_stack",
]
