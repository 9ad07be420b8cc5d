"""ASL -> Python: :func:`to_python` writes builder code for a definition.

The code is one builder call per state, in the definition's order and with the states'
own names; a ``Parallel`` branch or a ``Map`` processor is a :class:`~stepkit.flow.Branch`
or :class:`~stepkit.flow.ItemProcessor` built just before the state that uses it. The
objects inside states (retriers, catchers, Choice rules, the Map's reader, batcher and
writer) are calls of their :mod:`stepkit.flow` functions; only the JSON values of fields
(templates, ``Result``, JSONata strings) are written as Python literals. Running the code
gives back a definition equal to the one it was written from.
"""

from __future__ import annotations

import json
import keyword
import re
from typing import Any

from pydantic import BaseModel

from stepkit.asl import definition_model as model
from stepkit.flow.fields import aliases, snake

WIDTH = 100
INDENT = "    "

#: State type -> builder method.
METHODS = {
    "Task": "task",
    "Pass": "pass_",
    "Wait": "wait",
    "Choice": "choice",
    "Succeed": "succeed",
    "Fail": "fail",
    "Parallel": "parallel",
    "Map": "map",
}

#: ASL fields holding objects that have a builder function: field -> (function, model, a list?).
OBJECT_FIELDS: dict[str, tuple[str, type[BaseModel], bool]] = {
    "Retry": ("retry", model.Retrier, True),
    "Catch": ("catch", model.Catcher, True),
    "Choices": ("rule", model.ChoiceRule, True),
    "And": ("rule", model.ChoiceRule, True),
    "Or": ("rule", model.ChoiceRule, True),
    "Not": ("rule", model.ChoiceRule, False),
    "ProcessorConfig": ("processor_config", model.ProcessorConfig, False),
    "ItemReader": ("item_reader", model.ItemReader, False),
    "ReaderConfig": ("reader_config", model.ReaderConfig, False),
    "ItemBatcher": ("item_batcher", model.ItemBatcher, False),
    "ResultWriter": ("result_writer", model.ResultWriter, False),
    "WriterConfig": ("writer_config", model.WriterConfig, False),
}


class NotExpressible(ValueError):
    """The definition has something the builder has no call for (it is not valid ASL)."""


class _Code:
    """Source lines being written, and the variable names already taken."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.taken: set[str] = {"flow"}

    def variable(self, hint: str) -> str:
        base = "_".join(snake(word).rstrip("_") for word in re.findall(r"[A-Za-z0-9]+", hint)) or "states"
        if base[0].isdigit() or keyword.iskeyword(base):
            base = f"s_{base}"
        name, n = base, 2
        while name in self.taken:
            name, n = f"{base}_{n}", n + 1
        self.taken.add(name)
        return name


def literal(value: Any, indent: str = "") -> str:
    """A JSON value as a Python literal, broken over lines when long."""
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if value.isprintable() else json.dumps(value)
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        items = [(literal(k), v) for k, v in value.items()]
        return _group("{", "}", [f"{k}: {literal(v, indent + INDENT)}" for k, v in items], indent)
    if isinstance(value, list):
        return _group("[", "]", [literal(v, indent + INDENT) for v in value], indent)
    raise NotExpressible(f"{type(value).__name__} is not a JSON value")


def _group(open_: str, close: str, parts: list[str], indent: str) -> str:
    flat = open_ + ", ".join(parts) + close
    if not parts or (len(flat) + len(indent) <= WIDTH and "\n" not in flat):
        return flat
    inner = indent + INDENT
    return open_ + "\n" + "".join(f"{inner}{p},\n" for p in parts) + indent + close


def _call(function: str, arguments: list[str], indent: str) -> str:
    return _group(f"{function}(", ")", arguments, indent)


def _keywords(owner: type[BaseModel], obj: dict[str, Any], indent: str, where: str) -> list[str]:
    """``name=value`` for each field of an ASL object (``Type`` left out)."""
    params = {alias: name for name, alias in aliases(owner).items()}
    out = []
    for field, value in obj.items():
        if field == "Type":
            continue
        if field not in params:
            kind = owner.__name__.removesuffix("Schema")
            raise NotExpressible(f"{where}: the field {field!r} is not an ASL field of {kind}")
        out.append(f"{params[field]}={_value(field, value, indent + INDENT, where)}")
    return out


def _value(field: str, value: Any, indent: str, where: str) -> str:
    spec = OBJECT_FIELDS.get(field)
    if spec is None:
        return literal(value, indent)
    function, owner, many = spec
    if many and isinstance(value, list) and all(isinstance(v, dict) for v in value):
        calls = [_call(f"flow.{function}", _keywords(owner, v, indent + INDENT, where), indent + INDENT)
                 for v in value]
        return _group("[", "]", calls, indent)
    if not many and isinstance(value, dict):
        return _call(f"flow.{function}", _keywords(owner, value, indent, where), indent)
    return literal(value, indent)


def _container(code: _Code, variable: str, cls: str, obj: Any, where: str) -> None:
    """Write ``variable = flow.<cls>(...)`` and one call per state of ``obj``."""
    owners: dict[str, type[BaseModel]] = {"Workflow": model.StateMachineSchema, "Branch": model.BranchSchema,
                                          "ItemProcessor": model.ItemProcessorSchema}
    owner = owners[cls]
    if not isinstance(obj, dict) or not isinstance(obj.get("States"), dict) or "StartAt" not in obj:
        raise NotExpressible(f"{where}: needs StartAt and an object of States")
    head = {k: v for k, v in obj.items() if k not in ("States", "StartAt")}
    arguments = [literal(obj["StartAt"]), *_keywords(owner, head, "", where)]
    code.lines.append(f"{variable} = {_call(f'flow.{cls}', arguments, '')}")
    for name, state in obj["States"].items():
        _state(code, variable, name, state, f"{where}/States/{name}")


def _state(code: _Code, owner: str, name: str, state: Any, where: str) -> None:
    kind = state.get("Type") if isinstance(state, dict) else None
    if kind not in METHODS:
        raise NotExpressible(f"{where}: a state is an object whose Type is one of {', '.join(METHODS)}")
    fields = dict(state)
    nested: dict[str, str] = {}
    for field, cls in (("Branches", "Branch"), ("ItemProcessor", "ItemProcessor"), ("Iterator", "ItemProcessor")):
        if field not in fields:
            continue
        objects = fields[field] if field == "Branches" else [fields[field]]
        if not isinstance(objects, list):
            raise NotExpressible(f"{where}: Branches must be an array")
        names = []
        for i, obj in enumerate(objects):
            variable = code.variable(f"{name}_{'branch' if cls == 'Branch' else 'items'}"
                                     + (f"_{i + 1}" if field == "Branches" else ""))
            code.lines.append("")
            _container(code, variable, cls, obj, f"{where}/{field}")
            names.append(variable)
        nested[field] = f"[{', '.join(names)}]" if field == "Branches" else names[0]
    arguments = [literal(name)]
    for part in _keywords(model.STATE_MODELS[kind], fields, "", where):
        key = part.split("=", 1)[0]
        alias = aliases(model.STATE_MODELS[kind])[key]
        arguments.append(f"{key}={nested[alias]}" if alias in nested else part)
    code.lines.append("")
    code.lines.append(f"{owner}.{METHODS[kind]}" + _call("", arguments, ""))


def to_python(definition: dict[str, Any], *, variable: str = "workflow") -> str:
    """Builder code that rebuilds ``definition``; its module-level ``variable`` is the Workflow.

    Raises :class:`NotExpressible` for something no builder call expresses (an unknown
    field, a state that is not an object, an unknown ``Type``): such a definition is not
    valid ASL.
    """
    code = _Code()
    code.taken.add(variable)
    code.lines += ['"""Written by stepkit.flow.to_python."""', "", "from stepkit import flow", ""]
    _container(code, variable, "Workflow", definition, "")
    return "\n".join(code.lines) + "\n"


def from_python(source: str, *, variable: str = "workflow", filename: str = "<flow>") -> dict[str, Any]:
    """Run builder code (as written by :func:`to_python`) and return its workflow's definition."""
    from stepkit.flow.builder import Workflow

    namespace: dict[str, Any] = {"__name__": "stepkit_flow_source"}
    exec(compile(source, filename, "exec"), namespace)
    workflow = namespace.get(variable)
    if not isinstance(workflow, Workflow):
        raise ValueError(f"{filename} defines no flow.Workflow named {variable!r}")
    return workflow.to_asl()
