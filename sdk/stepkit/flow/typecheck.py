"""Type checking across tasks: does what flows into each typed task satisfy its input model?

The checker walks a definition from its start, carrying the *shape* of each state's input
and of the workflow variables (:mod:`stepkit.flow.shapes`): a typed task's result is the
shape its output model dumps, a template's is the object it builds, a path selects into a
shape, ``ResultPath`` places a result into one. At each Task state calling a
:func:`~stepkit.flow.task` with a pydantic input type, the payload (after ``InputPath`` and
``Parameters``, or JSONata ``Arguments``) is judged against that type, and each field that
cannot satisfy it is a :class:`TypeFinding`: the state, the field, why, and the file:line
that wrote the state where it is known. Everything unknown (an untyped task's result, the
context object, a function call the checker does not model) satisfies everything, so a
finding is a flow that cannot work, not one the checker could not follow.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stepkit.flow.shape_eval import select, template_shape, with_result
from stepkit.flow.shapes import ANY, Arr, Obj, Shape, mismatches, obj, of_annotation, of_value, union

if TYPE_CHECKING:
    from stepkit.flow.builder import Workflow
    from stepkit.flow.tasks import Task

ERROR_OUTPUT = obj({"Error": ANY, "Cause": ANY}, closed=False)
LAMBDA_INVOKE = re.compile(r"^arn:aws:states:::lambda:invoke(\.waitForTaskToken)?$")
#: The most input shapes a state is checked with (each path into it can bring its own).
MAX_VISITS = 16


@dataclass(frozen=True)
class TypeFinding:
    """One field of a task's input that what flows in cannot satisfy."""

    state: str
    task: str
    field: str
    reason: str
    source: str | None = None

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        field_ = f"field {self.field!r}" if self.field else "the input"
        return f"{where}state {self.state!r} calls {self.task}: {field_} {self.reason}"


class FlowTypeError(TypeError):
    """A workflow whose data cannot satisfy a task's input type; ``findings`` say where."""

    def __init__(self, findings: list[TypeFinding]) -> None:
        self.findings = findings
        super().__init__("the workflow's data does not fit its tasks' input types:\n" +
                         "\n".join(f"  {f}" for f in findings))


@dataclass(frozen=True)
class _Env:
    """What is known entering a state: its input and the variables in scope."""

    input: Shape
    variables: tuple[tuple[str, Shape], ...] = ()

    def vars(self) -> dict[str, Shape]:
        return dict(self.variables)

    def assign(self, values: dict[str, Shape]) -> _Env:
        merged = {**self.vars(), **values}
        return _Env(self.input, tuple(sorted(merged.items())))

    def moved(self, new_input: Shape) -> _Env:
        return _Env(new_input, self.variables)


@dataclass
class _ShapeChecker:
    tasks: dict[str, Task]
    sources: dict[str, str]
    findings: list[TypeFinding] = field(default_factory=list)

    def run(self, states: dict[str, Any], start: str, env: _Env, language: str) -> Shape:
        """Walk ``states`` from ``start``; the union of the shapes that leave at an end."""
        visits: dict[str, set[_Env]] = {}
        todo = [(start, env)]
        outputs: list[Shape] = []
        while todo:
            name, here = todo.pop()
            state = states.get(name)
            seen = visits.setdefault(name, set())
            if state is None or here in seen or len(seen) >= MAX_VISITS:
                continue
            seen.add(here)
            for successor, after in self.state(name, state, here, state.get("QueryLanguage", language)):
                if successor is None:
                    outputs.append(after.input)
                else:
                    todo.append((successor, after))
        return union(*outputs) if outputs else ANY

    def state(self, name: str, state: dict[str, Any], env: _Env, language: str) -> Iterator[tuple[str | None, _Env]]:
        kind = str(state.get("Type"))
        jsonata = language == "JSONata"
        if kind == "Fail":
            return
        if kind == "Choice":
            for rule in state.get("Choices", []):
                holder = rule if jsonata and ("Output" in rule or "Assign" in rule) else state
                yield rule.get("Next"), self._after(holder, None, env, jsonata)
            if "Default" in state:
                yield state["Default"], self._after(state, None, env, jsonata)
            return
        if kind in ("Wait", "Succeed"):
            yield state.get("Next"), self._after(state, None, env, jsonata)
            return
        if jsonata:
            payload = self._template(state["Arguments"], True, env, {"input": env.input}) \
                if "Arguments" in state else env.input
        else:
            effective = select(state.get("InputPath", "$"), env.input, env.vars())
            payload = self._template(state["Parameters"], False, env, effective) if "Parameters" in state \
                else effective
        result = self._result(name, kind, state, payload, env, language)
        if not jsonata and "ResultSelector" in state:
            result = self._template(state["ResultSelector"], False, env, result)
        for catcher in state.get("Catch", []):
            yield catcher.get("Next"), self._after(catcher, ("errorOutput", ERROR_OUTPUT), env, jsonata)
        yield state.get("Next"), self._after(state, ("result", result), env, jsonata)

    @staticmethod
    def _template(value: Any, jsonata: bool, env: _Env, base: Any, context: Shape = ANY) -> Shape:
        """A template's shape: JSONata's with ``base`` as ``$states`` (a dict), JSONPath's reading ``base``."""
        if jsonata:
            return template_shape(value, True, ANY, env.vars(), {"context": ANY, **base})
        return template_shape(value, False, base, env.vars(), context=context)

    def _result(self, name: str, kind: str, state: dict[str, Any], payload: Shape, env: _Env, language: str) -> Shape:
        if kind == "Task":
            return self._task(name, state, payload)
        if kind == "Pass":
            if "Result" in state:
                return of_value(state["Result"])
            return payload
        if kind == "Parallel":
            return Arr(union(*(self.run(b["States"], b["StartAt"], env.moved(payload), language)
                               for b in state.get("Branches", []))))
        if kind == "Map":
            return self._map(state, payload, env, language)
        return payload  # Wait, Succeed

    def _task(self, name: str, state: dict[str, Any], payload: Shape) -> Shape:
        resource = str(state.get("Resource", ""))
        invoked = resource
        if LAMBDA_INVOKE.match(resource):  # the function is named in the template, the payload is its Payload
            template = state.get("Parameters", state.get("Arguments"))
            invoked = str(template.get("FunctionName", "")) if isinstance(template, dict) else ""
            payload = select("$.Payload", payload, {})
        task = self.tasks.get(_function_name(invoked))
        if task is None:
            return ANY
        if task.input_type is not None:
            wanted = of_annotation(task.input_type, dumped=False)
            for field_, reason in mismatches(payload, wanted):
                self.findings.append(TypeFinding(name, f"{task.name} ({task.input_type.__name__})", field_, reason,
                                                 self.sources.get(name)))
        output = of_annotation(task.output_type, dumped=True) if task.output_type is not None else ANY
        if invoked != resource:  # lambda:invoke: the function's answer is the result's Payload
            return obj({"Payload": output}, closed=False)
        return output

    def _map(self, state: dict[str, Any], payload: Shape, env: _Env, language: str) -> Shape:
        jsonata = language == "JSONata"
        processor = state.get("ItemProcessor") or state.get("Iterator") or {}
        if "ItemReader" in state:
            items: Shape = ANY
        elif jsonata:
            items = self._template(state["Items"], True, env, {"input": env.input}) if "Items" in state \
                else env.input
        else:
            items = select(state.get("ItemsPath", "$"), payload, env.vars())
        item = items.item if isinstance(items, Arr) else ANY
        selector = state.get("ItemSelector", state.get("Parameters"))
        if selector is not None and "ItemBatcher" not in state:
            context = obj({"Map": obj({"Item": obj({"Value": item}, closed=False)}, closed=False)}, closed=False)
            item = self._template(selector, True, env, {"input": env.input, "context": context}) if jsonata \
                else self._template(selector, False, env, payload, context)
        elif "ItemBatcher" in state:
            item = ANY
        out = self.run(processor.get("States", {}), processor.get("StartAt", ""), env.moved(item), language)
        return ANY if "ResultWriter" in state else Arr(out)

    def _after(self, holder: dict[str, Any], result: tuple[str, Shape] | None, env: _Env, jsonata: bool) -> _Env:
        """The environment after a state, a catcher or a Choice rule: its Assign, then its output.

        ``result`` is ``("result", shape)`` for a state's result, ``("errorOutput", shape)``
        for a catcher's, None for states without one (Choice, Wait, Succeed)."""
        if jsonata:
            states_var = {"input": env.input, **(dict([result]) if result else {})}
            assigned = {n: self._template(v, True, env, states_var) for n, v in (holder.get("Assign") or {}).items()}
            output = self._template(holder["Output"], True, env, states_var) if "Output" in holder \
                else result[1] if result else env.input
            return _Env(output, env.assign(assigned).variables)
        if result is None:
            output = select(holder.get("InputPath", "$"), env.input, env.vars())
            value: Shape = output
        else:
            value = result[1]
            output = with_result(env.input, holder.get("ResultPath", "$"), value)
        assigned = {n.removesuffix(".$"): select(v, value, env.vars()) if n.endswith(".$") and isinstance(v, str)
                    else self._template(v, False, env, value) for n, v in (holder.get("Assign") or {}).items()}
        if result is None or result[0] == "result":
            output = select(holder.get("OutputPath", "$"), output, env.vars())
        return _Env(output, env.assign(assigned).variables)


def _function_name(resource: str) -> str:
    """The function a Lambda ARN (or a bare name) names; '' for anything else."""
    if resource.startswith("arn:aws:lambda:"):
        parts = resource.split(":")
        return parts[6] if len(parts) > 6 else ""
    return resource if resource and ":" not in resource and "$" not in resource else ""


def check_types(workflow: Workflow, input_type: Any = None, tasks: Iterable[Task] = ()) -> list[TypeFinding]:
    """The findings for ``workflow`` (empty when every typed task's input can be satisfied).

    ``input_type`` (a pydantic model) is the execution input's, when the workflow declares one.
    The tasks are the workflow's own (``step``, function-body calls) and ``tasks``: Task
    states naming one of those functions (its ARN, or ``lambda:invoke`` of it) are checked.
    """
    return check_definition(workflow.to_asl(), [*tasks, *workflow.tasks()], workflow.sources(), input_type)


def check_definition(definition: dict[str, Any], tasks: Iterable[Task], sources: dict[str, str] | None = None,
                     input_type: Any = None) -> list[TypeFinding]:
    """:func:`check_types` for a definition (a dict): ``tasks`` are the typed functions its Task
    states may call, ``sources`` where each state was written."""
    checker = _ShapeChecker({t.name: t for t in tasks}, dict(sources or {}))
    start: Shape = of_annotation(input_type, dumped=False) if input_type is not None else ANY
    if isinstance(start, Obj):
        start = Obj(start.fields, closed=False, title=start.title)
    language = definition.get("QueryLanguage", "JSONPath")
    checker.run(definition["States"], definition["StartAt"], _Env(start), language)
    return list(dict.fromkeys(checker.findings))


def require_types(workflow: Workflow, input_type: Any = None) -> None:
    """Raise :class:`FlowTypeError` when :func:`check_types` finds anything."""
    findings = check_types(workflow, input_type)
    if findings:
        raise FlowTypeError(findings)


__all__ = ["FlowTypeError", "TypeFinding", "check_definition", "check_types", "require_types"]
