"""The names an ``Assign`` field may give a variable, as the AWS Step Functions developer
guide documents them (page "Passing data between states with variables",
https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html):

- "Variable name syntax": "Variable names follow the rules for Unicode Identifiers as
  described in Unicode® Standard Annex #31. The first character of a variable name must be a
  Unicode ID_Start character, and the second and subsequent characters must be Unicode
  ID_Continue characters. The maximum length of a variable name is 80."
- "Reserved variable : $states": "Step Functions defines a single reserved variable called
  $states."
- "Assign field in ASL": "You cannot assign a value to a part of a variable. For example, you
  can "Assign":{"x":42}, but you cannot "Assign":{"x.y":42} or "Assign":{"x[2]":42}." ('.' and
  '[' are no ID_Continue characters, so the syntax rule already refuses both.)
- "Variable scope": an inner scope (inside a Map or Parallel state) may not assign a name an
  outer scope assigns (:func:`outer_scope_clashes`).

The guide says neither when these rules are enforced nor with which diagnostic; the
validator reports them when a definition is checked (they are properties of the definition
text) as SCHEMA_VALIDATION_FAILED, the only listed ValidateStateMachineDefinition code that
fits. The messages are stepkit's: AWS's are not on record.

In a JSONPath state a key ending in ``.$`` names the variable without that suffix
("products.$" assigns ``$products``, same page, "Assigning variables in JSONPath"); in a JSONata
state the key is the name as written.

ID_Start and ID_Continue are computed from the Unicode database Python ships, with UAX #31's
definitions (ID_Start: letters, letter numbers and Other_ID_Start, less Pattern_Syntax and
Pattern_White_Space; ID_Continue: ID_Start plus non-spacing and spacing marks, decimal digits,
connector punctuation and Other_ID_Continue, less the same). Python's own
``str.isidentifier`` is not used: it follows XID and lets ``_`` start a name, which ID_Start
does not.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

from stepkit.asl.definition_fields import Location
from stepkit.asl.definition_model import JSONPATH, QUERY_LANGUAGES

__all__ = [
    "MAX_VARIABLE_NAME_LENGTH",
    "RESERVED_VARIABLE",
    "assigned_names",
    "outer_scope_clashes",
    "outer_scope_message",
    "state_assignments",
    "variable_name_problem",
]

MAX_VARIABLE_NAME_LENGTH = 80
#: ``$states`` is the reserved variable; a variable is referenced as ``$`` + its name.
RESERVED_VARIABLE = "states"

_ID_START_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nl"})
_ID_CONTINUE_CATEGORIES = frozenset({"Mn", "Mc", "Nd", "Pc"})
# PropList.txt (Unicode 14): Other_ID_Start and Other_ID_Continue.
_OTHER_ID_START = frozenset("\u1885\u1886\u2118\u212e\u309b\u309c")
_OTHER_ID_CONTINUE = frozenset("\u00b7\u0387\u19da" + "".join(chr(c) for c in range(0x1369, 0x1372)))
# The one Pattern_Syntax character whose category would otherwise make it ID_Start/Continue
# (U+2E2F VERTICAL TILDE, Lm); Pattern_White_Space holds no letter, mark, digit or Pc.
_PATTERN_SYNTAX_LETTERS = frozenset("\u2e2f")


def is_id_start(char: str) -> bool:
    if char in _PATTERN_SYNTAX_LETTERS:
        return False
    return unicodedata.category(char) in _ID_START_CATEGORIES or char in _OTHER_ID_START


def is_id_continue(char: str) -> bool:
    if is_id_start(char) or char in _OTHER_ID_CONTINUE:
        return True
    return char not in _PATTERN_SYNTAX_LETTERS and unicodedata.category(char) in _ID_CONTINUE_CATEGORIES


def variable_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a variable's name, or None when it can.

    AWS's wording for these errors is not on record; the messages follow the validator's
    style (the state-name length message) and quote the documented rule.
    """
    if not name or len(name) > MAX_VARIABLE_NAME_LENGTH:
        return f"The variable name '{name}' must be between 1 and {MAX_VARIABLE_NAME_LENGTH} characters long"
    if not is_id_start(name[0]) or not all(is_id_continue(char) for char in name[1:]):
        return (
            f"The variable name '{name}' is invalid: the first character of a variable name must be "
            "a Unicode ID_Start character, and the second and subsequent characters must be "
            "Unicode ID_Continue characters"
        )
    if name == RESERVED_VARIABLE:
        return f"The variable name '{name}' is invalid: '${RESERVED_VARIABLE}' is a reserved variable"
    return None


def outer_scope_message(name: str) -> str:
    """AWS's wording is not on record; this one says the documented rule."""
    return (
        f"The variable '{name}' is assigned in an outer scope: a variable assigned in an inner scope "
        "(inside a Map or Parallel state) cannot have the same name as one assigned in an outer scope"
    )


def assigned_names(assign: Mapping[str, Any], language: str) -> Iterator[tuple[str, str]]:
    """``(key, variable name)`` for every entry of one ``Assign`` object."""
    for key in assign:
        if not isinstance(key, str):
            continue
        if language == JSONPATH and key.endswith(".$"):
            yield key, key[:-2]
        else:
            yield key, key


_NESTED = (("ItemProcessor",), ("Iterator",))


def state_assignments(state: Mapping[str, Any], language: str) -> Iterator[tuple[Location, str]]:
    """``(location inside the state, variable name)`` for each name one state assigns: its
    own ``Assign``, its Catchers' and its Choice rules' (the places the guide lists: "The
    Assign field is available at the top level of each state (except Succeed and Fail),
    inside Choice state rules, and inside Catch fields")."""
    places: list[tuple[Any, Location]] = [(state.get("Assign"), ("Assign",))]
    for field in ("Catch", "Choices"):
        entries = state.get(field)
        if isinstance(entries, list):
            for index, entry in enumerate(entries):
                if isinstance(entry, Mapping):
                    places.append((entry.get("Assign"), (field, index, "Assign")))
    for assign, where in places:
        if isinstance(assign, Mapping):
            for key, name in assigned_names(assign, language):
                yield (*where, key), name


def outer_scope_clashes(
    machine: Mapping[str, Any], top_language: str, outer: frozenset[str] = frozenset(), loc: Location = ()
) -> Iterator[tuple[Location, str]]:
    """Assignments inside a Map or Parallel state to a name an enclosing scope assigns.

    The guide, "Variable scope": "A variable exists in a scope if any state in the scope
    assigns a value to it. To help avoid common errors, a variable assigned in an inner scope
    cannot have the same name as one assigned in an outer scope. For example, if the
    top-level scope assigns a value to a variable called myVariable, then no other scope
    (inside a Map, Parallel) can assign to myVariable as well." A Map's or Parallel's own
    Assign and Catch assign in the scope the state sits in ("the Assign field in a Catch can
    assign values to variables in the outer scope").
    """
    states = machine.get("States")
    if not isinstance(states, Mapping):
        return
    scope: set[str] = set()
    for name, state in states.items():
        if not isinstance(state, Mapping):
            continue
        declared = state.get("QueryLanguage")
        language = str(declared) if declared in QUERY_LANGUAGES else top_language
        for where, variable in state_assignments(state, language):
            scope.add(variable)
            if variable in outer:
                yield (*loc, "States", name, *where), variable
    enclosing = outer | scope
    for name, state in states.items():
        if not isinstance(state, Mapping):
            continue
        nested: list[tuple[Any, Location]] = [(state.get(field[0]), field) for field in _NESTED]
        branches = state.get("Branches")
        if isinstance(branches, list):
            nested += [(branch, ("Branches", index)) for index, branch in enumerate(branches)]
        for inner, where in nested:
            if isinstance(inner, Mapping):
                yield from outer_scope_clashes(inner, top_language, enclosing, (*loc, "States", name, *where))
