"""The Evaluate page's embedding map: validation images in the penultimate layer, with an interval selection.

The builder takes `embedding.embedding_points` rows and returns an Altair chart; `selection_box`
reads the selection back from Streamlit's event. Neither imports Streamlit.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from mnist_core.charts import palette
from mnist_core.charts.evaluation import selection_value

BRUSH = "brush"  # name of the embedding map's interval selection (the page reads it back)
DIGIT_SCHEME = "category10"


def embedding_chart(
    points: list[dict],
    *,
    star: tuple[float, float] | None = None,
    size: int = 460,
    title: str = "Validation images, penultimate layer",
) -> alt.LayerChart:
    """Scatter of `embedding.embedding_points` rows coloured by true digit, mistakes outlined in
    black; hovering shows the thumbnail (Vega's tooltip `image`) and the prediction; dragging
    draws the interval selection `BRUSH`. `star` marks the current drawing."""
    df = pd.DataFrame(points)
    if "image" not in df:
        df["image"] = ""
    df["mistake"] = ~df["correct"]
    brush = alt.selection_interval(name=BRUSH, encodings=["x", "y"])
    tooltip = [
        alt.Tooltip("image:N", title="image"),
        alt.Tooltip("true:N", title="true digit"),
        alt.Tooltip("predicted:N", title="predicted"),
        alt.Tooltip("confidence:Q", title="confidence", format=".1%"),
        alt.Tooltip("index:Q", title="image #"),
    ]
    dots = (
        alt.Chart(df)
        .mark_point(filled=True, size=36)
        .encode(
            x=alt.X("x:Q", title=None, axis=alt.Axis(labels=False, ticks=False)),
            y=alt.Y("y:Q", title=None, axis=alt.Axis(labels=False, ticks=False)),
            color=alt.Color("true:N", title="true digit", scale=alt.Scale(scheme=DIGIT_SCHEME)),
            stroke=alt.condition("datum.mistake", alt.value(palette.TEXT), alt.value(None)),
            strokeWidth=alt.condition("datum.mistake", alt.value(1.5), alt.value(0)),
            opacity=alt.condition(brush, alt.value(0.85), alt.value(0.25)),
            tooltip=tooltip,
        )
        .add_params(brush)
    )
    layers = [dots]
    if star is not None:
        sdf = pd.DataFrame([{"x": float(star[0]), "y": float(star[1]), "label": "your drawing"}])
        layers.append(
            alt.Chart(sdf)
            .mark_point(
                shape="diamond", filled=True, size=320, color="#ffcc00", stroke="#222", strokeWidth=1.5
            )
            .encode(x="x:Q", y="y:Q", tooltip=alt.Tooltip("label:N", title=""))
        )
    return alt.layer(*layers).properties(width=size, height=size, title=title)


def selection_box(
    event: Any, name: str = BRUSH
) -> tuple[tuple[float, float] | None, tuple[float, float] | None] | None:
    """(x range, y range) of the map's interval selection from Streamlit's event; None when empty."""
    box = selection_value(event, name)
    if box is None:
        return None

    def rng(key: str) -> tuple[float, float] | None:
        v = box.get(key) if isinstance(box, dict) else None
        return (float(v[0]), float(v[1])) if isinstance(v, (list, tuple)) and len(v) == 2 else None

    x, y = rng("x"), rng("y")
    return None if x is None and y is None else (x, y)
