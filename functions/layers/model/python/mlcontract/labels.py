"""Labels as text, the one cast every function applies (``1``, ``1.0`` and `` 1`` are the same
class). Pure Python, so what compares a label without numbers to crunch (the router's
``/feedback``, :mod:`mlcontract.router_state`) does not need numpy; :mod:`mlcontract.features`
re-exports these for the functions that do.
"""

from __future__ import annotations

import math
from typing import Any

#: Cell values read as missing (case-insensitive, after stripping blanks).
MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})


def label_text(value: Any) -> str | None:
    """A label as text, ``None`` when missing; numeric labels normalised (``1.0`` -> ``1``)."""
    if value is None:
        return None
    text = str(value).strip()
    if text.lower() in MISSING_MARKERS:
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isfinite(number) and number == int(number):
        return str(int(number))
    return text


def class_sort_key(label: str) -> tuple[int, float, str]:
    """Numeric classes in numeric order, then the others alphabetically."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)
