"""A function body compiled to a JSONata workflow: ``@flow.workflow``.

>>> @flow.workflow
... def pipeline(event):
...     rows = load(event)                 # Task state; the result is assigned to $rows
...     if rows["count"] > 10:             # Choice (a JSONata Condition)
...         summary = summarise(rows)
...     else:
...         raise TooFew("not enough rows")  # Fail
...     for part in rows["parts"]:         # Map over the items
...         store(part)
...     try:
...         report(summary)
...     except TaskFailed as e:            # Catch, the error output assigned to $e
...         sleep(60)                      # Wait
...     return summary                     # the execution's output

Each statement is one state (named after its task, or ``If line 3``...), in source order;
variables are ASL variables (``Assign``), read in any expression. What does not compile
is a :class:`FlowCompileError` with the file and line and what is supported instead.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from stepkit.flow.builder import ItemProcessor, States, Workflow
from stepkit.flow.expressions import FlowCompileError, Translator
from stepkit.flow.fields import UNSET, replace_strings
from stepkit.flow.objects import catch as catcher
from stepkit.flow.objects import rule
from stepkit.flow.tasks import Task
from stepkit.flow.typecheck import require_types

#: An except clause's exception name -> the ASL error it catches.
ERROR_NAMES = {"Exception": "States.ALL", "BaseException": "States.ALL", "TimeoutError": "States.Timeout",
               "TaskFailed": "States.TaskFailed"}
SUPPORTED = ("task calls, assignments, if/elif/else, for, try/except, raise, return, sleep(n) and pass")


@dataclass
class _Pending:
    """A state waiting to be added: sorted by source position so the definition reads as the code."""

    line: int
    order: int
    method: str
    name: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Scope:
    container: States
    pending: list[_Pending] = field(default_factory=list)
    done: str | None = None


class _Compiler:
    def __init__(self, fn: Callable[..., Any], filename: str, line_offset: int) -> None:
        self.fn = fn
        self.tr = Translator(filename, line_offset)
        self.bases: dict[str, str] = {}
        self.scopes: list[_Scope] = []
        self.catches: list[list[dict[str, Any]]] = []
        self.order = 0

    def name(self, base: str) -> str:
        """A placeholder for a state's name; :meth:`finish` names states in source order."""
        token = f"\x00{len(self.bases)}"
        self.bases[token] = base
        return token

    def add(self, scope: _Scope, line: int, method: str, name: str, **fields: Any) -> str:
        self.order += 1
        scope.pending.append(_Pending(line, self.order, method, name, fields))
        return name

    @staticmethod
    def transition(successor: str | None) -> dict[str, Any]:
        return {"next": successor} if successor is not None else {"end": True}

    def target(self, scope: _Scope, successor: str | None, line: int) -> str:
        """A state name to go to: the successor, or a Succeed state where the block ends."""
        if successor is not None:
            return successor
        if scope.done is None:
            scope.done = self.add(scope, 10**9, "succeed", self.name("Done"))
        return scope.done

    def block(self, scope: _Scope, body: list[ast.stmt], successor: str | None) -> str | None:
        """Compile ``body``; return the name of its first state (``successor`` when it has none)."""
        for statement in reversed(body):
            successor = self.statement(scope, statement, successor)
        return successor

    def statement(self, scope: _Scope, node: ast.stmt, successor: str | None) -> str | None:
        line = node.lineno
        if isinstance(node, ast.Pass):
            return successor
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            return self.call(scope, node.value, None, successor, line)
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target = node.targets[0].id
            if isinstance(node.value, ast.Call) and self.task_of(node.value) is not None:
                state = self.call(scope, node.value, target, successor, line)
                self.tr.variables.add(target)
                return state
            value = self.tr.template(node.value)
            self.tr.variables.add(target)
            return self.add(scope, line, "pass_", self.name(f"Set {target}"), assign={target: value},
                            **self.transition(successor))
        if isinstance(node, ast.If):
            return self.if_(scope, node, successor)
        if isinstance(node, ast.For):
            return self.for_(scope, node, successor)
        if isinstance(node, ast.Try):
            return self.try_(scope, node, successor)
        if isinstance(node, ast.Raise):
            return self.raise_(scope, node)
        if isinstance(node, ast.Return):
            output = self.tr.template(node.value) if node.value is not None else "{% null %}"
            return self.add(scope, line, "pass_", self.name("Return"), output=output, end=True)
        raise self.tr.error(node, f"{type(node).__name__} statements do not compile; supported: {SUPPORTED}")

    def task_of(self, call: ast.Call) -> Task | None:
        if isinstance(call.func, ast.Name):
            value = self.fn.__globals__.get(call.func.id)
            return value if isinstance(value, Task) else None
        return None

    def call(self, scope: _Scope, call: ast.Call, target: str | None, successor: str | None, line: int) -> str:
        if isinstance(call.func, ast.Name) and call.func.id == "sleep" and self.task_of(call) is None:
            if len(call.args) != 1 or call.keywords:
                raise self.tr.error(call, "sleep takes one argument, the seconds")
            seconds: Any = call.args[0].value if isinstance(call.args[0], ast.Constant) else \
                self.tr.template(call.args[0])
            return self.add(scope, line, "wait", self.name(f"Sleep line {line + self.tr.line_offset}"),
                            seconds=seconds, **self.transition(successor))
        task = self.task_of(call)
        if task is None:
            raise self.tr.error(call, f"{ast.unparse(call.func)} is not a @flow.task of this module; a workflow "
                                      "calls tasks (or sleep)")
        if len(call.args) > 1 or (call.args and call.keywords):
            raise self.tr.error(call, "a task takes one positional argument or keyword arguments")
        arguments = self.tr.template(call.args[0]) if call.args else \
            {k.arg: self.tr.template(k.value) for k in call.keywords if k.arg}
        scope.container._tasks.append(task)
        extra: dict[str, Any] = {"assign": {target: "{% $states.result %}"}} if target else {}
        if task.retry:
            extra["retry"] = list(task.retry)
        if self.catches:
            extra["catch"] = [c for level in reversed(self.catches) for c in level]
        return self.add(scope, line, "task", self.name(task.name), resource=task.arn(), arguments=arguments,
                        **extra, **self.transition(successor))

    def if_(self, scope: _Scope, node: ast.If, successor: str | None) -> str:
        rules: list[dict[str, Any]] = []
        current: ast.stmt = node
        otherwise: list[ast.stmt] = []
        while isinstance(current, ast.If):
            condition = self.tr.template(current.test)
            start = self.block(scope, current.body, successor)
            rules.append({"next": self.target(scope, start, current.lineno), "condition": condition})
            if len(current.orelse) == 1 and isinstance(current.orelse[0], ast.If):
                current = current.orelse[0]
            else:
                otherwise = current.orelse
                break
        default = self.target(scope, self.block(scope, otherwise, successor), node.lineno)
        return self.add(scope, node.lineno, "choice", self.name(f"If line {node.lineno + self.tr.line_offset}"),
                        choices=[rule(**r) for r in rules], default=default)

    def for_(self, scope: _Scope, node: ast.For, successor: str | None) -> str:
        if not isinstance(node.target, ast.Name) or node.orelse:
            raise self.tr.error(node, "a for loop names one variable and has no else")
        items = self.tr.template(node.iter)
        line = node.lineno + self.tr.line_offset
        start = self.name(f"Item line {line}")
        processor = _Scope(container=ItemProcessor(start))
        self.scopes.append(processor)
        self.tr.variables.add(node.target.id)
        saved, self.catches = self.catches, []
        first = self.block(processor, node.body, None)
        self.catches = saved
        self.add(processor, node.lineno, "pass_", start, assign={node.target.id: "{% $states.input %}"},
                 **self.transition(first))
        extra = {"catch": [c for level in reversed(self.catches) for c in level]} if self.catches else {}
        return self.add(scope, node.lineno, "map", self.name(f"For line {line}"), items=items,
                        item_processor=processor.container, output="{% $states.input %}", **extra,
                        **self.transition(successor))

    def try_(self, scope: _Scope, node: ast.Try, successor: str | None) -> str | None:
        if node.orelse or node.finalbody:
            raise self.tr.error(node, "try has except clauses only (no else, no finally)")
        level = []
        for handler in node.handlers:
            names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
            errors = []
            for n in names:
                if not isinstance(n, ast.Name):
                    raise self.tr.error(handler, "except names the errors (except Name as e)")
                errors.append(ERROR_NAMES.get(n.id, n.id))
            if handler.name:
                self.tr.variables.add(handler.name)
            start = self.target(scope, self.block(scope, handler.body, successor), handler.lineno)
            assign: dict[str, Any] = {"assign": {handler.name: "{% $states.errorOutput %}"}} if handler.name else {}
            level.append(catcher(errors, start, **assign))
        if not level:
            return self.block(scope, node.body, successor)
        self.catches.append(level)
        try:
            return self.block(scope, node.body, successor)
        finally:
            self.catches.pop()

    def raise_(self, scope: _Scope, node: ast.Raise) -> str:
        if self.catches:
            raise self.tr.error(node, "raise ends the execution (a Fail state), so it cannot be caught here")
        if node.cause is not None:
            raise self.tr.error(node, "raise ... from ... does not compile: a Fail state has an error and a cause")
        exc = node.exc
        if isinstance(exc, ast.Call) and isinstance(exc.func, ast.Name) and len(exc.args) <= 1 and not exc.keywords:
            error, cause_node = exc.func.id, (exc.args[0] if exc.args else None)
        elif isinstance(exc, ast.Name):
            error, cause_node = exc.id, None
        else:
            raise self.tr.error(node, "raise names an error: raise Name('cause')")
        fields: dict[str, Any] = {"error": error}
        if isinstance(cause_node, ast.Constant) and isinstance(cause_node.value, str):
            fields["cause"] = cause_node.value
        elif cause_node is not None:
            fields["cause"] = self.tr.template(cause_node)
        return self.add(scope, node.lineno, "fail", self.name(f"Raise {error}"), **fields)

    def finish(self) -> None:
        """Name the states in source order (``work``, ``work 2``...) and add them, inner scopes first.

        The body is compiled from its end (each state needs its successor's name), so names
        are placeholders until here."""
        every = sorted((p for scope in self.scopes for p in scope.pending), key=lambda p: (p.line, -p.order))
        names: dict[str, str] = {}
        for p in every:
            base = self.bases[p.name]
            name, n = base, 2
            while name in names.values():
                name, n = f"{base} {n}", n + 1
            names[p.name] = name

        for scope in reversed(self.scopes):
            scope.container.start_at = replace_strings(scope.container.start_at, names)
            for p in sorted(scope.pending, key=lambda p: (p.line, -p.order)):
                getattr(scope.container, p.method)(names[p.name], **replace_strings(p.fields, names))
                if p.method == "task":
                    scope.container._sources[names[p.name]] = f"{self.tr.filename}:{p.line + self.tr.line_offset}"


def compile_function(fn: Callable[..., Any]) -> Workflow:
    """The JSONata workflow that ``fn``'s body describes."""
    filename = inspect.getsourcefile(fn) or "<unknown>"
    try:
        lines, first_line = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        raise FlowCompileError(filename, fn.__code__.co_firstlineno, f"the source of {fn.__qualname__} cannot be "
                               "read, so it cannot be compiled; build this workflow with flow.Workflow") from None
    tree = ast.parse(textwrap.dedent("".join(lines)))
    function = tree.body[0]
    if not isinstance(function, ast.FunctionDef):
        raise FlowCompileError(filename, first_line, "@flow.workflow decorates a plain function")
    compiler = _Compiler(fn, filename, first_line - 1)
    params = [a.arg for a in function.args.args]
    if len(params) > 1:
        raise compiler.tr.error(function, "a workflow function takes one parameter, the execution input")
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]  # the docstring
    compiler.tr.variables.update(params)
    compiler.tr.variables.update(_assigned_names(function))
    workflow = Workflow("Start", query_language="JSONata", comment=inspect.getdoc(fn) or UNSET)
    scope = _Scope(workflow)
    compiler.scopes.append(scope)
    start = compiler.name("Start")
    workflow.start_at = start
    first = compiler.block(scope, body, None)
    assign = {"assign": {params[0]: "{% $states.input %}"}} if params else {}
    compiler.add(scope, 0, "pass_", start, **assign, **_Compiler.transition(first))
    compiler.finish()
    workflow.input_type = _input_model(fn, params)
    require_types(workflow, workflow.input_type)
    return workflow


def _input_model(fn: Callable[..., Any], params: list[str]) -> Any:
    """The pydantic model the workflow's parameter is annotated with, if any."""
    try:
        hint = typing.get_type_hints(fn).get(params[0]) if params else None
    except (NameError, TypeError):
        return None
    return hint if isinstance(hint, type) and issubclass(hint, BaseModel) else None


def _assigned_names(function: ast.FunctionDef) -> set[str]:
    """Every name the body binds (assignments, loop variables, except names): the variables."""
    names: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.For) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def workflow(fn: Callable[..., Any]) -> Workflow:
    """Decorate a function whose body is compiled to a workflow (see the module's doc)."""
    return compile_function(fn)
