"""Workflows in Python: a typed builder for ASL definitions, and ASL back to Python."""

from stepkit.flow.builder import Branch, ItemProcessor, States, Workflow
from stepkit.flow.fields import UNSET
from stepkit.flow.objects import (
    catch,
    item_batcher,
    item_reader,
    processor_config,
    reader_config,
    result_writer,
    retry,
    rule,
    writer_config,
)
from stepkit.flow.tasks import Task, TaskBundleError, task

__all__ = [
    "UNSET",
    "Branch",
    "ItemProcessor",
    "States",
    "Task",
    "TaskBundleError",
    "Workflow",
    "catch",
    "item_batcher",
    "item_reader",
    "processor_config",
    "reader_config",
    "result_writer",
    "retry",
    "rule",
    "task",
    "writer_config",
]

from stepkit.flow.decompile import NotExpressible, from_python, to_python

__all__ += ["NotExpressible", "from_python", "to_python"]

from stepkit.flow.compiler import workflow  # noqa: E402
from stepkit.flow.expressions import FlowCompileError  # noqa: E402

__all__ += ["FlowCompileError", "workflow"]

from stepkit.flow.typecheck import FlowTypeError, TypeFinding, check_types  # noqa: E402

__all__ += ["FlowTypeError", "TypeFinding", "check_types"]
