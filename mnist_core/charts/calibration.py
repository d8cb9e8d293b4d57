"""The Evaluate page's confidence charts: the reliability diagram and the coverage-vs-accuracy curve.

Altair charts (`reliability_chart`, `coverage_chart`) for the page and, rendered to SVG by
mnist_core.report.svg, for the report. Builders take the plain data of `evaluation.calibration`;
they never import Streamlit.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from mnist_core.charts import palette
from mnist_core.evaluation.calibration.scaling import CalibrationReport

BEFORE, AFTER = palette.BASELINE, palette.MODEL  # calibration before / after temperature scaling
_PERFECT = palette.ZERO_RULE  # the diagonal of a reliability diagram


def _bins_frame(bins: list[dict], which: str) -> pd.DataFrame:
    rows = [{**b, "which": which, "centre": (b["lower"] + b["upper"]) / 2} for b in bins]
    return pd.DataFrame(
        rows, columns=["lower", "upper", "count", "confidence", "accuracy", "which", "centre"]
    )


def reliability_chart(
    report: CalibrationReport | None = None,
    *,
    bins_before: list[dict] | None = None,
    bins_after: list[dict] | None = None,
    size: int = 320,
) -> alt.VConcatChart:
    """Reliability diagram: accuracy per confidence bin (dots on lines) against the diagonal of a
    perfectly calibrated model, before and after temperature scaling, with the count per bin below."""
    if report is not None:
        bins_before, bins_after = report.bins_before, report.bins_after
    if bins_before is None:
        raise ValueError("reliability_chart needs a CalibrationReport or bins_before")
    parts = [_bins_frame(bins_before, "before")]
    if bins_after is not None:
        parts.append(_bins_frame(bins_after, "after scaling"))
    df = pd.concat(parts, ignore_index=True)
    filled = df[df["count"] > 0]
    colours = alt.Scale(domain=["before", "after scaling"], range=[BEFORE, AFTER])
    title = "Reliability: accuracy per confidence bin"
    if report is not None:
        title += f" (ECE {report.ece_before:.1%} → {report.ece_after:.1%}, T = {report.temperature:.2f})"
    diagonal = (
        alt.Chart(pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]}))
        .mark_line(strokeDash=[4, 4], color=_PERFECT)
        .encode(x="x:Q", y="y:Q")
    )
    lines = (
        alt.Chart(filled)
        .mark_line(point=True)
        .encode(
            x=alt.X("confidence:Q", title="confidence (top probability)", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y(
                "accuracy:Q", title="accuracy", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")
            ),
            color=alt.Color("which:N", title=None, scale=colours),
            tooltip=[
                alt.Tooltip("which:N", title=""),
                alt.Tooltip("lower:Q", format=".2f", title="bin from"),
                alt.Tooltip("upper:Q", format=".2f", title="bin to"),
                alt.Tooltip("count:Q", title="images"),
                alt.Tooltip("confidence:Q", format=".1%"),
                alt.Tooltip("accuracy:Q", format=".1%"),
            ],
        )
    )
    top = (diagonal + lines).properties(width=size, height=size, title=title)
    counts = (
        alt.Chart(df)
        .mark_bar(opacity=0.8)
        .encode(
            x=alt.X("lower:Q", bin="binned", title="confidence bin", scale=alt.Scale(domain=[0, 1])),
            x2="upper:Q",
            y=alt.Y("count:Q", title="images", stack=None, scale=alt.Scale(type="symlog")),
            color=alt.Color("which:N", scale=colours, legend=None),
            tooltip=[alt.Tooltip("which:N", title=""), alt.Tooltip("count:Q", title="images")],
        )
        .properties(width=size, height=90)
    )
    return alt.vconcat(top, counts)


def coverage_chart(
    curve: list[dict],
    *,
    chosen: float | None = None,
    target: float | None = None,
    width: int = 420,
    height: int = 260,
) -> alt.LayerChart:
    """Share answered and accuracy on the answered images against the "not sure" threshold."""
    rows = []
    for r in curve:
        rows.append(
            {
                "threshold": r["threshold"],
                "measure": "answered (coverage)",
                "value": r["coverage"],
                "answered": r["answered"],
            }
        )
        if r["accuracy"] is not None:
            rows.append(
                {
                    "threshold": r["threshold"],
                    "measure": "accuracy when answering",
                    "value": r["accuracy"],
                    "answered": r["answered"],
                }
            )
    df = pd.DataFrame(rows)
    lines = (
        alt.Chart(df)
        .mark_line()
        .encode(
            x=alt.X(
                "threshold:Q",
                title='answer only when the top probability ≥ t ("not sure" otherwise)',
                scale=alt.Scale(domain=[0, 1]),
            ),
            y=alt.Y("value:Q", title=None, axis=alt.Axis(format="%")),
            color=alt.Color(
                "measure:N",
                title=None,
                scale=alt.Scale(
                    domain=["answered (coverage)", "accuracy when answering"],
                    range=[palette.TRAIN, palette.MODEL],
                ),
            ),
            tooltip=[
                alt.Tooltip("threshold:Q", format=".3f"),
                alt.Tooltip("measure:N", title=""),
                alt.Tooltip("value:Q", format=".1%"),
                alt.Tooltip("answered:Q", title="images answered"),
            ],
        )
    )
    layers = [lines]
    if target is not None:
        layers.append(
            alt.Chart(pd.DataFrame({"y": [target]}))
            .mark_rule(strokeDash=[4, 4], color=palette.KEPT)
            .encode(y="y:Q")
        )
    if chosen is not None:
        layers.append(
            alt.Chart(pd.DataFrame({"x": [chosen], "label": [f"t = {chosen:.3f}"]}))
            .mark_rule(color=palette.UNSURE, strokeWidth=2)
            .encode(x="x:Q", tooltip=alt.Tooltip("label:N", title="chosen"))
        )
    return alt.layer(*layers).properties(width=width, height=height, title="Coverage vs accuracy")
