"""Python expressions -> JSONata, for the function-body compiler (:mod:`stepkit.flow.compiler`).

What translates: constants, variables (``x`` -> ``$x``), ``a.b``, ``a["k"]``, ``a[0]``,
comparisons, ``and``/``or``/``not``, arithmetic, list and dict displays, f-strings and
``len``/``str``/``sum``/``max``/``min``/``abs``/``round``. Anything else is a
:class:`FlowCompileError` naming the file and line.
"""

from __future__ import annotations

import ast
import json

FUNCTIONS = {"len": "$count", "str": "$string", "sum": "$sum", "max": "$max", "min": "$min", "abs": "$abs",
             "round": "$round", "int": "$floor", "float": "$number"}
COMPARISONS = {ast.Eq: "=", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in"}
ARITHMETIC = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%"}


class FlowCompileError(SyntaxError):
    """Python the compiler does not translate, with where it is and what is supported instead."""

    def __init__(self, filename: str, line: int, message: str) -> None:
        super().__init__(f"{filename}:{line}: {message}")
        self.filename, self.lineno, self.reason = filename, line, message


class Translator:
    """Expressions of one function; ``variables`` are the names it may read."""

    def __init__(self, filename: str, line_offset: int) -> None:
        self.filename = filename
        self.line_offset = line_offset
        self.variables: set[str] = set()

    def error(self, node: ast.AST, message: str) -> FlowCompileError:
        return FlowCompileError(self.filename, getattr(node, "lineno", 1) + self.line_offset, message)

    def template(self, node: ast.expr) -> str:
        """The expression as a ``{% ... %}`` string."""
        return "{% " + self.expr(node) + " %}"

    def expr(self, node: ast.expr) -> str:
        if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, bool | int | float | str)):
            return json.dumps(node.value)
        if isinstance(node, ast.Name):
            if node.id not in self.variables:
                raise self.error(node, f"{node.id!r} is not a variable of this workflow (its parameter, an "
                                       "assigned name, a loop variable or an except name)")
            return f"${node.id}"
        if isinstance(node, ast.Attribute):
            return f"{self.expr(node.value)}.`{node.attr}`"
        if isinstance(node, ast.Subscript):
            return self._subscript(node)
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in COMPARISONS:
            return f"({self.expr(node.left)} {COMPARISONS[type(node.ops[0])]} {self.expr(node.comparators[0])})"
        if isinstance(node, ast.BoolOp):
            joiner = " and " if isinstance(node.op, ast.And) else " or "
            return "(" + joiner.join(self.expr(v) for v in node.values) + ")"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub):
            inner = self.expr(node.operand)
            return f"$not({inner})" if isinstance(node.op, ast.Not) else f"-{inner}"
        if isinstance(node, ast.BinOp) and type(node.op) in ARITHMETIC:
            return f"({self.expr(node.left)} {ARITHMETIC[type(node.op)]} {self.expr(node.right)})"
        if isinstance(node, ast.List | ast.Tuple):
            return "[" + ", ".join(self.expr(e) for e in node.elts) + "]"
        if isinstance(node, ast.Dict) and all(isinstance(k, ast.Constant) and isinstance(k.value, str)
                                              for k in node.keys):
            pairs = (f"{json.dumps(k.value)}: {self.expr(v)}" for k, v in zip(node.keys, node.values, strict=True))  # type: ignore[union-attr]
            return "{" + ", ".join(pairs) + "}"
        if isinstance(node, ast.JoinedStr):
            return "(" + " & ".join(self._fstring_part(v) for v in node.values) + ")" if node.values else '""'
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS \
                and not node.keywords:
            return f"{FUNCTIONS[node.func.id]}(" + ", ".join(self.expr(a) for a in node.args) + ")"
        raise self.error(node, f"the expression {ast.unparse(node)!r} has no JSONata translation; use variables, "
                               "constants, a.b, a['k'], comparisons, and/or/not, arithmetic, f-strings or "
                               f"{', '.join(FUNCTIONS)}")

    def _subscript(self, node: ast.Subscript) -> str:
        key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            return f"{self.expr(node.value)}.`{key.value}`"
        if isinstance(key, ast.Constant) and isinstance(key.value, int) and not isinstance(key.value, bool):
            return f"{self.expr(node.value)}[{key.value}]"
        raise self.error(node, "a subscript is a constant key or index (a['k'], a[0])")

    def _fstring_part(self, node: ast.expr) -> str:
        if isinstance(node, ast.FormattedValue):
            if node.format_spec is not None or node.conversion != -1:
                raise self.error(node, "f-string format specs and conversions have no JSONata translation")
            return f"$string({self.expr(node.value)})"
        return self.expr(node)
