"""The workflow builder: one method call per state, covering every ASL state type and field.

``Workflow`` is a state machine, ``Branch`` a ``Parallel`` branch and ``ItemProcessor`` a
``Map``'s processor; each holds its states in the order they were added. Every state
method takes the state's name and its ASL fields in snake case (``result_path``,
``item_selector``); an argument left out is left out of the definition (``None`` is the
JSON ``null``, meaningful for ``result_path``, ``input_path`` and ``output_path``). The
builder writes the definition; :mod:`stepkit.asl.validation` judges it, as AWS would.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from stepkit.asl import definition_model as model
from stepkit.flow.fields import UNSET, asl_object

if TYPE_CHECKING:
    from stepkit.engine.execution import Execution
    from stepkit.flow.tasks import Task

Json = Any
Template = dict[str, Any]
#: A JSONata expression, ``"{% ... %}"``, where a number or object is also accepted.
Expr = str
QueryLanguage = Literal["JSONPath", "JSONata"]


class States:
    """A set of states and where it starts; the state methods add to it."""

    _model: type[BaseModel] = model.BranchSchema

    def __init__(self, start_at: str, *, comment: str = UNSET) -> None:
        self.start_at = start_at
        self.comment = comment
        self.states: dict[str, dict[str, Any]] = {}
        self._tasks: list[Task] = []
        self._children: list[States] = []
        #: state name -> the "file:line" that wrote it, where known (for the type checker's findings)
        self._sources: dict[str, str] = {}

    def _add(self, name: str, type_: str, arguments: dict[str, Any]) -> States:
        if name in self.states:
            raise ValueError(f"a state named {name!r} is already defined here")
        self.states[name] = asl_object(model.STATE_MODELS[type_], arguments, head={"Type": type_})
        for value in (arguments.get("branches"), arguments.get("item_processor"), arguments.get("iterator")):
            self._children += [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, States)]
        return self

    def step(self, task: Task, name: str | None = None, **fields: Any) -> States:
        """A ``Task`` state calling a Python :func:`~stepkit.flow.task` (named after it unless
        ``name`` is given); its retry policy comes first in the state's ``Retry``. ``fields``
        are :meth:`task`'s (``next``, ``end``, ``arguments``, ``catch``, ...)."""
        retry = [*task.retry, *fields.pop("retry", [])]
        if retry:
            fields["retry"] = retry
        self.task(name or task.name, resource=task.arn(), **fields)
        self._tasks.append(task)
        caller = sys._getframe(1)
        self._sources[name or task.name] = f"{caller.f_code.co_filename}:{caller.f_lineno}"
        return self

    def tasks(self) -> list[Task]:
        """The Python tasks these states (and the branches and processors inside) call, once each."""
        found: dict[str, Task] = {}
        for task in [*self._tasks, *(t for child in self._children for t in child.tasks())]:
            if found.setdefault(task.name, task) is not task:
                raise ValueError(f"two different tasks are named {task.name!r}")
        return list(found.values())

    def sources(self) -> dict[str, str]:
        """Where each Python task's state was written (``file:line``), inner states included."""
        found = dict(self._sources)
        for child in self._children:
            found.update(child.sources())
        return found

    def _head(self) -> dict[str, Any]:
        return {"start_at": self.start_at, "comment": self.comment}

    def to_asl(self) -> dict[str, Any]:
        """This object's ASL (a dict, ready for ``json.dumps``)."""
        return asl_object(self._model, {**self._head(), "states": dict(self.states)})

    def task(
        self,
        name: str,
        *,
        resource: str,
        next: str = UNSET,
        end: bool = UNSET,
        arguments: Template | Expr = UNSET,
        parameters: Template = UNSET,
        output: Json = UNSET,
        assign: Template = UNSET,
        input_path: str | None = UNSET,
        result_selector: Template = UNSET,
        result_path: str | None = UNSET,
        output_path: str | None = UNSET,
        retry: list[dict[str, Any]] = UNSET,
        catch: list[dict[str, Any]] = UNSET,
        credentials: Template = UNSET,
        timeout_seconds: int | Expr = UNSET,
        timeout_seconds_path: str = UNSET,
        heartbeat_seconds: int | Expr = UNSET,
        heartbeat_seconds_path: str = UNSET,
        query_language: QueryLanguage = UNSET,
        comment: str = UNSET,
    ) -> States:
        """A ``Task`` state calling ``resource`` (a Lambda ARN, ``arn:aws:states:::...``)."""
        return self._add(name, "Task", locals())

    def pass_(
        self,
        name: str,
        *,
        next: str = UNSET,
        end: bool = UNSET,
        result: Json = UNSET,
        parameters: Template = UNSET,
        output: Json = UNSET,
        assign: Template = UNSET,
        input_path: str | None = UNSET,
        result_path: str | None = UNSET,
        output_path: str | None = UNSET,
        query_language: QueryLanguage = UNSET,
        comment: str = UNSET,
    ) -> States:
        """A ``Pass`` state."""
        return self._add(name, "Pass", locals())

    def wait(
        self,
        name: str,
        *,
        next: str = UNSET,
        end: bool = UNSET,
        seconds: int | Expr = UNSET,
        timestamp: str = UNSET,
        seconds_path: str = UNSET,
        timestamp_path: str = UNSET,
        output: Json = UNSET,
        assign: Template = UNSET,
        input_path: str | None = UNSET,
        output_path: str | None = UNSET,
        query_language: QueryLanguage = UNSET,
        comment: str = UNSET,
    ) -> States:
        """A ``Wait`` state: one of ``seconds``, ``timestamp`` or their ``_path`` forms."""
        return self._add(name, "Wait", locals())

    def choice(
        self,
        name: str,
        *,
        choices: list[dict[str, Any]],
        default: str = UNSET,
        output: Json = UNSET,
        assign: Template = UNSET,
        input_path: str | None = UNSET,
        output_path: str | None = UNSET,
        query_language: QueryLanguage = UNSET,
        comment: str = UNSET,
    ) -> States:
        """A ``Choice`` state; each choice is a :func:`stepkit.flow.rule` with ``next``."""
        return self._add(name, "Choice", locals())

    def succeed(
        self,
        name: str,
        *,
        output: Json = UNSET,
        input_path: str | None = UNSET,
        output_path: str | None = UNSET,
        query_language: QueryLanguage = UNSET,
        comment: str = UNSET,
    ) -> States:
        """A ``Succeed`` state."""
        return self._add(name, "Succeed", locals())

    def fail(
        self,
        name: str,
        *,
        error: str = UNSET,
        cause: str = UNSET,
        error_path: str = UNSET,
        cause_path: str = UNSET,
        query_language: QueryLanguage = UNSET,
        comment: str = UNSET,
    ) -> States:
        """A ``Fail`` state."""
        return self._add(name, "Fail", locals())

    def parallel(
        self,
        name: str,
        *,
        branches: list[Branch],
        next: str = UNSET,
        end: bool = UNSET,
        arguments: Template | Expr = UNSET,
        parameters: Template = UNSET,
        output: Json = UNSET,
        assign: Template = UNSET,
        input_path: str | None = UNSET,
        result_selector: Template = UNSET,
        result_path: str | None = UNSET,
        output_path: str | None = UNSET,
        retry: list[dict[str, Any]] = UNSET,
        catch: list[dict[str, Any]] = UNSET,
        query_language: QueryLanguage = UNSET,
        comment: str = UNSET,
    ) -> States:
        """A ``Parallel`` state running each :class:`Branch`."""
        return self._add(name, "Parallel", locals())

    def map(
        self,
        name: str,
        *,
        item_processor: ItemProcessor = UNSET,
        iterator: ItemProcessor = UNSET,
        next: str = UNSET,
        end: bool = UNSET,
        items: list[Json] | Expr = UNSET,
        items_path: str = UNSET,
        item_selector: Template | Expr = UNSET,
        item_reader: dict[str, Any] = UNSET,
        item_batcher: dict[str, Any] = UNSET,
        result_writer: dict[str, Any] = UNSET,
        max_concurrency: int | Expr = UNSET,
        max_concurrency_path: str = UNSET,
        tolerated_failure_percentage: float | Expr = UNSET,
        tolerated_failure_percentage_path: str = UNSET,
        tolerated_failure_count: int | Expr = UNSET,
        tolerated_failure_count_path: str = UNSET,
        label: str = UNSET,
        parameters: Template = UNSET,
        output: Json = UNSET,
        assign: Template = UNSET,
        input_path: str | None = UNSET,
        result_selector: Template = UNSET,
        result_path: str | None = UNSET,
        output_path: str | None = UNSET,
        retry: list[dict[str, Any]] = UNSET,
        catch: list[dict[str, Any]] = UNSET,
        query_language: QueryLanguage = UNSET,
        comment: str = UNSET,
    ) -> States:
        """A ``Map`` state: inline, or distributed with ``item_reader``/``item_batcher``/
        ``result_writer`` and ``processor_config(mode="DISTRIBUTED")``."""
        return self._add(name, "Map", locals())


class Branch(States):
    """One branch of a ``Parallel`` state."""


class ItemProcessor(States):
    """A ``Map`` state's ``ItemProcessor`` (or ``Iterator``)."""

    _model = model.ItemProcessorSchema

    def __init__(self, start_at: str, *, processor_config: dict[str, Any] = UNSET, comment: str = UNSET) -> None:
        super().__init__(start_at, comment=comment)
        self.processor_config = processor_config

    def _head(self) -> dict[str, Any]:
        return {**super()._head(), "processor_config": self.processor_config}


class Workflow(States):
    """A state machine. ``definition()`` (or ``to_asl()``) is its ASL; ``to_json()`` the text."""

    _model = model.StateMachineSchema

    def __init__(
        self,
        start_at: str,
        *,
        query_language: QueryLanguage = UNSET,
        timeout_seconds: int = UNSET,
        version: str = UNSET,
        comment: str = UNSET,
    ) -> None:
        super().__init__(start_at, comment=comment)
        self.query_language = query_language
        self.timeout_seconds = timeout_seconds
        self.version = version
        #: The execution input's pydantic model, when declared (the type checker starts from it).
        self.input_type: Any = None

    def _head(self) -> dict[str, Any]:
        return {
            **super()._head(),
            "query_language": self.query_language,
            "timeout_seconds": self.timeout_seconds,
            "version": self.version,
        }

    def definition(self) -> dict[str, Any]:
        return self.to_asl()

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_asl(), indent=indent)

    def check_types(self) -> list[Any]:
        """Each field a typed task's input cannot get from what flows into it
        (:func:`stepkit.flow.typecheck.check_types`); empty when the data fits."""
        from stepkit.flow.typecheck import check_types

        return check_types(self, self.input_type)

    def run(self, input: Any = None, **options: Any) -> Execution:
        """Run on the engine, each Python task in the local runtime's worker processes.

        ``options`` are :meth:`stepkit.StateMachine.run`'s (``mock_config``, ``skip_waits``, ...).
        """
        from stepkit.flow.running import run_workflow

        return run_workflow(self, input, **options)
