"""A state machine definition as a graph: one model that feeds every format.

``definition_graph(definition)`` walks an Amazon States Language definition (a parsed dict)
and returns a :class:`Graph`: a node per state (every one, however deeply nested), a group
per ``Parallel`` branch and per ``Map`` item processor, and edges of distinct kinds:

- ``start`` / ``end``: from the pseudo-node ``Start``, and to ``End`` from the top level's
  last states (``End: true``, Succeed, Fail);
- ``next``: a state's ``Next``;
- ``choice``: a ``Choice`` rule, labelled with the rule (``$.score NumericGreaterThan 0.8``,
  ``not (...)``, ``(a) and (b)``, a JSONata ``Condition``); ``default``: its ``Default``;
- ``catch``: a ``Catch`` clause, labelled with its ``ErrorEquals``;
- ``retry``: a loop on the state for each ``Retry`` rule (its errors and attempts);
- ``branch`` / ``items``: from a ``Parallel`` state into each branch's start, from a ``Map``
  state into its item processor's start.

The same model is written as Mermaid (``to_mermaid``), Graphviz DOT (``to_dot``; SVG is DOT
laid out by Graphviz's ``dot``), and JSON for the browser viewer (``to_dict``), which lays
it out with dagre.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

START, END = "__start__", "__end__"
_LABEL_LIMIT = 80


@dataclass
class Node:
    id: str
    name: str
    type: str
    group: str | None = None


@dataclass
class Group:
    id: str
    label: str
    kind: str  # "branch" (of a Parallel state) or "processor" (of a Map state)
    state: str  # the id of the Parallel or Map state's node
    parent: str | None = None


@dataclass
class Edge:
    source: str
    target: str
    kind: str
    label: str = ""


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"nodes": [asdict(n) for n in self.nodes], "groups": [asdict(g) for g in self.groups],
                "edges": [asdict(e) for e in self.edges]}


class GraphError(ValueError):
    """The definition has no shape a graph can be drawn from (no ``States``, no ``StartAt``)."""


# -- choice rules as text ---------------------------------------------------------------------------
_COMBINATORS = {"And": " and ", "Or": " or "}


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= _LABEL_LIMIT else text[: _LABEL_LIMIT - 1] + "…"


def rule_text(rule: dict[str, Any]) -> str:
    """A Choice rule in one line: its variable, comparison and value, combinators spelt out."""
    if "Condition" in rule:
        condition = rule["Condition"]
        if isinstance(condition, str):
            condition = condition.removeprefix("{%").removesuffix("%}").strip()
        return _short(condition)
    for name, joiner in _COMBINATORS.items():
        if isinstance(rule.get(name), list):
            return joiner.join(f"({rule_text(r)})" for r in rule[name] if isinstance(r, dict))
    if isinstance(rule.get("Not"), dict):
        return f"not ({rule_text(rule['Not'])})"
    variable = rule.get("Variable", "?")
    for key, value in rule.items():
        if key not in ("Variable", "Next", "Comment", "Assign", "Output"):
            return f"{variable} {key} {_short(value)}"
    return str(variable)


def _errors_text(rule: dict[str, Any]) -> str:
    errors = rule.get("ErrorEquals")
    return ", ".join(str(e) for e in errors) if isinstance(errors, list) else "?"


# -- the walk ------------------------------------------------------------------------------------
class _Builder:
    def __init__(self) -> None:
        self.graph = Graph()
        self._ids: set[str] = set()
        self._names: dict[str, str] = {}

    def _new_id(self, name: str) -> str:
        base = "s_" + "".join(c if c.isalnum() else "_" for c in name)
        candidate, n = base, 1
        while candidate in self._ids:
            n += 1
            candidate = f"{base}_{n}"
        self._ids.add(candidate)
        self._names[candidate] = name
        return candidate

    def scope(self, machine: Any, group: str | None) -> str | None:
        """The states of one scope (the top level, a branch, a processor): the id of its start."""
        if not isinstance(machine, dict) or not isinstance(machine.get("States"), dict):
            raise GraphError("a definition (and each branch and item processor) needs a 'States' object")
        states: dict[str, Any] = machine["States"]
        ids = {name: self._new_id(name) for name in states}
        for name, state in states.items():
            state = state if isinstance(state, dict) else {}
            self.graph.nodes.append(Node(ids[name], name, str(state.get("Type", "?")), group))
        for name, state in states.items():
            if isinstance(state, dict):
                self._edges(ids[name], state, ids, group)
        start = machine.get("StartAt")
        return ids.get(start) if isinstance(start, str) else None

    def _edges(self, node: str, state: dict[str, Any], ids: dict[str, str], group: str | None) -> None:
        def link(target: Any, kind: str, label: str = "") -> None:
            if isinstance(target, str) and target in ids:
                self.graph.edges.append(Edge(node, ids[target], kind, label))

        link(state.get("Next"), "next")
        if group is None and (state.get("End") is True or state.get("Type") in ("Succeed", "Fail")):
            self.graph.edges.append(Edge(node, END, "end"))
        if state.get("Type") == "Choice":
            for rule in state.get("Choices") or []:
                if isinstance(rule, dict):
                    link(rule.get("Next"), "choice", rule_text(rule))
            link(state.get("Default"), "default", "Default")
        for retrier in state.get("Retry") or []:
            if isinstance(retrier, dict):
                attempts = retrier.get("MaxAttempts", 3)
                self.graph.edges.append(Edge(node, node, "retry", f"retry {_errors_text(retrier)} x{attempts}"))
        for catcher in state.get("Catch") or []:
            if isinstance(catcher, dict):
                link(catcher.get("Next"), "catch", f"catch {_errors_text(catcher)}")
        self._children(node, state, group)

    def _children(self, node: str, state: dict[str, Any], group: str | None) -> None:
        name = self._names[node]
        if state.get("Type") == "Parallel":
            for i, branch in enumerate(state.get("Branches") or [], 1):
                self._nested(node, branch, Group(f"{node}__branch{i}", f"{name}: branch {i}", "branch", node, group),
                             "branch", f"branch {i}")
        elif state.get("Type") == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator")
            self._nested(node, processor, Group(f"{node}__items", f"{name}: each item", "processor", node, group),
                         "items", "each item")

    def _nested(self, node: str, machine: Any, group: Group, kind: str, label: str) -> None:
        self.graph.groups.append(group)
        start = self.scope(machine, group.id)
        if start is not None:
            self.graph.edges.append(Edge(node, start, kind, label))


def definition_graph(definition: Any) -> Graph:
    """The graph of a parsed definition; raises GraphError when it has no states to draw."""
    builder = _Builder()
    start = builder.scope(definition, None)
    if start is None:
        raise GraphError("the definition's 'StartAt' names none of its states")
    graph = builder.graph
    graph.nodes[:0] = [Node(START, "Start", "Start")]
    graph.nodes.append(Node(END, "End", "End"))
    graph.edges.insert(0, Edge(START, start, "start"))
    return graph


def _nested(graph: Graph, node_line: Callable[[Node], str], opening: Callable[[Group], list[str]],
            closing: str) -> list[str]:
    """The nodes of each group inside the group's opening and closing lines, nested and indented."""
    lines: list[str] = []

    def emit(group: str | None, indent: str) -> None:
        lines.extend(indent + node_line(node) for node in graph.nodes if node.group == group)
        for sub in graph.groups:
            if sub.parent == group:
                lines.extend(indent + line for line in opening(sub))
                emit(sub.id, indent + "  ")
                lines.append(indent + closing)

    emit(None, "  ")
    return lines


# -- Mermaid -------------------------------------------------------------------------------------
def _mermaid_text(text: str) -> str:
    return '"' + text.replace('"', "#quot;").replace("\n", " ") + '"'


_MERMAID_SHAPES = {"Choice": "{%s}", "Succeed": "([%s])", "Fail": "([%s])", "Start": "((%s))", "End": "((%s))",
                   "Parallel": "[[%s]]", "Map": "[[%s]]"}
_MERMAID_ARROWS = {"catch": "-.->", "retry": "-.->", "branch": "==>", "items": "==>"}


def to_mermaid(graph: Graph) -> str:
    """A Mermaid flowchart: groups as nested subgraphs, catch/retry edges dotted, into
    branches and processors thick."""
    lines = ["flowchart TD"]
    lines += _nested(graph, lambda node: node.id + _MERMAID_SHAPES.get(node.type, "[%s]") % _mermaid_text(node.name),
                     lambda group: [f"subgraph {group.id}[{_mermaid_text(group.label)}]"], "end")
    for edge in graph.edges:
        arrow = _MERMAID_ARROWS.get(edge.kind, "-->")
        label = f"|{_mermaid_text(edge.label)}|" if edge.label else ""
        lines.append(f"  {edge.source} {arrow}{label} {edge.target}")
    for node in graph.nodes:
        if node.type == "Fail":
            lines.append(f"  style {node.id} stroke:#c0392b,stroke-width:2px")
    return "\n".join(lines) + "\n"


# -- DOT / SVG -----------------------------------------------------------------------------------
def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


_DOT_SHAPES = {"Choice": "diamond", "Succeed": "doubleoctagon", "Fail": "octagon", "Start": "circle",
               "End": "doublecircle", "Parallel": "box3d", "Map": "box3d"}
_DOT_EDGES = {"catch": 'style=dashed, color="#c0392b", fontcolor="#c0392b"',
              "retry": 'style=dotted, color="#d35400", fontcolor="#d35400"',
              "branch": "penwidth=2", "items": "penwidth=2", "default": "style=bold"}


def to_dot(graph: Graph) -> str:
    """A Graphviz digraph: groups as nested clusters, catch edges dashed red, retry loops dotted."""
    lines = ["digraph stepkit {", '  rankdir=TB; compound=true; fontname="Helvetica";',
             '  node [shape=box, style="rounded", fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];']

    lines += _nested(graph, lambda node: f"{node.id} [label={_dot_text(node.name)}, "
                                         f"shape={_DOT_SHAPES.get(node.type, 'box')}];",
                     lambda group: [f"subgraph cluster_{group.id} {{",
                                    f'  label={_dot_text(group.label)}; style="rounded,dashed";'], "}")
    for edge in graph.edges:
        attrs = [a for a in (f"label={_dot_text(edge.label)}" if edge.label else "", _DOT_EDGES.get(edge.kind, ""))
                 if a]
        lines.append(f"  {edge.source} -> {edge.target}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    lines.append("}")
    return "\n".join(lines) + "\n"


class GraphvizMissing(RuntimeError):
    """SVG needs Graphviz's ``dot`` program, which is not on the PATH."""


def to_svg(graph: Graph, timeout: float = 120) -> str:
    """The DOT graph laid out and drawn by Graphviz's ``dot -Tsvg``."""
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizMissing("SVG is drawn by Graphviz's 'dot' program, which is not installed "
                              "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz); "
                              "--format dot and --format mermaid need nothing")
    done = subprocess.run([dot, "-Tsvg"], input=to_dot(graph), capture_output=True, text=True, timeout=timeout,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"dot failed: {done.stderr.strip()}")
    return done.stdout


FORMATS = {"mermaid": to_mermaid, "dot": to_dot, "svg": to_svg}
