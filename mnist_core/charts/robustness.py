"""The Evaluate page's robustness charts: small multiples of accuracy against each perturbation's strength.

Altair for the app (`robustness_chart`) and the same figure as a static SVG string for the
HTML report (`robustness_svg`), one line per run. Builders take `evaluation.robustness`
sweeps; they never import Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import altair as alt
import pandas as pd

from mnist_core.charts import palette
from mnist_core.charts.svg import Plot, legend, pct, svg, text
from mnist_core.evaluation.robustness import PERTURBATIONS, Sweep, default_bar

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


def robustness_svg(sweeps: Sweep | Sequence[Sweep], *, columns: int = 4, panel: int = 190) -> str:
    """The robustness small multiples (one or two runs) as one static SVG string."""
    sweeps = [sweeps] if isinstance(sweeps, Sweep) else list(sweeps)
    names = list(dict.fromkeys(c.name for s in sweeps for c in s.curves))
    bar = default_bar(sweeps[0])
    all_acc = [a for s in sweeps for c in s.curves for a in c.accuracy]
    lo = max(0.0, math.floor(min(all_acc + [bar]) * 10) / 10)
    rows = -(-len(names) // columns)
    ph = int(panel * 0.62)
    cell_w, cell_h = panel + 20, ph + 62
    width, height = columns * cell_w + 40, rows * cell_h + 56
    title = "Accuracy as the validation images are perturbed"
    body = [text(10, 18, title, size=13, weight="bold")]
    body.append(legend(10, 38, [(s.label, RUN_COLOURS[k % 2]) for k, s in enumerate(sweeps)]))
    for i, name in enumerate(names):
        r, c = divmod(i, columns)
        spec = PERTURBATIONS[name]
        vals = spec.values
        p = Plot(40 + c * cell_w + 20, 56 + r * cell_h + 16, panel - 20, ph, (min(vals), max(vals)), (lo, 1))
        label = spec.label + ("" if spec.through_app else " (model only)")
        body.append(text(p.x0, p.y0 - 5, label, size=11, weight="bold"))
        xt = [vals[0], vals[len(vals) // 2], vals[-1]]
        body.append(
            p.frame(
                xt,
                [lo, (lo + 1) / 2, 1],
                lambda v: f"{v:g}{spec.unit if spec.unit in ('°', '%') else ''}",
                pct,
            )
        )
        body.append(p.polyline([(min(vals), bar), (max(vals), bar)], palette.ZERO_RULE, 1, "4 3"))
        for k, s in enumerate(sweeps):
            try:
                curve = s.curve(name)
            except KeyError:
                continue
            pts = list(zip(curve.values, curve.accuracy))
            body += [p.polyline(pts, RUN_COLOURS[k % 2]), p.dots(pts, RUN_COLOURS[k % 2], 2)]
    return svg(width, height, title, body)
