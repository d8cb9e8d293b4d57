"""Deploy's "why did it say that?" charts: the attribution heatmap over the input and the hidden-unit strip.

Builders take the plain data of `evaluation.explain` and return Altair objects; they never
import Streamlit.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from mnist_core.charts import palette
from mnist_core.evaluation.explain import Attribution, HiddenLayer, model_input


def attribution_frame(image: Any, attr: Attribution) -> pd.DataFrame:
    """784 rows: col, row, pixel (0-1), value, shown (value clipped to the display scale), weight."""
    x = model_input(image)[0, 0].numpy()
    top = attr.display_scale or 1.0
    rows, cols = np.mgrid[0:28, 0:28]
    shown = np.clip(attr.values, -top, top)
    return pd.DataFrame(
        {
            "col": cols.ravel(),
            "row": rows.ravel(),
            "pixel": x.ravel(),
            "value": attr.values.ravel(),
            "shown": shown.ravel(),
            "weight": (np.abs(shown) / top).ravel(),
        }
    )


def attribution_heatmap(
    image: Any, attr: Attribution, *, size: int = 280, title: str | None = None
) -> alt.LayerChart:
    """The input in grey with red (for the target digit) and blue (against it) on top."""
    df = attribution_frame(image, attr)
    top = attr.display_scale or 1.0
    # one square per pixel; the grey input and the coloured attribution share the grid
    pixels = alt.Chart(df).mark_rect().encode(x=alt.X("col:O", axis=None), y=alt.Y("row:O", axis=None))
    base = pixels.encode(
        color=alt.Color("pixel:Q", scale=alt.Scale(domain=[0, 1], range=["#262626", "#9a9a9a"]), legend=None)
    )
    overlay = pixels.encode(
        color=alt.Color(
            "shown:Q",
            title="for / against",
            scale=alt.Scale(scheme="redblue", reverse=True, domain=[-top, top], domainMid=0),
        ),
        opacity=alt.Opacity("weight:Q", scale=alt.Scale(domain=[0, 1], range=[0, 0.9]), legend=None),
        tooltip=[
            alt.Tooltip("col:O", title="column"),
            alt.Tooltip("row:O", title="row"),
            alt.Tooltip("pixel:Q", title="ink", format=".2f"),
            alt.Tooltip("value:Q", title="attribution", format="+.4f"),
        ],
    )
    name = title or f"Why {'a' if attr.target == attr.predicted else 'not a'} {attr.target}?"
    return (base + overlay).properties(width=size, height=size, title=name)


def hidden_units_chart(layer: HiddenLayer, *, width: int = 560, height: int = 90) -> alt.Chart:
    """One bar per hidden unit (a strip), in unit order; tall bars are the units this input drives."""
    df = pd.DataFrame({"unit": np.arange(layer.values.size), "activation": layer.values})
    return (
        alt.Chart(df)
        .mark_bar(color=palette.MODEL)
        .encode(
            x=alt.X("unit:O", axis=alt.Axis(labels=False, ticks=False, title=f"{layer.values.size} units")),
            y=alt.Y("activation:Q", title=None),
            tooltip=["unit:O", alt.Tooltip("activation:Q", format=".3f")],
        )
        .properties(width=width, height=height, title=layer.name)
    )
