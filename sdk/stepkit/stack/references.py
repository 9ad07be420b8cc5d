"""The ``${Name}`` values a stack gives its definitions and environment variables.

Each declared resource gives a few names (CamelCase of its key plus what it is):

- function ``train``: ``${TrainFunctionArn}``, ``${TrainFunctionName}``
- state machine ``training``: ``${TrainingStateMachineArn}``, ``${TrainingStateMachineName}``
- bucket ``artifacts``: ``${ArtifactsBucket}`` (its name), ``${ArtifactsBucketName}``, ``${ArtifactsBucketArn}``
- queue ``jobs``: ``${JobsQueueUrl}``, ``${JobsQueueArn}``, ``${JobsQueueName}``
- topic ``drift``: ``${DriftTopicArn}``, ``${DriftTopicName}``
- table ``router``: ``${RouterTable}`` (its name), ``${RouterTableName}``, ``${RouterTableArn}``
- Kinesis stream ``clicks``: ``${ClicksStreamName}``, ``${ClicksStreamArn}``
- the stack: ``${Region}``, ``${AccountId}``, ``${Partition}``, ``${Stage}``, ``${StackName}``

Deploy resolves them to the deployed names and ARNs of the target; here only the
vocabulary is known, which is enough to tell a placeholder that names nothing.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stepkit.stack.model import Stack

#: ``placeholder -> (kind, resource name, attribute)``; kind "stack" for the stack's own.
Vocabulary = dict[str, tuple[str, str, str]]

STACK_VALUES = ("Region", "AccountId", "Partition", "Stage", "StackName")

_ATTRIBUTES = {
    "function": (("FunctionArn", "arn"), ("FunctionName", "name")),
    "state_machine": (("StateMachineArn", "arn"), ("StateMachineName", "name")),
    "bucket": (("Bucket", "name"), ("BucketName", "name"), ("BucketArn", "arn")),
    "queue": (("QueueUrl", "url"), ("QueueArn", "arn"), ("QueueName", "name")),
    "topic": (("TopicArn", "arn"), ("TopicName", "name")),
    "table": (("Table", "name"), ("TableName", "name"), ("TableArn", "arn")),
    "stream": (("StreamName", "name"), ("StreamArn", "arn")),
}


def camel(name: str) -> str:
    """``select_model`` -> ``SelectModel``; ``batch-inference`` -> ``BatchInference``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\-]", name) if part)


def substitution_names(stack: Stack, function_names: list[str] | None = None) -> Vocabulary:
    """Every placeholder the stack defines. ``function_names`` adds functions found under
    ``functions/`` that the stack file does not declare."""
    out: Vocabulary = {name: ("stack", "", name) for name in STACK_VALUES}
    sections = {
        "function": sorted({*stack.functions, *(function_names or [])}),
        "state_machine": list(stack.state_machines),
        "bucket": list(stack.buckets),
        "queue": [*stack.queues, *(f"{q}-dlq" for q, s in stack.queues.items()
                                   if s.dead_letter is not None and s.dead_letter.queue is None)],
        "topic": list(stack.topics),
        "table": list(stack.tables),
        "stream": list(stack.streams),
    }
    for kind, names in sections.items():
        for name in names:
            for suffix, attribute in _ATTRIBUTES[kind]:
                out.setdefault(f"{camel(name)}{suffix}", (kind, name, attribute))
    return out


def closest(name: str, known: list[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return found[0] if found else None
