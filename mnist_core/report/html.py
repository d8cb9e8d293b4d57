"""The self-contained HTML report of a run, for a stakeholder.

Its judgements (baselines, verdicts, intervals, weakest digits, confusions) come from
`judge`, the same functions the Evaluate page calls, so page and report say the same thing;
its colours come from `palette`, the app's own.

The report is one HTML file with no external reference at all: styles inline, charts as
inline SVG drawn here (the calibration and robustness charts by inspect_charts' static SVG
builders, when the run has them saved), images as base64 `data:` URIs. It opens offline, in a
mail client, years later.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from datetime import datetime
from string import Template
from typing import TYPE_CHECKING

from mnist_core.charts import palette
from mnist_core.charts.palette import cell_colour
from mnist_core.config import MODEL_LABELS, field_info
from mnist_core.evaluation.evaluate import EvalResult
from mnist_core.evaluation.judge import (
    Baselines,
    Verdict,
    as_percent,
    baselines,
    label_counts,
    test_vs_validation,
    top_confusions,
    verdict,
    weakest_digits,
)
from mnist_core.planning import costs
from mnist_core.planning import curve as lc
from mnist_core.runs.storage import Run

if TYPE_CHECKING:
    from mnist_core.evaluation.calibration import CalibrationReport
    from mnist_core.evaluation.robustness import Sweep


def labeling_estimate() -> tuple[costs.LabelingInputs, costs.Estimate]:
    """MNIST's 70,000 images labelled in house at the calculator's default rates."""
    inputs = costs.LabelingInputs()
    return inputs, costs.estimate(inputs)


# ---------------------------------------------------------------- HTML pieces


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / max(ticks, 1) or 1.0
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def _text(x: float, y: float, text: str, anchor: str = "start", cls: str = "tick", extra: str = "") -> str:
    return f"<text x='{x:.1f}' y='{y:.1f}' text-anchor='{anchor}' class='{cls}'{extra}>{_e(text)}</text>"


def _y_range(ys: list[float], percent: bool) -> tuple[float, float, float]:
    """Axis bounds rounded out to a nice tick step, and the step."""
    y0, y1 = min(ys), max(ys)
    if y1 - y0 < 1e-9:  # one epoch or a flat line: give the axis some height
        pad = 0.05 if percent else 0.5
        y0, y1 = y0 - pad, y1 + pad
        if percent:
            y0, y1 = max(0.0, y0), min(1.0, y1)
    step = _nice_step(y1 - y0)
    return math.floor(y0 / step) * step, math.ceil(y1 / step) * step, step


def line_chart_svg(
    series: dict[str, list[tuple[float, float]]],
    title: str,
    y_label: str,
    percent: bool = False,
    width: int = 520,
    height: int = 260,
    colours: tuple[str, ...] = tuple(palette.SPLIT_COLOURS.values()),
) -> str:
    """An inline SVG line chart (no script, no external reference) of a few named series,
    coloured in order from `colours` (by default train, validation, test as in the app)."""
    series = {name: [p for p in pts if math.isfinite(p[1])] for name, pts in series.items()}
    points = [p for pts in series.values() for p in pts]
    if not points:
        return f"<p class='muted'>{_e(title)}: no data.</p>"
    left, right, top, bottom = 56, 16, 34, 40
    pw, ph = width - left - right, height - top - bottom
    xs = [p[0] for p in points]
    x0, x1 = min(xs), max(max(xs), min(xs) + 1)
    y0, y1, step = _y_range([p[1] for p in points], percent)

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * ph

    parts = [
        f"<svg class='chart' role='img' aria-label='{_e(title)}' width='{width}' "
        f"height='{height}' viewBox='0 0 {width} {height}'>",
        _text(left, 18, title, cls="ct"),
    ]
    for i in range(int(round((y1 - y0) / step)) + 1):
        y = y0 + i * step
        label = f"{y * 100:.0f}%" if percent else f"{y:.2f}".rstrip("0").rstrip(".")
        parts.append(
            f"<line x1='{left}' x2='{width - right}' y1='{sy(y):.1f}' y2='{sy(y):.1f}' "
            f"class='grid'/>" + _text(left - 6, sy(y) + 4, label, "end")
        )
    for x in range(int(math.ceil(x0)), int(max(xs)) + 1, max(1, math.ceil((x1 - x0) / 10))):
        parts.append(_text(sx(x), height - bottom + 16, str(x), "middle"))
    parts.append(_text(left + pw / 2, height - 6, "epoch", "middle"))
    parts.append(
        _text(0, 0, y_label, "middle", extra=f" transform='translate(14 {top + ph / 2:.1f}) rotate(-90)'")
    )
    for k, (name, pts) in enumerate(series.items()):
        colour = colours[k % len(colours)]
        if len(pts) > 1:
            coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
            parts.append(f"<polyline points='{coords}' fill='none' stroke='{colour}' stroke-width='2'/>")
        parts.extend(f"<circle cx='{sx(x):.1f}' cy='{sy(y):.1f}' r='3' fill='{colour}'/>" for x, y in pts)
        lx = left + 10 + k * 150  # the legend, in a row above the plot
        parts.append(
            f"<rect x='{lx}' y='{top - 2}' width='12' height='3' fill='{colour}'/>"
            + _text(lx + 16, top + 3, name)
        )
    parts.append("</svg>")
    return "".join(parts)


def curves_svg(history: list[dict]) -> str:
    """Loss and accuracy per epoch (train vs validation), side by side."""
    rows = [h for h in history if "epoch" in h]
    if not rows:
        return "<p class='muted'>No training curves were saved with this run.</p>"

    def series(key: str) -> list[tuple[float, float]]:
        return [(float(h["epoch"]), float(h[key])) for h in rows if isinstance(h.get(key), (int, float))]

    loss = line_chart_svg(
        {"train loss": series("train_loss"), "validation loss": series("val_loss")},
        "Loss per epoch",
        "cross-entropy",
    )
    acc = line_chart_svg(
        {"train accuracy": series("train_acc"), "validation accuracy": series("val_acc")},
        "Accuracy per epoch",
        "accuracy",
        percent=True,
    )
    return f"<div class='row'>{loss}{acc}</div>"


def confusion_table_html(result: EvalResult) -> str:
    """The confusion matrix as an HTML table, cells shaded like the page's heatmap."""
    worst = max((result.confusion[t][p] for t in range(10) for p in range(10) if t != p), default=0)
    shares = result.normalized_confusion()
    head = "".join(f"<th>{p}</th>" for p in range(10))
    body = []
    for t in range(10):
        cells = []
        for p in range(10):
            count = result.confusion[t][p]
            fill, dark = cell_colour(t, p, count, float(shares[t][p]), worst)
            ink = palette.TEXT_ON_DARK if dark else palette.TEXT
            cells.append(
                f"<td style='background:{fill};color:{ink}' "
                f"title='true {t}, predicted {p}: {count}'>{count}</td>"
            )
        total = sum(result.confusion[t])
        body.append(f"<tr><th>{t}</th>{''.join(cells)}<td class='num'>{total}</td></tr>")
    return (
        f"<table class='cm'><caption>Rows: true digit · columns: predicted digit · "
        f"green = correct, red = mistakes</caption><thead><tr><th>true \\ pred</th>{head}"
        f"<th>total</th></tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def per_class_table_html(result: EvalResult) -> str:
    rows = "".join(
        f"<tr><td>{c.digit}</td><td class='num'>{as_percent(c.precision)}</td>"
        f"<td class='num'>{as_percent(c.recall)}</td><td class='num'>{as_percent(c.f1)}</td>"
        f"<td class='num'>{c.support:,}</td></tr>"
        for c in result.per_class
    )
    return (
        "<table><thead><tr><th>digit</th><th>precision</th><th>recall</th><th>F1</th>"
        f"<th>images</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _bar(value: int, biggest: int) -> str:
    width = 0 if biggest <= 0 else round(120 * value / biggest)
    return f"<span class='bar' style='width:{width}px'></span> {value:,}"


def balance_table_html(columns: dict[str, list[int]]) -> str:
    """Images per digit for each named set, with inline bars."""
    head = "".join(f"<th>{_e(name)}</th>" for name in columns)
    rows = []
    for d in range(10):
        cells = "".join(f"<td>{_bar(counts[d], max(counts))}</td>" for counts in columns.values())
        rows.append(f"<tr><td>{d}</td>{cells}</tr>")
    totals = "".join(f"<td class='num'><b>{sum(c):,}</b></td>" for c in columns.values())
    return (
        f"<table><thead><tr><th>digit</th>{head}</tr></thead><tbody>{''.join(rows)}"
        f"<tr><td><b>total</b></td>{totals}</tr></tbody></table>"
    )


def _kv_table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f"<table class='kv'>{body}</table>"


def _verdict_html(v: Verdict) -> str:
    cls = "pass" if v.passed else "fail"
    mark = "PASS" if v.passed else "FAIL"
    details = "".join(f"<li>{_e(d)}</li>" for d in v.details)
    return f"<div class='verdict {cls}'><b>{mark}</b> — {_e(v.headline)}<ul>{details}</ul></div>"


def _evaluation_html(result: EvalResult, target: float, base: Baselines) -> str:
    v = verdict(result, target, base)
    confusions = ", ".join(f"{t} read as {p} ({c}×)" for t, p, c in top_confusions(result)) or "none"
    right = sum(result.confusion[d][d] for d in range(10))
    return (
        _verdict_html(v)
        + _kv_table(
            [
                ("Accuracy", as_percent(result.accuracy, 2)),
                ("Loss", f"{result.loss:.4f}"),
                ("Images", f"{result.n:,}"),
                ("Mistakes", f"{result.n - right:,}"),
                ("Weakest digits", "; ".join(weakest_digits(result))),
                ("Most frequent confusions", confusions),
            ]
        )
        + "<h3>Confusion matrix</h3>"
        + confusion_table_html(result)
        + "<h3>Per-class precision, recall and F1</h3>"
        + per_class_table_html(result)
    )


def _log_ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks between `lo` and `hi` for a log axis (every decade when the range is wide)."""
    steps = (1, 2, 5) if hi / lo < 1e3 else (1,)
    ticks = [
        m * 10**k for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1) for m in steps
    ]
    return [t for t in ticks if lo <= t <= hi]


def learning_curve_svg(
    points: list[dict],
    fit: lc.Fit | None,
    target_error: float | None = None,
    needed: int | None = None,
    width: int = 560,
    height: int = 300,
) -> str:
    """The Plan page's learning curve as inline SVG: measured points, the fitted power law and
    its band, the target error and the size it needs; training-set sizes on a log axis."""
    pts = [
        (float(p["size"]), float(p["val_error"]))
        for p in points
        if float(p["size"]) > 0 and math.isfinite(float(p["val_error"]))
    ]
    if not pts:
        return "<p class='muted'>Learning curve: no measured points.</p>"
    left, right, top, bottom = 56, 16, 48, 40
    pw, ph = width - left - right, height - top - bottom
    x0 = min(x for x, _ in pts) / 1.4
    x1 = max(x for x, _ in pts) * 1.4
    if needed and x1 < needed * 1.4 <= x1 * 30:
        x1 = needed * 1.4
    line = fit.rows(x0, x1, count=50) if fit is not None else []
    ys = [y for _, y in pts] + [r["error"] for r in line] + ([target_error] if target_error else [])
    y0, y1, step = _y_range([max(0.0, min(ys)), max(ys)], percent=True)
    y0 = max(0.0, y0)

    def sx(x: float) -> float:
        return left + math.log(x / x0) / math.log(x1 / x0) * pw

    def sy(y: float) -> float:
        return top + (1 - (min(max(y, y0), y1) - y0) / (y1 - y0)) * ph

    title = "Validation error by number of labelled training images"
    parts = [
        f"<svg class='chart' role='img' aria-label='{_e(title)}' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}'>",
        _text(left, 18, title, cls="ct"),
    ]
    for i in range(int(round((y1 - y0) / step)) + 1):
        y = y0 + i * step
        parts.append(
            f"<line x1='{left}' x2='{width - right}' y1='{sy(y):.1f}' y2='{sy(y):.1f}' "
            f"class='grid'/>" + _text(left - 6, sy(y) + 4, f"{y * 100:.0f}%", "end")
        )
    for t in _log_ticks(x0, x1):
        parts.append(_text(sx(t), height - bottom + 16, f"{t:,.0f}", "middle"))
    parts.append(_text(left + pw / 2, height - 6, "labelled training images (log scale)", "middle"))
    parts.append(
        _text(
            0,
            0,
            "validation error",
            "middle",
            extra=f" transform='translate(14 {top + ph / 2:.1f}) rotate(-90)'",
        )
    )
    if line:
        band = [(r["size"], r["low"]) for r in line] + [(r["size"], r["high"]) for r in reversed(line)]
        parts.append(
            "<polygon points='"
            + " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in band)
            + f"' fill='{palette.MODEL}' fill-opacity='0.2' stroke='none'/>"
        )
        parts.append(
            "<polyline points='"
            + " ".join(f"{sx(r['size']):.1f},{sy(r['error']):.1f}" for r in line)
            + f"' fill='none' stroke='{palette.MODEL}' stroke-width='2.5'/>"
        )
    if target_error is not None:
        parts.append(
            f"<line x1='{left}' x2='{width - right}' y1='{sy(target_error):.1f}' "
            f"y2='{sy(target_error):.1f}' stroke='{palette.TARGET}' stroke-dasharray='4 3'/>"
        )
    if needed and x0 < needed < x1:
        parts.append(
            f"<line x1='{sx(needed):.1f}' x2='{sx(needed):.1f}' y1='{top}' y2='{top + ph}' "
            f"stroke='{palette.TARGET}' stroke-dasharray='4 3'/>"
            + _text(
                sx(needed) + (4 if sx(needed) < left + 0.7 * pw else -4),
                top + 12,
                f"≈ {needed:,} images",
                "start" if sx(needed) < left + 0.7 * pw else "end",
                extra=f" style='fill:{palette.TARGET}'",
            )
        )
    parts.extend(
        f"<circle cx='{sx(x):.1f}' cy='{sy(y):.1f}' r='3.5' fill='{palette.VALIDATION}'/>" for x, y in pts
    )
    legend = [("measured", palette.VALIDATION), ("fitted power law", palette.MODEL)][: 2 if line else 1]
    legend += [("target", palette.TARGET)] if target_error is not None else []
    for k, (name, colour) in enumerate(legend):
        lx = left + 10 + k * 150
        parts.append(
            f"<rect x='{lx}' y='{top - 16}' width='12' height='3' fill='{colour}'/>"
            + _text(lx + 16, top - 11, name)
        )
    parts.append("</svg>")
    return "".join(parts)


def latest_curve_for(run: Run) -> lc.Curve | None:
    """The newest learning curve saved in the run's studio folder on the run's own data source."""
    home = run.path.parent.parent  # <home>/runs/<run id>
    return next((c for c in lc.list_curves(home) if c.data == run.meta.get("data")), None)


def _plan(curve: lc.Curve, target: float) -> str:
    """How many labels the target needs, by the learning curve, and what labelling them costs."""
    fit = curve.fit
    try:
        est = lc.target_estimate(fit, target, curve.n_train)
        sentence = lc.estimate_sentence(fit, target, curve.n_train, curve.config)
    except lc.CurveError as exc:
        est, sentence = None, str(exc)
    needed = est["size"] if est and est["reachable"] else None
    body = (
        f"<p><b>{_e(sentence)}</b></p>"
        + learning_curve_svg(curve.points, fit, 1 - target if est else None, needed)
        + f"<p class='muted'>Measured with {_e(curve.config.summary())} on {_e(curve.data_name)}: "
        f"{len(curve.points)} trainings on {len({p['size'] for p in curve.points})} sizes, each "
        f"checked on the same {curve.n_val:,} validation images; fitted {_e(fit.describe())} "
        f"(curve <code>{_e(curve.id)}</code>).</p>"
    )
    if curve.honesty:
        h = curve.honesty
        body += (
            f"<p>Honesty check: {_e(h['text'])} "
            + (
                "The measurement lies within the fit's range."
                if h.get("within_range")
                else "The measurement lies outside the fit's range: read the estimate as a rough guess."
            )
            + "</p>"
        )
    if needed:
        inputs = costs.LabelingInputs()
        rows = costs.curve_estimates(inputs, est["size"], est["low"], est["high"])
        names = {"low": "low end", "estimate": "estimate", "high": "high end"}
        cells = "".join(
            f"<tr><td>{names[k]}</td><td class='num'>{e.samples:,}</td><td class='num'>{e.hours:,.1f}</td>"
            f"<td>{_e(costs.describe_days(e.days))}</td><td class='num'>${e.in_house_cost:,.0f}</td>"
            f"<td class='num'>${e.outsourced_cost:,.0f}</td></tr>"
            for k, e in rows.items()
        )
        body += (
            "<table><thead><tr><th></th><th>images</th><th>hours</th>"
            f"<th>{inputs.annotators} people in house</th><th>in house</th>"
            f"<th>outsourced + review</th></tr></thead><tbody>{cells}</tbody></table>"
            f"<p class='muted'>At {inputs.seconds_per_sample:g} s a label, "
            f"{inputs.hours_per_day:g} h a day, ${inputs.hourly_wage:g} an hour in house or "
            f"${inputs.price_per_sample:g} a label outsourced (plus an in-house re-check of "
            f"{inputs.review_share:.0%}).</p>"
        )
    return body


_CSS = Template("""
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:$text;max-width:1100px;
margin:2rem auto;padding:0 1rem;line-height:1.45}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid $rule;padding-bottom:.2rem;margin-top:2rem}
.muted{color:$muted}table{border-collapse:collapse;margin:.5rem 0 1rem}
th,td{border:1px solid $border;padding:.25rem .5rem;text-align:left}
td.num{text-align:right}table.kv th{background:$header;width:14rem}
table.cm td{text-align:center;min-width:2.4rem;font-variant-numeric:tabular-nums}
table.cm caption{caption-side:bottom;color:$muted;font-size:.85rem;padding-top:.3rem}
.bar{display:inline-block;height:.7rem;background:$bar;vertical-align:middle}
.verdict{padding:.6rem .9rem;border-radius:6px;margin:.5rem 0}
.verdict ul{margin:.3rem 0 0}.pass{background:$pass_fill;border-left:5px solid $pass_line}
.fail{background:$fail_fill;border-left:5px solid $fail_line}.warn{background:$warn_fill;
border-left:5px solid $warn_line;padding:.6rem .9rem;border-radius:6px}
.row{display:flex;flex-wrap:wrap;gap:1rem}.chart .grid{stroke:$grid}
.chart .tick{font-size:11px;fill:$tick}.chart .ct{font-size:13px;font-weight:600;fill:$text}
img.grid{image-rendering:pixelated;border:1px solid $image_border}
@media print{h2{break-after:avoid}table,svg{break-inside:avoid}}
""").substitute(
    text=palette.TEXT,
    rule=palette.RULE,
    muted=palette.MUTED_TEXT,
    border=palette.BORDER,
    header=palette.HEADER_FILL,
    bar=palette.BAR,
    pass_fill=palette.PASS_FILL,
    pass_line=palette.PASS,
    fail_fill=palette.FAIL_FILL,
    fail_line=palette.FAIL,
    warn_fill=palette.WARN_FILL,
    warn_line=palette.WARN,
    grid=palette.GRID_LINE,
    tick=palette.TICK_TEXT,
    image_border=palette.IMAGE_BORDER,
)


@dataclass(frozen=True)
class _Context:
    """What every section of the report may need."""

    run: Run
    target: float
    val: EvalResult | None
    test: EvalResult | None
    looks: int
    train_counts: list[int] | None

    @property
    def base(self) -> Baselines | None:
        return baselines(label_counts(self.val), self.train_counts) if self.val else None

    @property
    def test_base(self) -> Baselines | None:
        return baselines(label_counts(self.test), self.train_counts) if self.test else None


def _section(key: str, title: str, body: str) -> str:
    return f"<section id='{key}'><h2>{_e(title)}</h2>{body}</section>"


def _summary(c: _Context) -> str:
    if not (c.val and c.base):
        return "<p>This run has no saved validation evaluation.</p>"
    body = _verdict_html(verdict(c.val, c.target, c.base))
    if c.test and c.test_base:
        body += _verdict_html(verdict(c.test, c.target, c.test_base))
    return body


def _task(c: _Context) -> str:
    return (
        "<p>Recognise handwritten digits: given a 28×28 greyscale image of one digit, answer "
        "which of the ten digits 0–9 it shows. Success is measured as the share of images "
        f"answered correctly (accuracy). <b>Target accuracy: {as_percent(c.target)}</b>.</p>"
    )


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else "?"


def _data(c: _Context) -> str:
    meta, cfg = c.run.meta, c.run.config
    sizes = meta.get("sizes", {})
    rows = [
        ("Source", str(meta.get("data_name", meta.get("data", "?")))),
        ("Training images", _count(sizes.get("train"))),
        ("Validation images", _count(sizes.get("val"))),
        ("Validation share of the pool", f"{as_percent(cfg.val_fraction, 0)} (split seed {cfg.split_seed})"),
    ]
    if sizes.get("extra_train"):
        rows.insert(2, ("Of which collected drawings", _count(sizes["extra_train"])))
    if c.test:
        rows.append(("Test images", _count(c.test.n)))
    columns: dict[str, list[int]] = {}
    if c.train_counts:
        columns["training"] = list(c.train_counts)
    if c.val:
        columns["validation"] = label_counts(c.val)
    if c.test:
        columns["test"] = label_counts(c.test)
    balance = "<h3>Class balance</h3>" + balance_table_html(columns) if columns else ""
    return _kv_table(rows) + balance


def _model(c: _Context) -> str:
    meta, cfg = c.run.meta, c.run.config
    rows = [
        ("Model", f"{MODEL_LABELS.get(cfg.model, cfg.model)} — {cfg.summary()}"),
        ("Parameters", _count(meta.get("parameters"))),
        ("Training", f"{meta.get('status', '?')}: {meta.get('message', '')}"),
        ("Epochs run", str(meta.get("epochs_run", len(c.run.history)))),
        ("Kept weights of epoch", str(meta.get("best_epoch", "?"))),
        ("Training time", f"{meta.get('train_seconds', '?')} s"),
    ]
    hyper = "".join(
        f"<tr><th>{_e(k)}</th><td>{_e(v)}</td><td class='muted'>{_e(field_info(k)['help'])}</td></tr>"
        for k, v in cfg.to_dict().items()
    )
    return (
        _kv_table(rows) + "<table><thead><tr><th>setting</th><th>value</th><th>meaning</th></tr>"
        f"</thead><tbody>{hyper}</tbody></table>"
    )


def _curves(c: _Context) -> str:
    return (
        curves_svg(c.run.history) + "<p class='muted'>A validation loss that turns up while "
        "the training loss keeps falling means overfitting; the run keeps the weights of its "
        "best validation epoch.</p>"
    )


def _validation(c: _Context, mistakes_png_uri: str | None, mistakes_caption: str) -> str:
    body = (
        "<p class='muted'>The validation set chose the hyperparameters and the epoch, so these "
        "figures are slightly optimistic.</p>"
    )
    body += _evaluation_html(c.val, c.target, c.base) if c.val and c.base else "<p>Not available.</p>"
    if mistakes_png_uri:
        body += (
            f"<h3>Most confident mistakes</h3><img class='grid' alt='most confident mistakes' "
            f"src='{_e(mistakes_png_uri)}'><p class='muted'>{_e(mistakes_caption)}</p>"
        )
    return body


def _test(c: _Context) -> str:
    if not (c.test and c.test_base):
        return (
            "<p>The test set has not been used yet: it stays locked until the final "
            "evaluation, so the figures above are validation figures only.</p>"
        )
    if c.looks > 1:
        body = (
            f"<p class='warn'>The test set has been looked at {c.looks} times. After the first "
            "look it is no longer an unbiased estimate: any choice made after seeing it was "
            "fitted to it.</p>"
        )
    else:
        body = (
            "<p>The test set was used once, at the end: this is the honest estimate of "
            "accuracy on new images like these.</p>"
        )
    if c.val:
        body += f"<p>{_e(test_vs_validation(c.val, c.test))}</p>"
    return body + _evaluation_html(c.test, c.target, c.test_base)


def _labeling() -> str:
    inputs, est = labeling_estimate()
    return (
        f"<p>Labelling {est.samples:,} images (the size of MNIST) at "
        f"{inputs.seconds_per_sample:g} s each takes {est.hours:,.1f} hours of work: "
        f"{inputs.annotators} people working "
        f"{inputs.hours_per_day:g} hours a day need {est.days:.1f} working days "
        f"({costs.describe_days(est.days)}).</p>"
    )


def _inline_svg(svg: str) -> str:
    """An SVG of inspect_charts inside the page: HTML needs no namespace, and the report keeps no URL."""
    return svg.replace(" xmlns='http://www.w3.org/2000/svg'", "")


def has_confidence(run: Run) -> bool:
    """Whether the run has a temperature or a "not sure" line saved (then the report says so)."""
    from mnist_core.evaluation.calibration import run_threshold

    return isinstance(run.meta.get("calibration"), dict) or run_threshold(run) is not None


def _confidence(run: Run, calibration: CalibrationReport | None, coverage: list[dict] | None) -> str:
    from mnist_core.charts.calibration import coverage_svg, reliability_svg
    from mnist_core.evaluation.calibration import run_threshold, threshold_is_stale

    saved = run.meta.get("calibration")
    body = ""
    if isinstance(saved, dict) and isinstance(saved.get("temperature"), (int, float)):
        body += (
            f"<p>Temperature scaling divides the model's scores by one number, T = "
            f"{saved['temperature']:.3f}, fitted on {_count(saved.get('n'))} validation images: "
            "it changes how sure the model says it is, never which digit it answers.</p>"
        )
        rows = [
            (f"Expected calibration error {k}", as_percent(saved[f"ece_{k}"], 2))
            for k in ("before", "after")
            if isinstance(saved.get(f"ece_{k}"), (int, float))
        ]
        rows += [
            (f"Validation loss (NLL) {k}", f"{saved[f'nll_{k}']:.4f}")
            for k in ("before", "after")
            if isinstance(saved.get(f"nll_{k}"), (int, float))
        ]
        body += _kv_table(rows)
    else:
        body += "<p>No temperature was fitted: the probabilities are the model's own.</p>"
    if calibration is not None:
        body += (
            "<div class='row'>" + _inline_svg(reliability_svg(calibration)) + "</div><p class='muted'>"
            "A calibrated model sits on the diagonal: of the answers it gives with 80 % confidence, "
            "80 % are right. Below the diagonal it is over-confident.</p>"
        )
    threshold = run_threshold(run)
    if threshold is None:
        body += (
            "<p>No “not sure” line was chosen for this run: the app says “not sure” by its default rule.</p>"
        )
        return body
    entry = run.meta.get("unsure_threshold") or {}
    figures = ""
    if isinstance(entry.get("coverage"), (int, float)) and isinstance(entry.get("accuracy"), (int, float)):
        figures = (
            f" On validation it answered {as_percent(entry['coverage'])} of the images, "
            f"{as_percent(entry['accuracy'], 2)} of them correctly."
        )
    body += (
        f"<p><b>“Not sure” line: {threshold:.3f}.</b> The app answers only when its top "
        f"probability reaches it, and says “not sure” otherwise.{_e(figures)}</p>"
    )
    if threshold_is_stale(run):
        body += (
            "<p class='warn'>The line was chosen under another temperature than the one saved "
            "now: its figures no longer hold.</p>"
        )
    if coverage:
        body += "<div class='row'>" + _inline_svg(coverage_svg(coverage, chosen=threshold)) + "</div>"
    return body


def _robustness(sweep: Sweep) -> str:
    from mnist_core.charts.robustness import robustness_svg
    from mnist_core.evaluation.robustness import weakest

    return (
        f"<p><b>{_e(weakest(sweep)['sentence'])}</b></p>"
        + "<div class='row'>"
        + _inline_svg(robustness_svg(sweep))
        + "</div>"
        + f"<p class='muted'>Accuracy on {sweep.n:,} validation images as each change grows: "
        f"{as_percent(sweep.accuracy)} as they are, {as_percent(sweep.app_accuracy)} after the app's "
        "own preprocessing of a drawing (crop, resize, centre), which every curve but “shift after "
        "centring” goes through, as a user's drawing would. An image the app finds blank counts "
        "as wrong. People who write differently from the training data meet these changes.</p>"
    )


_LIMITS = (
    "It was measured on MNIST-style images: one centred, size-normalised digit, white on black. "
    "Photos, other scripts, several digits or off-centre strokes are different data, and "
    "accuracy on them will be lower until they are collected and tested.",
    "It always answers one of 0–9, even for an image that is not a digit.",
    "Its probabilities express the model's confidence, which can be high on a mistake "
    "(see the most confident mistakes).",
    "The accuracy intervals above show how much the figures could move with a different "
    "sample of images of the same kind.",
)


def build_report(
    run: Run,
    target: float,
    *,
    val: EvalResult | None = None,
    test: EvalResult | None = None,
    train_counts: list[int] | None = None,
    mistakes_png_uri: str | None = None,
    mistakes_caption: str = "",
    now: datetime | None = None,
    curve: lc.Curve | None | str = "latest",
    calibration: CalibrationReport | None = None,
    coverage: list[dict] | None = None,
    robustness: Sweep | None | str = "saved",
) -> str:
    """The whole report of `run` as one self-contained HTML page.

    `val` / `test` default to the evaluations saved with the run (test only once it was
    looked at); `train_counts` (images per digit in the training split) and a grid of the
    worst mistakes are added when the caller has the images at hand. `curve`: the learning
    curve behind "how many labels the target needs" ("latest": the newest one saved next to
    the run, on its data source; None: leave the section out).

    When the run has a temperature or a "not sure" line saved, a section on its confidence says
    so; `calibration` (the reliability figures at the saved temperature) and `coverage` (the
    coverage curve on validation) add its charts. `robustness`: the sweep to draw ("saved": the
    one kept with the run, if any; None: leave the section out).
    """
    looks = int(run.meta.get("test_evaluations", 0))
    val = val or run.evaluation("val")
    test = test or (run.evaluation("test") if looks else None)
    c = _Context(run, target, val, test, looks, train_counts)
    learning = latest_curve_for(run) if isinstance(curve, str) else curve
    if isinstance(robustness, str):
        from mnist_core.evaluation.robustness import load_sweep

        robustness = load_sweep(run)
    name = run.meta.get("name") or run.id
    stamp = (now or datetime.now()).strftime("%Y-%m-%d %H:%M")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>MNIST model report — {_e(name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>MNIST model report — {_e(name)}</h1>",
        f"<p class='muted'>Run <code>{_e(run.id)}</code> · trained {_e(run.meta.get('created', '?'))}"
        f" · report generated {_e(stamp)} by MNIST Workflow Studio</p>",
        _section("summary", "Summary", _summary(c)),
        _section("task", "The task and the target", _task(c)),
        _section("data", "The data", _data(c)),
        _section("model", "The model and its hyperparameters", _model(c)),
        _section("curves", "Training curves", _curves(c)),
        _section("validation", "Validation results", _validation(c, mistakes_png_uri, mistakes_caption)),
        _section("test", "Test results", _test(c)),
        *(
            [
                _section(
                    "confidence", "How far to trust its confidence", _confidence(run, calibration, coverage)
                )
            ]
            if has_confidence(run)
            else []
        ),
        *(
            [_section("robustness", "Where it breaks", _robustness(robustness))]
            if robustness is not None
            else []
        ),
        *(
            [_section("plan", "How many labels the target needs", _plan(learning, target))]
            if learning is not None
            else []
        ),
        _section("labeling", "What the labels cost", _labeling()),
        _section(
            "limits",
            "What this model can and cannot do",
            "<ul>" + "".join(f"<li>{_e(x)}</li>" for x in _LIMITS) + "</ul>",
        ),
        "</body></html>",
    ]
    return "\n".join(parts)
