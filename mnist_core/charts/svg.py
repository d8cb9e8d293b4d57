"""A tiny SVG toolkit for the HTML report's static charts: a plotting area, text, legend, frame.

The report needs static pictures and no chart engine is installed (vl-convert is not), so the
report's figures are drawn as self-contained SVG strings (no script, no external reference).
"""

from __future__ import annotations

import html


def escape(x: object) -> str:
    return html.escape(str(x), quote=True)


class Plot:
    """A tiny SVG plotting area: linear x and y mapped onto a box, text helpers."""

    def __init__(
        self, x0: float, y0: float, w: float, h: float, xr: tuple[float, float], yr: tuple[float, float]
    ) -> None:
        self.x0, self.y0, self.w, self.h, self.xr, self.yr = x0, y0, w, h, xr, yr

    def sx(self, x: float) -> float:
        return self.x0 + (x - self.xr[0]) / ((self.xr[1] - self.xr[0]) or 1) * self.w

    def sy(self, y: float) -> float:
        return self.y0 + (1 - (y - self.yr[0]) / ((self.yr[1] - self.yr[0]) or 1)) * self.h

    def polyline(self, pts: list[tuple[float, float]], colour: str, width: float = 2, dash: str = "") -> str:
        if len(pts) < 2:
            return ""
        coords = " ".join(f"{self.sx(x):.1f},{self.sy(y):.1f}" for x, y in pts)
        d = f" stroke-dasharray='{dash}'" if dash else ""
        return f"<polyline points='{coords}' fill='none' stroke='{colour}' stroke-width='{width}'{d}/>"

    def dots(self, pts: list[tuple[float, float]], colour: str, r: float = 2.5) -> str:
        return "".join(
            f"<circle cx='{self.sx(x):.1f}' cy='{self.sy(y):.1f}' r='{r}' fill='{colour}'/>" for x, y in pts
        )

    def frame(self, xticks: list[float], yticks: list[float], xfmt, yfmt) -> str:
        parts = [
            f"<rect x='{self.x0}' y='{self.y0}' width='{self.w}' height='{self.h}' fill='none' stroke='#ccc'/>"
        ]
        for y in yticks:
            parts.append(
                f"<line x1='{self.x0}' x2='{self.x0 + self.w}' y1='{self.sy(y):.1f}' y2='{self.sy(y):.1f}' "
                f"stroke='#eee'/>" + text(self.x0 - 4, self.sy(y) + 4, yfmt(y), "end")
            )
        for x in xticks:
            parts.append(text(self.sx(x), self.y0 + self.h + 14, xfmt(x), "middle"))
        return "".join(parts)


def text(
    x: float, y: float, words: str, anchor: str = "start", size: int = 11, weight: str = "normal"
) -> str:
    return (
        f"<text x='{x:.1f}' y='{y:.1f}' text-anchor='{anchor}' font-size='{size}' font-weight='{weight}' "
        f"font-family='sans-serif' fill='#333'>{escape(words)}</text>"
    )


def svg(width: int, height: int, title: str, body: list[str]) -> str:
    """A whole picture: `body`'s elements in one <svg>, titled for screen readers."""
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' role='img' aria-label='{escape(title)}' width='{width}' "
        f"height='{height}' viewBox='0 0 {width} {height}'>" + "".join(body) + "</svg>"
    )


def legend(x: float, y: float, items: list[tuple[str, str]]) -> str:
    """(name, colour) items in a row from (x, y), a short bar before each name."""
    parts = []
    for k, (name, colour) in enumerate(items):
        lx = x + k * 150
        parts.append(
            f"<rect x='{lx}' y='{y - 4}' width='14' height='3' fill='{colour}'/>" + text(lx + 18, y, name)
        )
    return "".join(parts)


def pct(v: float) -> str:
    """0.9 → "90%" (axis ticks, where space is short)."""
    return f"{v * 100:.0f}%"
