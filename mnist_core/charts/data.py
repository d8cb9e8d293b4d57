"""Altair charts of the data: class balance per split, the split itself, pixel intensities, ink per
digit, one image's pixel values, and what labelling a data set costs.

Builders take the plain rows of `explore` and `costs` (lists of dicts) and return Altair
charts; pages only call `st.altair_chart(...)`. Colours come from `palette`. No Streamlit here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd

from mnist_core.charts import palette

SPLIT_SCALE = alt.Scale(domain=list(palette.SPLIT_COLOURS), range=list(palette.SPLIT_COLOURS.values()))
# per measure of `split_bars`: y title, y axis format, tooltip format, legend title, height
_SPLIT_MEASURES = {
    "count": ("images", alt.Undefined, ".1%", alt.Undefined, 260),
    "share": ("share of the split", "%", ".2%", None, 240),
}


def split_bars(rows: Sequence[Mapping], measure: str = "count") -> alt.Chart:
    """Grouped bars per digit, one per split (train, validation, test), of `explore.count_rows`:
    image counts ("count") or each digit's share of its split ("share")."""
    y_title, y_format, share_format, legend_title, height = _SPLIT_MEASURES[measure]
    return (
        alt.Chart(pd.DataFrame(rows))
        .mark_bar()
        .encode(
            x=alt.X("digit:N", axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("split:N", sort=list(palette.SPLIT_COLOURS)),
            y=alt.Y(f"{measure}:Q", title=y_title, axis=alt.Axis(format=y_format)),
            color=alt.Color("split:N", scale=SPLIT_SCALE, title=legend_title),
            tooltip=["split", "digit", "count", alt.Tooltip("share:Q", format=share_format)],
        )
        .properties(height=height)
    )


def split_bar(sizes: Mapping[str, int]) -> alt.LayerChart:
    """One stacked bar of the split sizes ({"train": n, "validation": n, "test": n}), labelled."""
    frame = pd.DataFrame([{"part": k, "images": v, "order": i} for i, (k, v) in enumerate(sizes.items())])
    frame["middle"] = frame["images"].cumsum() - frame["images"] / 2
    frame["label"] = [f"{p}: {n:,}" for p, n in zip(frame["part"], frame["images"])]
    bars = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("images:Q", stack="zero", title="images"),
            order="order:Q",
            color=alt.Color("part:N", scale=SPLIT_SCALE, legend=None),
            tooltip=["part", alt.Tooltip("images:Q", format=",")],
        )
    )
    text = (
        alt.Chart(frame)
        .mark_text(color=palette.TEXT_ON_DARK, fontWeight="bold")
        .encode(x="middle:Q", text="label:N")
    )
    # Streamlit's height here is the whole chart, axis included.
    return (bars + text).properties(height=110)


def intensity_chart(rows: Sequence[Mapping], height: int = 240) -> alt.Chart:
    """The pixel-intensity histogram of `explore.intensity_histogram`."""
    return (
        alt.Chart(pd.DataFrame(rows))
        .mark_bar(color=palette.PIXEL_BARS)
        .encode(
            x=alt.X("start:Q", bin="binned", title="pixel value (0 = black, 255 = white ink)"),
            x2="end:Q",
            y=alt.Y("count:Q", title="pixels"),
            tooltip=["start", "end", "count", alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(height=height)
    )


def ink_chart(rows: Sequence[Mapping], height: int = 240) -> alt.Chart:
    """Share of pixels with ink per digit, from `explore.ink_rows`."""
    return (
        alt.Chart(pd.DataFrame(rows))
        .mark_bar(color=palette.INK_BARS)
        .encode(
            x=alt.X("digit:N", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("ink_fraction:Q", title="share of pixels with ink", axis=alt.Axis(format="%")),
            tooltip=[
                "digit",
                alt.Tooltip("ink_fraction:Q", format=".1%"),
                alt.Tooltip("mean_intensity:Q", format=".3f"),
                "images",
            ],
        )
        .properties(height=height)
    )


def pixel_heatmap(rows: Sequence[Mapping], field: str, title: str, fmt: str, cell: int = 9) -> alt.Chart:
    """One image's 28×28 pixels (`explore.pixel_rows`) coloured by `field` ("raw" or "scaled"),
    black background and white ink as the model sees them; `cell` pixels per image pixel."""
    return (
        alt.Chart(pd.DataFrame(rows))
        .mark_rect()
        .encode(
            x=alt.X("col:O", axis=None, scale=alt.Scale(paddingInner=0)),
            y=alt.Y("row:O", axis=None, scale=alt.Scale(paddingInner=0)),
            color=alt.Color(
                f"{field}:Q",
                scale=alt.Scale(scheme="greys", reverse=True),
                legend=alt.Legend(title=None, format=fmt, gradientLength=200),
            ),
            tooltip=["row", "col", alt.Tooltip(f"{field}:Q", format=fmt)],
        )
        .properties(title=title, width=28 * cell, height=28 * cell)
    )  # whole pixels per cell: no seams


def cost_chart(rows: Sequence[Mapping]) -> alt.Chart:
    """Stacked horizontal bars of `costs.cost_rows`: one bar per scenario and option, split by part."""
    frame = pd.DataFrame(rows)
    frame["bar"] = frame["scenario"] + " · " + frame["option"]
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y(
                "bar:N", title=None, sort=list(dict.fromkeys(frame["bar"])), axis=alt.Axis(labelLimit=320)
            ),
            x=alt.X("sum(cost):Q", title="cost ($)", axis=alt.Axis(format="$,.0f")),
            color=alt.Color(
                "part:N",
                title=None,
                legend=alt.Legend(orient="bottom"),
                scale=alt.Scale(
                    domain=list(palette.LABELING_COLOURS), range=list(palette.LABELING_COLOURS.values())
                ),
            ),
            order=alt.Order("part:N"),
            tooltip=["scenario", "option", "part", alt.Tooltip("cost:Q", format="$,.0f")],
        )
        .properties(height=alt.Step(34))
    )
