"""Altair charts of the drift monitor: is the field (users' drawings) like the training data?

Builders take the saved monitor result (`MonitorReport.to_json()`, as kept in monitor.json) and
return Altair charts, for the Deploy page and (rendered to SVG) the report. The result keeps
quartiles, not every value, so a distribution is drawn as its box (middle half), median tick
and mean dot. The field is coloured as the Collected-data tab colours it, the training data as
MNIST there. No Streamlit here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import pandas as pd

from mnist_core.charts import palette

FIELD, TRAINING = "field (your drawings)", "training data"
SOURCES = (FIELD, TRAINING)  # top to bottom in each panel
_COLOURS = alt.Scale(domain=list(SOURCES), range=[palette.FIELD, palette.MNIST_SET])
_QUARTILES = ("q1", "median", "q3", "mean")


def _source_colour(legend: bool = True) -> alt.Color:
    return alt.Color(
        "source:N", title=None, scale=_COLOURS, legend=alt.Legend(orient="top") if legend else None
    )


def _panel_title(trait: Mapping[str, Any]) -> str:
    d = trait.get("smd")
    if not (trait.get("field") or {}).get("n"):
        return f"{trait['label']} (not known for the field)"
    effect = f"d = {d:+.1f}" if isinstance(d, (int, float)) and math.isfinite(d) else "d unknown"
    return f"{trait['label']} ({effect}{', differs' if trait.get('differs') else ''})"


def trait_frame(features: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per (trait, source) with a known distribution: its panel title, unit and quartiles."""
    rows = []
    for order, trait in enumerate(features.values()):
        for source, key in ((FIELD, "field"), (TRAINING, "training")):
            summary = trait.get(key) or {}
            if not summary.get("n") or any(summary.get(q) is None for q in _QUARTILES):
                continue  # e.g. size before centring, unknown for drawings saved without their original
            rows.append(
                {
                    "panel": _panel_title(trait),
                    "order": order,
                    "unit": trait["unit"],
                    "source": source,
                    "n": summary["n"],
                    **{q: float(summary[q]) for q in _QUARTILES},
                }
            )
    return pd.DataFrame(rows, columns=["panel", "order", "unit", "source", "n", *_QUARTILES])


def _box_layers(x_title: str | None, x_scale: alt.Scale | None = None) -> list[alt.Chart]:
    """The box (q1 to q3), the median tick and the mean dot of each source, one source a row."""
    scale = x_scale or alt.Scale(zero=False)
    y = alt.Y("source:N", title=None, sort=list(SOURCES), axis=alt.Axis(labels=False, ticks=False))
    tooltip = [
        alt.Tooltip("source:N"),
        alt.Tooltip("n:Q", title="images"),
        *(alt.Tooltip(f"{q}:Q", format=".3g") for q in _QUARTILES),
    ]
    base = alt.Chart()
    box = base.mark_bar(height=14, opacity=0.85).encode(
        x=alt.X("q1:Q", title=x_title, scale=scale), x2="q3:Q", y=y, color=_source_colour(), tooltip=tooltip
    )
    median = base.mark_tick(color=palette.TEXT, thickness=2, size=18).encode(x="median:Q", y=y)
    mean = base.mark_point(color=palette.TEXT, filled=True, size=28).encode(x="mean:Q", y=y)
    return [box, median, mean]


def traits_chart(
    features: Mapping[str, Mapping[str, Any]], *, columns: int = 4, width: int = 190
) -> alt.FacetChart:
    """Small multiples, one panel per trait (own x axis): field and training quartiles, with the
    effect size (Cohen's d, field minus training) in the panel's title."""
    df = trait_frame(features)
    order = list(dict.fromkeys(df.sort_values("order")["panel"]))
    return (
        alt.layer(*_box_layers(None), data=df)
        .properties(width=width, height=44)
        .facet(
            facet=alt.Facet("panel:N", title=None, sort=order, header=alt.Header(labelFontSize=11)),
            columns=columns,
        )
        .resolve_scale(x="independent")
    )


def confidence_chart(confidence: Mapping[str, Any], *, width: int = 320) -> alt.LayerChart:
    """The model's top probability on field and training images: quartiles and mean."""
    rows = [
        {"source": source, "n": confidence[key]["n"], **{q: confidence[key][q] for q in _QUARTILES}}
        for source, key in ((FIELD, "field"), (TRAINING, "training"))
        if all(confidence.get(key, {}).get(q) is not None for q in _QUARTILES)
    ]
    df = pd.DataFrame(rows, columns=["source", "n", *_QUARTILES])
    layers = _box_layers("top probability", alt.Scale(domain=[0, 1]))
    return alt.layer(*layers, data=df).properties(width=width, height=60)


def class_mix_frame(class_mix: Mapping[str, Any]) -> pd.DataFrame:
    """Share of each digit in the field (counts over their total) and in training (shares)."""
    counts = [int(c) for c in class_mix["field"]]
    total = sum(counts)
    rows = [
        {"digit": str(d), "source": FIELD, "share": c / total if total else 0.0, "count": c}
        for d, c in enumerate(counts)
    ]
    rows += [
        {"digit": str(d), "source": TRAINING, "share": float(s), "count": None}
        for d, s in enumerate(class_mix["training"])
    ]
    return pd.DataFrame(rows, columns=["digit", "source", "share", "count"])


def class_mix_chart(class_mix: Mapping[str, Any], *, width: int = 380, height: int = 170) -> alt.Chart:
    """Each digit's share of the field next to its share of the training data (sampling bias)."""
    what = "true digit" if class_mix.get("basis") == "labels" else "predicted digit"
    return (
        alt.Chart(class_mix_frame(class_mix))
        .mark_bar()
        .encode(
            x=alt.X("digit:N", title=what, axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("source:N", sort=list(SOURCES)),
            y=alt.Y("share:Q", title="share", axis=alt.Axis(format="%")),
            color=_source_colour(),
            tooltip=["digit:N", "source:N", alt.Tooltip("share:Q", format=".1%"), "count:Q"],
        )
        .properties(width=width, height=height)
    )


def window_frame(windows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per window, oldest first: its label, size, accuracy, mean confidence, p-value, alarm."""
    rows = [
        {
            "window": w["label"],
            "order": i,
            "n": w["n"],
            "accuracy": w.get("accuracy"),
            "mean confidence": w.get("mean_confidence"),
            "p_value": w.get("p_value"),
            "alarm": "alarm" if w.get("alarm") else "no alarm",
        }
        for i, w in enumerate(windows)
    ]
    return pd.DataFrame(
        rows, columns=["window", "order", "n", "accuracy", "mean confidence", "p_value", "alarm"]
    )


def alarm_level(alpha: float, n_windows: int) -> float:
    """The p-value below which one window raises the alarm (Bonferroni over the windows)."""
    return alpha / max(n_windows, 1)


def windows_chart(
    windows: Sequence[Mapping[str, Any]], alpha: float, *, width: int = 520, height: int = 130
) -> alt.VConcatChart:
    """Over time: field accuracy and mean confidence per window (top); each window's drift
    p-value on a log scale with the alarm line, alarmed windows in red (bottom)."""
    df = window_frame(windows)
    order = df["window"].tolist()
    x = alt.X("window:N", sort=order, title="window", axis=alt.Axis(labelAngle=0, labelLimit=90))
    long = df.melt(["window", "order", "n"], ["accuracy", "mean confidence"], "measure", "value").dropna()
    quality = (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=x.axis(labelAngle=0, labelLimit=90, title=None),
            y=alt.Y("value:Q", title="share", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            color=alt.Color(
                "measure:N",
                title=None,
                scale=alt.Scale(
                    domain=["accuracy", "mean confidence"], range=[palette.MODEL, palette.UNSURE]
                ),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=["window:N", "n:Q", "measure:N", alt.Tooltip("value:Q", format=".1%")],
        )
        .properties(width=width, height=height)
    )
    level = alarm_level(alpha, len(windows))
    tested = df.dropna(subset=["p_value"])
    low = min([level, *tested["p_value"].tolist()]) / 3
    decades = [10.0**-k for k in range(0, 1 - math.floor(math.log10(low)))]
    y = alt.Y(
        "p_value:Q",
        title="drift p-value",
        scale=alt.Scale(type="log", domain=[low, 1]),
        axis=alt.Axis(values=decades, format="~g"),
    )
    points = (
        alt.Chart(tested)
        .mark_line(point=alt.OverlayMarkDef(size=60, filled=True), color=palette.LEGEND_STROKE)
        .encode(x=x, y=y)
    )
    alarms = (
        alt.Chart(tested)
        .mark_point(size=90, filled=True)
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "alarm:N",
                title=None,
                scale=alt.Scale(domain=["no alarm", "alarm"], range=[palette.PASS, palette.FAIL]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=["window:N", "n:Q", alt.Tooltip("p_value:Q", format=".2g"), "alarm:N"],
        )
    )
    rule_df = pd.DataFrame({"level": [level], "text": [f"alarm below p = {level:.2g}"]})
    rule = alt.Chart(rule_df).mark_rule(color=palette.FAIL, strokeDash=[5, 3]).encode(y="level:Q")
    words = (
        alt.Chart(rule_df)
        .mark_text(align="left", dx=4, dy=-6, color=palette.FAIL, fontSize=11)
        .encode(y="level:Q", x=alt.value(0), text="text:N")
    )
    drift = alt.layer(points, alarms, rule, words).properties(width=width, height=height)
    # one x scale: a window with a single drawing (no p-value) still lines up with its accuracy
    return alt.vconcat(quality, drift).resolve_scale(x="shared", color="independent")
