"""Charts that look inside a model: attribution heatmap, hidden units, embedding map, reliability
diagram, coverage curve and robustness small multiples; Altair for the app, inline SVG for the
HTML report.

Builders take the plain data of `explain`, `embedding`, `calibration` and `robustness` and
return Altair objects; they never import Streamlit. The report needs static pictures and no
chart engine is installed (vl-convert is not), so `reliability_svg`, `coverage_svg` and
`robustness_svg` draw the same figures as self-contained SVG strings (no script, no external
reference), in the style of report.py's curves.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from mnist_core.charts import palette
from mnist_core.charts.evaluation import selection_value
from mnist_core.evaluation.calibration import CalibrationReport
from mnist_core.evaluation.explain import Attribution, HiddenLayer, model_input
from mnist_core.evaluation.robustness import PERTURBATIONS, Sweep, default_bar
from mnist_core.text import escape, percent

BRUSH = "brush"  # name of the embedding map's interval selection (the page reads it back)
BEFORE, AFTER = palette.BASELINE, palette.MODEL  # calibration before / after temperature scaling
RUN_COLOURS = (palette.TRAIN, palette.VALIDATION)  # first and second run of a comparison
DIGIT_SCHEME = "category10"
_PERFECT = palette.ZERO_RULE  # the diagonal of a reliability diagram


# ---------------------------------------------------------------- Deploy: why did it say that?


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


# ---------------------------------------------------------------- Evaluate: where do its images sit?


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


# ---------------------------------------------------------------- Evaluate: can we trust its confidence?


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


# ---------------------------------------------------------------- Evaluate: where does it break?


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


# ---------------------------------------------------------------- static SVG for the HTML report


class _Plot:
    """A tiny SVG plotting area: linear x and y mapped onto a box, text helpers."""

    def __init__(
        self, x0: float, y0: float, w: float, h: float, xr: tuple[float, float], yr: tuple[float, float]
    ) -> None:
        self.x0, self.y0, self.w, self.h, self.xr, self.yr = x0, y0, w, h, xr, yr

    def sx(self, x: float) -> float:
        return self.x0 + (x - self.xr[0]) / ((self.xr[1] - self.xr[0]) or 1) * self.w

    def sy(self, y: float) -> float:
        return self.y0 + (1 - (y - self.yr[0]) / ((self.yr[1] - self.yr[0]) or 1)) * self.h

    def polyline(self, pts: list[tuple[float, float]], colour: str, width: float = 2, dash: str = "") -> str:
        if len(pts) < 2:
            return ""
        coords = " ".join(f"{self.sx(x):.1f},{self.sy(y):.1f}" for x, y in pts)
        d = f" stroke-dasharray='{dash}'" if dash else ""
        return f"<polyline points='{coords}' fill='none' stroke='{colour}' stroke-width='{width}'{d}/>"

    def dots(self, pts: list[tuple[float, float]], colour: str, r: float = 2.5) -> str:
        return "".join(
            f"<circle cx='{self.sx(x):.1f}' cy='{self.sy(y):.1f}' r='{r}' fill='{colour}'/>" for x, y in pts
        )

    def frame(self, xticks: list[float], yticks: list[float], xfmt, yfmt) -> str:
        parts = [
            f"<rect x='{self.x0}' y='{self.y0}' width='{self.w}' height='{self.h}' fill='none' stroke='#ccc'/>"
        ]
        for y in yticks:
            parts.append(
                f"<line x1='{self.x0}' x2='{self.x0 + self.w}' y1='{self.sy(y):.1f}' y2='{self.sy(y):.1f}' "
                f"stroke='#eee'/>" + _text(self.x0 - 4, self.sy(y) + 4, yfmt(y), "end")
            )
        for x in xticks:
            parts.append(_text(self.sx(x), self.y0 + self.h + 14, xfmt(x), "middle"))
        return "".join(parts)


def _text(
    x: float, y: float, text: str, anchor: str = "start", size: int = 11, weight: str = "normal"
) -> str:
    return (
        f"<text x='{x:.1f}' y='{y:.1f}' text-anchor='{anchor}' font-size='{size}' font-weight='{weight}' "
        f"font-family='sans-serif' fill='#333'>{escape(text)}</text>"
    )


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' role='img' aria-label='{escape(title)}' width='{width}' "
        f"height='{height}' viewBox='0 0 {width} {height}'>" + "".join(body) + "</svg>"
    )


def _legend(x: float, y: float, items: list[tuple[str, str]]) -> str:
    parts = []
    for k, (name, colour) in enumerate(items):
        lx = x + k * 150
        parts.append(
            f"<rect x='{lx}' y='{y - 4}' width='14' height='3' fill='{colour}'/>" + _text(lx + 18, y, name)
        )
    return "".join(parts)


def reliability_svg(report: CalibrationReport, *, width: int = 420, height: int = 360) -> str:
    """The reliability diagram (before and after scaling) as a static SVG string."""
    title = (
        f"Reliability (ECE {report.ece_before:.1%} → {report.ece_after:.1%}, T = {report.temperature:.2f})"
    )
    p = _Plot(50, 40, width - 70, height - 130, (0, 1), (0, 1))
    body = [
        _text(10, 18, title, size=13, weight="bold"),
        p.frame([0, 0.25, 0.5, 0.75, 1], [0, 0.25, 0.5, 0.75, 1], lambda v: f"{v:.2f}", _whole_percent),
        p.polyline([(0, 0), (1, 1)], _PERFECT, 1, "4 4"),
    ]
    for bins, colour in ((report.bins_before, BEFORE), (report.bins_after, AFTER)):
        pts = [(b["confidence"], b["accuracy"]) for b in bins if b["count"]]
        body += [p.polyline(pts, colour), p.dots(pts, colour)]
    # counts per bin below, on a log scale so a handful of low-confidence images stays visible
    q_top = p.y0 + p.h + 26
    q_h = 50
    peak = max([b["count"] for b in report.bins_before + report.bins_after] + [1])
    bw = p.w / max(len(report.bins_before), 1) / 2
    for k, (bins, colour) in enumerate(((report.bins_before, BEFORE), (report.bins_after, AFTER))):
        for b in bins:
            if b["count"]:
                h = q_h * math.log1p(b["count"]) / math.log1p(peak)
                body.append(
                    f"<rect x='{p.sx(b['lower']) + k * bw:.1f}' y='{q_top + q_h - h:.1f}' width='{bw:.1f}' "
                    f"height='{h:.1f}' fill='{colour}'><title>{b['count']} images</title></rect>"
                )
    body.append(_text(p.x0 - 4, q_top + q_h, "images", "end", size=10))
    body.append(_legend(p.x0, height - 8, [("before", BEFORE), ("after scaling", AFTER)]))
    return _svg(width, height, title, body)


def coverage_svg(
    curve: list[dict], *, chosen: float | None = None, width: int = 420, height: int = 280
) -> str:
    """Coverage and accuracy against the threshold as a static SVG string."""
    title = "Coverage vs accuracy" + (f" (threshold {chosen:.3f})" if chosen is not None else "")
    ys = [r["coverage"] for r in curve] + [r["accuracy"] for r in curve if r["accuracy"] is not None]
    lo = max(0.0, math.floor(min(ys + [1.0]) * 10) / 10)
    p = _Plot(50, 40, width - 70, height - 90, (0, 1), (lo, 1))
    ticks = [lo + (1 - lo) * i / 4 for i in range(5)]
    body = [
        _text(10, 18, title, size=13, weight="bold"),
        p.frame([0, 0.25, 0.5, 0.75, 1], ticks, lambda v: f"{v:.2f}", _whole_percent),
        p.polyline([(r["threshold"], r["coverage"]) for r in curve], palette.TRAIN),
        p.polyline(
            [(r["threshold"], r["accuracy"]) for r in curve if r["accuracy"] is not None], palette.MODEL
        ),
    ]
    if chosen is not None:
        body.append(p.polyline([(chosen, lo), (chosen, 1)], palette.UNSURE, 2, "3 3"))
    body.append(
        _text(
            p.x0 + p.w / 2,
            p.y0 + p.h + 30,
            "threshold t (answer only when top probability ≥ t)",
            "middle",
            10,
        )
    )
    body.append(
        _legend(p.x0, height - 8, [("answered", palette.TRAIN), ("accuracy when answering", palette.MODEL)])
    )
    return _svg(width, height, title, body)


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
    body = [_text(10, 18, title, size=13, weight="bold")]
    body.append(_legend(10, 38, [(s.label, RUN_COLOURS[k % 2]) for k, s in enumerate(sweeps)]))
    for i, name in enumerate(names):
        r, c = divmod(i, columns)
        spec = PERTURBATIONS[name]
        vals = spec.values
        p = _Plot(40 + c * cell_w + 20, 56 + r * cell_h + 16, panel - 20, ph, (min(vals), max(vals)), (lo, 1))
        label = spec.label + ("" if spec.through_app else " (model only)")
        body.append(_text(p.x0, p.y0 - 5, label, size=11, weight="bold"))
        xt = [vals[0], vals[len(vals) // 2], vals[-1]]
        body.append(
            p.frame(
                xt,
                [lo, (lo + 1) / 2, 1],
                lambda v: f"{v:g}{spec.unit if spec.unit in ('°', '%') else ''}",
                _whole_percent,
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
    return _svg(width, height, title, body)


def _whole_percent(v: float) -> str:
    return percent(v, 0)
