"""Altair charts of an evaluation: the confusion heatmap, per-class metrics, run-vs-run deltas,
and a model's accuracy against the baselines and the target.

Builders return Altair objects (and the tables behind them); they never import Streamlit,
so tests can inspect the specs and the report can reuse the tables. Colours come from
`palette`; the heatmap's cell colours are computed there (`palette.cell_colour`) rather
than by a Vega scale, so the HTML report's confusion table looks the same.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from mnist_core.charts import palette
from mnist_core.charts.palette import cell_colour
from mnist_core.data.baselines import CHANCE_ACCURACY
from mnist_core.evaluation.evaluate import EvalResult

CELL_PARAM = "cell"  # name of the click selection on the heatmap (the page reads it back)
METRICS = ("precision", "recall", "f1")


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
            rows.append(
                {
                    "true": t,
                    "predicted": p,
                    "count": count,
                    "share": share,
                    "text": text if count or t == p else "",
                    "fill": fill,
                    "ink": palette.TEXT_ON_DARK if dark else palette.TEXT,
                }
            )
    return pd.DataFrame(rows)


def confusion_heatmap(
    result: EvalResult,
    normalized: bool = False,
    selected: tuple[int, int] | None = None,
    size: int = 400,
    selectable: bool = True,
) -> alt.LayerChart:
    """Heatmap with counts (or row shares) in the cells; clicking a cell selects it."""
    df = confusion_frame(result, normalized)
    df["selected"] = [(t, p) == selected for t, p in zip(df["true"], df["predicted"])]
    cell = alt.selection_point(
        name=CELL_PARAM, fields=["true", "predicted"], on="click", clear=False, toggle=False
    )
    base = alt.Chart(df).encode(
        x=alt.X("predicted:O", title="Predicted digit", axis=alt.Axis(orient="top", labelAngle=0)),
        y=alt.Y("true:O", title="True digit"),
    )
    tooltip = [
        alt.Tooltip("true:O", title="True"),
        alt.Tooltip("predicted:O", title="Predicted"),
        alt.Tooltip("count:Q", title="Images"),
        alt.Tooltip("share:Q", title="Share of row", format=".1%"),
    ]
    rects = base.mark_rect(cursor="pointer" if selectable else "default").encode(
        color=alt.Color("fill:N", scale=None),
        stroke=alt.condition("datum.selected", alt.value(palette.SELECTED), alt.value(palette.PAPER)),
        strokeWidth=alt.condition("datum.selected", alt.value(3), alt.value(1)),
        tooltip=tooltip,
    )
    if selectable:
        rects = rects.add_params(cell)
    text = base.mark_text(fontSize=12 if normalized else 13).encode(
        text="text:N", color=alt.Color("ink:N", scale=None), tooltip=tooltip
    )
    return (rects + text).properties(width=size, height=size)


def selection_value(event: Any, name: str) -> Any:
    """What Streamlit's chart `event` holds for the selection parameter `name`; None when it is
    empty or the event has no such selection (no event yet, another chart's, an older layout)."""
    try:
        value = event["selection"][name]
    except (KeyError, TypeError, IndexError):
        return None
    return value or None


def selected_cell(event: Any) -> tuple[int, int] | None:
    """The (true, predicted) cell clicked on the heatmap, from Streamlit's selection state."""
    points = selection_value(event, CELL_PARAM)
    if points is None:
        return None
    point = points[0] if isinstance(points, list) else points
    try:
        true, predicted = int(point["true"]), int(point["predicted"])
    except (KeyError, TypeError, ValueError):
        return None
    return (true, predicted) if 0 <= true <= 9 and 0 <= predicted <= 9 else None


def per_class_frame(result: EvalResult) -> pd.DataFrame:
    """Digit, precision, recall, F1 and support: the table under the chart."""
    return pd.DataFrame(
        [
            {"digit": c.digit, "precision": c.precision, "recall": c.recall, "f1": c.f1, "support": c.support}
            for c in result.per_class
        ]
    )


def per_class_chart(result: EvalResult, height: int = 260) -> alt.Chart:
    """Grouped bars: precision, recall and F1 for each digit; the weakest digits stand out."""
    df = per_class_frame(result).melt(
        id_vars=["digit", "support"], value_vars=list(METRICS), var_name="metric", value_name="value"
    )
    df["metric"] = df["metric"].map({"precision": "Precision", "recall": "Recall", "f1": "F1"})
    low = max(0.0, min(0.8, float(df["value"].min()) - 0.05))  # zoom in: differences live near 1
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("digit:O", title="Digit", axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("metric:N", sort=["Precision", "Recall", "F1"]),
            y=alt.Y(
                "value:Q",
                title="Score",
                scale=alt.Scale(domain=[low, 1.0], clamp=True),
                axis=alt.Axis(format="%"),
            ),
            color=alt.Color(
                "metric:N",
                sort=["Precision", "Recall", "F1"],
                title=None,
                scale=alt.Scale(range=list(palette.METRIC_COLOURS)),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("digit:O", title="Digit"),
                alt.Tooltip("metric:N", title="Metric"),
                alt.Tooltip("value:Q", title="Score", format=".1%"),
                alt.Tooltip("support:Q", title="Images"),
            ],
        )
        .properties(height=height)
    )


def f1_delta_frame(a: EvalResult, b: EvalResult) -> pd.DataFrame:
    """Per digit: F1 of run A, of run B, and B − A."""
    return pd.DataFrame(
        [
            {"digit": ca.digit, "f1_a": ca.f1, "f1_b": cb.f1, "delta": cb.f1 - ca.f1}
            for ca, cb in zip(a.per_class, b.per_class)
        ]
    )


def f1_delta_chart(
    a: EvalResult, b: EvalResult, name_a: str = "A", name_b: str = "B", height: int = 240
) -> alt.LayerChart:
    """Bars of B's F1 minus A's per digit: green where B is better, red where it is worse."""
    df = f1_delta_frame(a, b)
    df["better"] = df["delta"].map(lambda d: f"{name_b} better" if d >= 0 else f"{name_a} better")
    bars = (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("digit:O", title="Digit", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("delta:Q", title=f"F1 change ({name_b} − {name_a})", axis=alt.Axis(format="+.0%")),
            color=alt.Color(
                "better:N",
                title=None,
                legend=alt.Legend(orient="top"),
                scale=alt.Scale(
                    domain=[f"{name_b} better", f"{name_a} better"], range=[palette.BETTER, palette.WORSE]
                ),
            ),
            tooltip=[
                alt.Tooltip("digit:O", title="Digit"),
                alt.Tooltip("f1_a:Q", title=f"F1 {name_a}", format=".1%"),
                alt.Tooltip("f1_b:Q", title=f"F1 {name_b}", format=".1%"),
                alt.Tooltip("delta:Q", title="Change", format="+.1%"),
            ],
        )
    )
    zero = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(color=palette.ZERO_RULE).encode(y="y:Q")
    return (bars + zero).properties(height=height)


def baseline_rows(target: float, majority: float, model_accuracy: float | None = None) -> list[dict]:
    """Rows (what, accuracy, kind) of the bars a model must clear: chance, the majority class,
    the target and, when there is one, a model's validation accuracy."""
    rows = [
        {"what": "Chance (uniform guess)", "accuracy": CHANCE_ACCURACY, "kind": "baseline"},
        {"what": "Majority class", "accuracy": majority, "kind": "baseline"},
        {"what": "Your target", "accuracy": target, "kind": "target"},
    ]
    if model_accuracy is not None:
        rows.append({"what": "Latest model (validation)", "accuracy": model_accuracy, "kind": "model"})
    return rows


def baseline_chart(rows: list[dict], height: int = 190) -> alt.LayerChart:
    """Horizontal bars of `baseline_rows`, labelled in %: baselines grey, target blue, model green."""
    base = alt.Chart(pd.DataFrame(rows)).encode(
        y=alt.Y("what:N", title=None, sort=None, axis=alt.Axis(labelLimit=240)),
        x=alt.X("accuracy:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
    )
    bars = base.mark_bar().encode(
        color=alt.Color(
            "kind:N",
            legend=None,
            scale=alt.Scale(
                domain=["baseline", "target", "model"],
                range=[palette.BASELINE, palette.TARGET, palette.MODEL],
            ),
        ),
        tooltip=["what", alt.Tooltip("accuracy:Q", format=".1%")],
    )
    labels = base.mark_text(align="left", dx=4).encode(text=alt.Text("accuracy:Q", format=".1%"))
    return (bars + labels).properties(height=height)
