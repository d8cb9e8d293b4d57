"""Altair chart of a learning curve: how the validation error falls with the training-set size.

One layered chart for the Plan page (and `strategies_chart`, the curves of several labelling
strategies on one chart): the measured points (one per training, so every seed
shows), the fitted power law error(n) = a·n^(−b) + c with its bootstrap band, the target
error as a horizontal rule, the size the target needs as a vertical one, and optionally the
honesty check's curve (fitted on the smaller sizes only). Sizes sit on a log axis, as
learning curves are read. Builders take plain rows (curve point records, `Fit.rows`) and
return Altair charts; colours come from `palette`. No Streamlit here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import pandas as pd

from mnist_core.charts import palette
from mnist_core.planning.curve.fit import Fit, power_law

MEASURED = "measured (one point per training)"
FITTED = "fitted power law"
BAND = "range of the fit"
TARGET = "target"
HONESTY = "fitted on the smaller sizes only"
SERIES_COLOURS = {
    MEASURED: palette.VALIDATION,
    FITTED: palette.MODEL,
    BAND: palette.MODEL,
    TARGET: palette.TARGET,
    HONESTY: palette.BASELINE,
}
MAX_STRETCH = 30.0  # the x axis reaches at most this far past the largest measured size
LINE_POINTS = 60


def point_rows(points: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Chart rows of measured points: size, seed (counted from 1), validation error and accuracy."""
    return [
        {
            "size": int(p["size"]),
            "seed": int(p.get("seed", 0)) + 1,
            "val_error": float(p["val_error"]),
            "val_acc": 1.0 - float(p["val_error"]),
            "series": MEASURED,
        }
        for p in points
        if math.isfinite(float(p["val_error"]))
    ]


def size_axis(points: Sequence[Mapping[str, Any]], needed: int | None = None) -> tuple[float, float]:
    """The x range: a little around the measured sizes, stretched to show `needed` when it is
    not absurdly far (beyond MAX_STRETCH × the largest size the line would be a guess)."""
    sizes = [int(p["size"]) for p in points] or [10, 100]
    lo, hi = min(sizes), max(sizes)
    if needed is not None and needed > hi:
        hi = min(needed, hi * MAX_STRETCH)
    return lo / 1.4, hi * 1.4


def _scale(domain: list[str]) -> alt.Scale:
    return alt.Scale(domain=domain, range=[SERIES_COLOURS[s] for s in domain])


def curve_chart(
    points: Sequence[Mapping[str, Any]],
    fit: Fit | None = None,
    target_error: float | None = None,
    needed: int | None = None,
    honesty: Mapping[str, Any] | None = None,
    band: bool = True,
    height: int = 340,
) -> alt.LayerChart:
    """The learning-curve chart; every part but the points is optional (a live view has no fit yet).

    `needed`: the training-set size the target needs (a dashed vertical rule), when reachable.
    `honesty`: `curve.honesty_check()`'s result, drawn as a dashed line of its smaller fit.
    """
    x_lo, x_hi = size_axis(points, needed)
    x = alt.X(
        "size:Q",
        scale=alt.Scale(type="log", domain=[x_lo, x_hi], nice=False),
        title="labelled training images (log scale)",
        axis=alt.Axis(format="~s"),
    )
    show_band = fit is not None and band and len(fit.boot) > 0
    show_honesty = honesty is not None and bool(honesty.get("fit"))
    show_target = target_error is not None and math.isfinite(target_error)
    series = [
        s
        for s, shown in (
            (MEASURED, True),
            (FITTED, fit is not None),
            (BAND, show_band),
            (HONESTY, show_honesty),
            (TARGET, show_target),
        )
        if shown
    ]
    colour = alt.Color(
        "series:N",
        scale=_scale(series),
        title=None,
        # symbols at full strength: the band's opacity would wash them all out
        legend=alt.Legend(orient="bottom", direction="horizontal", symbolOpacity=1, labelLimit=320),
    )
    layers: list[alt.Chart] = []
    if fit is not None:
        rows = pd.DataFrame(fit.rows(x_lo, x_hi, count=LINE_POINTS))
        if show_band:
            layers.append(
                alt.Chart(rows.assign(series=BAND))
                .mark_area(opacity=0.2)
                .encode(x=x, y=alt.Y("low:Q"), y2="high:Q", color=colour)
            )
        layers.append(
            alt.Chart(rows.assign(series=FITTED))
            .mark_line(strokeWidth=2.5)
            .encode(
                x=x,
                y=alt.Y("error:Q"),
                color=colour,
                tooltip=[
                    alt.Tooltip("size:Q", format=",.0f", title="images"),
                    alt.Tooltip("error:Q", format=".2%", title="fitted error"),
                    alt.Tooltip("low:Q", format=".2%"),
                    alt.Tooltip("high:Q", format=".2%"),
                ],
            )
        )
    if show_honesty:
        h = honesty["fit"]
        ns = [x_lo * (x_hi / x_lo) ** (i / (LINE_POINTS - 1)) for i in range(LINE_POINTS)]
        frame = pd.DataFrame({"size": ns, "error": power_law(ns, h["a"], h["b"], h["c"]), "series": HONESTY})
        layers.append(
            alt.Chart(frame)
            .mark_line(strokeDash=[6, 4], strokeWidth=1.5)
            .encode(x=x, y="error:Q", color=colour)
        )
    measured = pd.DataFrame(point_rows(points), columns=["size", "seed", "val_error", "val_acc", "series"])
    layers.append(
        alt.Chart(measured)
        .mark_point(filled=True, size=70, opacity=0.9)
        .encode(
            x=x,
            y=alt.Y("val_error:Q", title="validation error", axis=alt.Axis(format=".1~%")),
            color=colour,
            tooltip=[
                alt.Tooltip("size:Q", format=",", title="images"),
                "seed:Q",
                alt.Tooltip("val_error:Q", format=".2%", title="validation error"),
                alt.Tooltip("val_acc:Q", format=".2%", title="validation accuracy"),
            ],
        )
    )
    if show_target:
        target = pd.DataFrame([{"val_error": target_error, "series": TARGET}])
        layers.append(
            alt.Chart(target)
            .mark_rule(strokeDash=[4, 3], strokeWidth=1.5)
            .encode(y="val_error:Q", color=colour)
        )
    if needed is not None and x_lo < needed < x_hi:
        rule = pd.DataFrame([{"size": needed, "label": f"≈ {needed:,} images"}])
        right = math.log(needed / x_lo) / math.log(x_hi / x_lo) > 0.7  # label left of the rule there
        layers.append(alt.Chart(rule).mark_rule(strokeDash=[4, 3], color=palette.TARGET).encode(x=x))
        layers.append(
            alt.Chart(rule)
            .mark_text(
                align="right" if right else "left",
                dx=-4 if right else 4,
                color=palette.TARGET,
                fontWeight="bold",
            )
            .encode(x=x, y=alt.value(12), text="label:N")
        )
    return alt.layer(*layers).properties(height=height)


# ---------------------------------------------------------------- strategies compared

STRATEGY_COLOURS = (palette.MODEL, palette.VALIDATION, palette.TRAIN)  # in the order measured


def strategies_chart(
    curves: Mapping[str, tuple[Sequence[Mapping[str, Any]], Fit | None]],
    target_error: float | None = None,
    needed: Mapping[str, int | None] | None = None,
    band: bool = True,
    height: int = 340,
) -> alt.LayerChart:
    """Several labelling strategies' learning curves on one chart: per strategy (the keys, as
    legend labels, in order) its measured points, fitted line and band, and a dashed vertical rule
    at the size it needs for the target (`needed`); the target error as a horizontal rule."""
    names = list(curves)
    colours = dict(zip(names, STRATEGY_COLOURS * (1 + len(names) // len(STRATEGY_COLOURS))))
    all_points = [p for points, _ in curves.values() for p in points]
    reach = [n for n in (needed or {}).values() if n is not None]
    x_lo, x_hi = size_axis(all_points, max(reach) if reach else None)
    x = alt.X(
        "size:Q",
        scale=alt.Scale(type="log", domain=[x_lo, x_hi], nice=False),
        title="labelled training images (log scale)",
        axis=alt.Axis(format="~s"),
    )
    colour = alt.Color(
        "strategy:N",
        scale=alt.Scale(domain=names, range=[colours[n] for n in names]),
        title=None,
        legend=alt.Legend(orient="bottom", direction="horizontal", symbolOpacity=1, labelLimit=320),
    )
    layers: list[alt.Chart] = []
    for name, (points, fit) in curves.items():
        if fit is not None:
            rows = pd.DataFrame(fit.rows(x_lo, x_hi, count=LINE_POINTS)).assign(strategy=name)
            if band and len(fit.boot):
                layers.append(
                    alt.Chart(rows)
                    .mark_area(opacity=0.15)
                    .encode(x=x, y=alt.Y("low:Q"), y2="high:Q", color=colour)
                )
            layers.append(
                alt.Chart(rows)
                .mark_line(strokeWidth=2.5)
                .encode(
                    x=x,
                    y=alt.Y("error:Q"),
                    color=colour,
                    tooltip=[
                        "strategy:N",
                        alt.Tooltip("size:Q", format=",.0f", title="images"),
                        alt.Tooltip("error:Q", format=".2%", title="fitted error"),
                    ],
                )
            )
        frame = pd.DataFrame(
            point_rows(points), columns=["size", "seed", "val_error", "val_acc", "series"]
        ).assign(strategy=name)
        layers.append(
            alt.Chart(frame)
            .mark_point(filled=True, size=60, opacity=0.9)
            .encode(
                x=x,
                y=alt.Y("val_error:Q", title="validation error", axis=alt.Axis(format=".0%")),
                color=colour,
                tooltip=[
                    "strategy:N",
                    alt.Tooltip("size:Q", format=",", title="images"),
                    "seed:Q",
                    alt.Tooltip("val_error:Q", format=".2%", title="validation error"),
                ],
            )
        )
    if target_error is not None and math.isfinite(target_error):
        layers.append(
            alt.Chart(pd.DataFrame([{"val_error": target_error}]))
            .mark_rule(strokeDash=[4, 3], strokeWidth=1.5, color=palette.TARGET)
            .encode(y="val_error:Q")
        )
    rules = [
        {"size": n, "strategy": name}
        for name, n in (needed or {}).items()
        if n is not None and x_lo < n < x_hi
    ]
    if rules:
        layers.append(
            alt.Chart(pd.DataFrame(rules))
            .mark_rule(strokeDash=[4, 3])
            .encode(
                x=x, color=colour, tooltip=["strategy:N", alt.Tooltip("size:Q", format=",", title="needs")]
            )
        )
    return alt.layer(*layers).properties(height=height)
