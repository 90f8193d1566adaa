"""Numbers as the board shows them."""

from __future__ import annotations

import math
from typing import Any


def format_number(value: Any, kind: str, like: Any = None) -> str:
    """One number as shown on the board (``-`` when missing).

    ``score``: 3 decimals; ``int``: an integer; ``rate``/``seconds``: about three
    significant digits of ``like`` (default: the value itself), so a std is printed
    with its mean's precision.
    """
    if not finite(value):
        return "-"
    value = float(value)
    if kind == "int":
        return str(int(round(value)))
    if kind in ("score", "fraction"):
        return f"{value:.3f}"
    magnitude = abs(float(like)) if finite(like) else abs(value)
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 0.01 or magnitude == 0:
        return f"{value:.2f}"
    return f"{value:.2g}"


def finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
