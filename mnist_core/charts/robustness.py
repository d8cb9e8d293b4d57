"""The Evaluate page's robustness charts: small multiples of accuracy against each perturbation's strength.

One Altair chart (`robustness_chart`), one line per run, for the page and (rendered to SVG by
mnist_core.report.svg) for the report. Builders take `evaluation.robustness` sweeps; they never
import Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import altair as alt
import pandas as pd

from mnist_core.charts import palette
from mnist_core.evaluation.robustness.perturbations import PERTURBATIONS
from mnist_core.evaluation.robustness.results import Sweep, default_bar

RUN_COLOURS = (palette.TRAIN, palette.VALIDATION)  # first and second run of a comparison


def robustness_frame(sweeps: Sweep | Sequence[Sweep]) -> pd.DataFrame:
    """One row per (run, perturbation, strength): accuracy and the share the app found blank."""
    sweeps = [sweeps] if isinstance(sweeps, Sweep) else list(sweeps)
    rows = []
    for k, s in enumerate(sweeps):
        for c in s.curves:
            for v, a, b in zip(c.values, c.accuracy, c.blank):
                rows.append(
                    {
                        "run": s.label,
                        "order": k,
                        "perturbation": c.name,
                        "label": c.label,
                        "unit": c.unit,
                        "value": v,
                        "accuracy": a,
                        "blank": b,
                    }
                )
    return pd.DataFrame(
        rows, columns=["run", "order", "perturbation", "label", "unit", "value", "accuracy", "blank"]
    )


def robustness_chart(
    sweeps: Sweep | Sequence[Sweep], *, columns: int = 4, panel: int = 170, bar: float | None = None
) -> alt.ConcatChart:
    """Small multiples, one panel per perturbation (own x axis), a line per run, the bar of the
    weakest-direction sentence as a dashed rule."""
    sweeps = [sweeps] if isinstance(sweeps, Sweep) else list(sweeps)
    df = robustness_frame(sweeps)
    bar = default_bar(sweeps[0]) if bar is None else bar
    lo = max(0.0, math.floor(min([bar, *df["accuracy"].tolist()]) * 10) / 10)
    runs = list(dict.fromkeys(df["run"]))
    colour = alt.Color(
        "run:N",
        title=None,
        scale=alt.Scale(domain=runs, range=list(RUN_COLOURS[: len(runs)])),
        legend=alt.Legend(orient="top") if len(runs) > 1 else None,
    )
    panels = []
    for name in dict.fromkeys(df["perturbation"]):
        part = df[df["perturbation"] == name]
        spec = PERTURBATIONS[name]
        unit = f" ({spec.unit})" if spec.unit else ""
        lines = (
            alt.Chart(part)
            .mark_line(point=True)
            .encode(
                x=alt.X("value:Q", title=f"{spec.label}{unit}"),
                y=alt.Y(
                    "accuracy:Q",
                    title="accuracy",
                    scale=alt.Scale(domain=[lo, 1.0]),
                    axis=alt.Axis(format="%"),
                ),
                color=colour,
                tooltip=[
                    alt.Tooltip("run:N"),
                    alt.Tooltip("value:Q", title=spec.label),
                    alt.Tooltip("accuracy:Q", format=".1%"),
                    alt.Tooltip("blank:Q", title="found blank", format=".1%"),
                ],
            )
        )
        rule = (
            alt.Chart(pd.DataFrame({"y": [bar]}))
            .mark_rule(strokeDash=[4, 4], color=palette.ZERO_RULE)
            .encode(y="y:Q")
        )
        title = spec.label + ("" if spec.through_app else " (model only)")
        panels.append((lines + rule).properties(width=panel, height=panel * 0.75, title=title))
    return alt.concat(*panels, columns=columns)
