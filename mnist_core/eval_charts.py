"""Altair charts of an evaluation: the confusion heatmap, per-class metrics, and run-vs-run deltas.

Builders return Altair objects (and the tables behind them); they never import Streamlit,
so tests can inspect the specs and the report can reuse the tables.

The heatmap colours are computed here rather than by a Vega scale: correct cells (the
diagonal) are green and mistakes orange-red on their own scale. With one shared scale the
diagonal (hundreds) would wash every mistake (a handful) out to white — exactly the cells
a learner needs to see.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from .evaluate import EvalResult

CELL_PARAM = "cell"  # name of the click selection on the heatmap (the page reads it back)
METRICS = ("precision", "recall", "f1")
_EMPTY = (247, 247, 247)
_GREEN = ((229, 245, 224), (0, 109, 44))   # light → dark: share of the digit predicted right
_RED = ((254, 230, 206), (179, 0, 0))       # light → dark: size relative to the worst mistake


def _mix(lo: tuple[int, int, int], hi: tuple[int, int, int], t: float) -> tuple[str, bool]:
    """Hex colour a fraction `t` of the way from `lo` to `hi`, and whether it needs white text."""
    t = min(max(t, 0.0), 1.0)
    rgb = [round(a + (b - a) * t) for a, b in zip(lo, hi)]
    luminance = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return "#%02x%02x%02x" % tuple(rgb), luminance < 140


def cell_colour(true: int, predicted: int, count: int, share: float,
                worst_mistake: int) -> tuple[str, bool]:
    """Fill colour and white-text flag of one confusion cell."""
    if count == 0:
        return "#%02x%02x%02x" % _EMPTY, False
    if true == predicted:
        return _mix(*_GREEN, share)
    # Square root: a mistake made once should still show, a mistake made often should stand out.
    return _mix(*_RED, (count / max(worst_mistake, 1)) ** 0.5)


def confusion_frame(result: EvalResult, normalized: bool = False) -> pd.DataFrame:
    """One row per cell: true, predicted, count, share of the row, the text shown and colours."""
    shares = result.normalized_confusion()
    worst = max((result.confusion[t][p] for t in range(10) for p in range(10) if t != p), default=0)
    rows = []
    for t in range(10):
        for p in range(10):
            count, share = int(result.confusion[t][p]), float(shares[t][p])
            fill, dark = cell_colour(t, p, count, share, worst)
            if normalized:  # a real but rare mistake must not read as "0%"
                text = f"{share:.0%}" if share >= 0.005 or count == 0 else "<1%"
            else:
                text = str(count)
            rows.append({"true": t, "predicted": p, "count": count, "share": share,
                         "text": text if count or t == p else "", "fill": fill,
                         "ink": "white" if dark else "#222222"})
    return pd.DataFrame(rows)


def confusion_heatmap(result: EvalResult, normalized: bool = False,
                      selected: tuple[int, int] | None = None, size: int = 400,
                      selectable: bool = True) -> alt.LayerChart:
    """Heatmap with counts (or row shares) in the cells; clicking a cell selects it."""
    df = confusion_frame(result, normalized)
    df["selected"] = [(t, p) == selected for t, p in zip(df["true"], df["predicted"])]
    cell = alt.selection_point(name=CELL_PARAM, fields=["true", "predicted"], on="click",
                               clear=False, toggle=False)
    base = alt.Chart(df).encode(
        x=alt.X("predicted:O", title="Predicted digit", axis=alt.Axis(orient="top", labelAngle=0)),
        y=alt.Y("true:O", title="True digit"),
    )
    tooltip = [alt.Tooltip("true:O", title="True"), alt.Tooltip("predicted:O", title="Predicted"),
               alt.Tooltip("count:Q", title="Images"),
               alt.Tooltip("share:Q", title="Share of row", format=".1%")]
    rects = base.mark_rect(cursor="pointer" if selectable else "default").encode(
        color=alt.Color("fill:N", scale=None),
        stroke=alt.condition("datum.selected", alt.value("#1f4e9e"), alt.value("white")),
        strokeWidth=alt.condition("datum.selected", alt.value(3), alt.value(1)),
        tooltip=tooltip,
    )
    if selectable:
        rects = rects.add_params(cell)
    text = base.mark_text(fontSize=12 if normalized else 13).encode(
        text="text:N", color=alt.Color("ink:N", scale=None), tooltip=tooltip)
    return (rects + text).properties(width=size, height=size)


def selected_cell(event: Any) -> tuple[int, int] | None:
    """The (true, predicted) cell clicked on the heatmap, from Streamlit's selection state."""
    try:
        points = event["selection"][CELL_PARAM]
    except (KeyError, TypeError, IndexError):
        return None
    if not points:
        return None
    point = points[0] if isinstance(points, list) else points
    try:
        true, predicted = int(point["true"]), int(point["predicted"])
    except (KeyError, TypeError, ValueError):
        return None
    return (true, predicted) if 0 <= true <= 9 and 0 <= predicted <= 9 else None


def per_class_frame(result: EvalResult) -> pd.DataFrame:
    """Digit, precision, recall, F1 and support: the table under the chart."""
    return pd.DataFrame([{"digit": c.digit, "precision": c.precision, "recall": c.recall,
                          "f1": c.f1, "support": c.support} for c in result.per_class])


def per_class_chart(result: EvalResult, height: int = 260) -> alt.Chart:
    """Grouped bars: precision, recall and F1 for each digit; the weakest digits stand out."""
    df = per_class_frame(result).melt(id_vars=["digit", "support"], value_vars=list(METRICS),
                                      var_name="metric", value_name="value")
    df["metric"] = df["metric"].map({"precision": "Precision", "recall": "Recall", "f1": "F1"})
    low = max(0.0, min(0.8, float(df["value"].min()) - 0.05))  # zoom in: differences live near 1
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("digit:O", title="Digit", axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("metric:N", sort=["Precision", "Recall", "F1"]),
        y=alt.Y("value:Q", title="Score", scale=alt.Scale(domain=[low, 1.0], clamp=True),
                axis=alt.Axis(format="%")),
        color=alt.Color("metric:N", sort=["Precision", "Recall", "F1"], title=None,
                        scale=alt.Scale(range=["#9ecae1", "#4292c6", "#08306b"]),
                        legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("digit:O", title="Digit"), alt.Tooltip("metric:N", title="Metric"),
                 alt.Tooltip("value:Q", title="Score", format=".1%"),
                 alt.Tooltip("support:Q", title="Images")],
    ).properties(height=height)


def f1_delta_frame(a: EvalResult, b: EvalResult) -> pd.DataFrame:
    """Per digit: F1 of run A, of run B, and B − A."""
    return pd.DataFrame([{"digit": ca.digit, "f1_a": ca.f1, "f1_b": cb.f1, "delta": cb.f1 - ca.f1}
                         for ca, cb in zip(a.per_class, b.per_class)])


def f1_delta_chart(a: EvalResult, b: EvalResult, name_a: str = "A", name_b: str = "B",
                   height: int = 240) -> alt.LayerChart:
    """Bars of B's F1 minus A's per digit: green where B is better, red where it is worse."""
    df = f1_delta_frame(a, b)
    df["better"] = df["delta"].map(lambda d: f"{name_b} better" if d >= 0 else f"{name_a} better")
    bars = alt.Chart(df).mark_bar().encode(
        x=alt.X("digit:O", title="Digit", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("delta:Q", title=f"F1 change ({name_b} − {name_a})", axis=alt.Axis(format="+.0%")),
        color=alt.Color("better:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=[f"{name_b} better", f"{name_a} better"],
                                        range=["#2ca02c", "#d62728"])),
        tooltip=[alt.Tooltip("digit:O", title="Digit"),
                 alt.Tooltip("f1_a:Q", title=f"F1 {name_a}", format=".1%"),
                 alt.Tooltip("f1_b:Q", title=f"F1 {name_b}", format=".1%"),
                 alt.Tooltip("delta:Q", title="Change", format="+.1%")],
    )
    zero = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(color="#555").encode(y="y:Q")
    return (bars + zero).properties(height=height)
