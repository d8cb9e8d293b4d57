"""Small text helpers shared by the core's messages, the pages and the charts: percentages and
HTML escaping, so each is written one way."""

from __future__ import annotations

import html


def percent(fraction: float, digits: int = 1, spaced: bool = False, trim: bool = False) -> str:
    """A share as a percentage with `digits` decimals: 0.9812 → "98.1%" ("98.1 %" when `spaced`,
    the app's prose style; trailing zeros dropped when `trim`: 0.985 at 2 digits → "98.5%")."""
    number = f"{fraction * 100:.{digits}f}"
    if trim and "." in number:
        number = number.rstrip("0").rstrip(".")
    return f"{number}{' ' if spaced else ''}%"


def escape(value: object) -> str:
    """`value` as text safe inside HTML, quotes included (attribute values too)."""
    return html.escape(str(value), quote=True)
