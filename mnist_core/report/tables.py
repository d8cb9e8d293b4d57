"""The report's HTML tables: key-value facts, the confusion matrix shaded like the page's heatmap,
per-class metrics, class balance with inline bars, and the labelling-cost range; and `esc`, the
one escape every piece of text goes through (run names and data names are the user's).

Plain HTML and palette colours only: no chart engine here.
"""

from __future__ import annotations

from mnist_core.charts import palette
from mnist_core.charts.palette import cell_colour
from mnist_core.evaluation.evaluate import EvalResult
from mnist_core.planning import costs
from mnist_core.text import escape as esc
from mnist_core.text import percent as as_percent


def kv_table(rows: list[tuple[str, str]]) -> str:
    """Two columns: what, and its value."""
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f"<table class='kv'>{body}</table>"


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
    """Precision, recall, F1 and the number of images of each digit."""
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
    head = "".join(f"<th>{esc(name)}</th>" for name in columns)
    rows = []
    for d in range(10):
        cells = "".join(f"<td>{_bar(counts[d], max(counts))}</td>" for counts in columns.values())
        rows.append(f"<tr><td>{d}</td>{cells}</tr>")
    totals = "".join(f"<td class='num'><b>{sum(c):,}</b></td>" for c in columns.values())
    return (
        f"<table><thead><tr><th>digit</th>{head}</tr></thead><tbody>{''.join(rows)}"
        f"<tr><td><b>total</b></td>{totals}</tr></tbody></table>"
    )


def labeling_cost_table_html(inputs: costs.LabelingInputs, size: int, low: int, high: int) -> str:
    """Hours, days and money of labelling `size` images (and the `low`–`high` range), with the rates."""
    rows = costs.curve_estimates(inputs, size, low, high)
    names = {"low": "low end", "estimate": "estimate", "high": "high end"}
    cells = "".join(
        f"<tr><td>{names[k]}</td><td class='num'>{e.samples:,}</td><td class='num'>{e.hours:,.1f}</td>"
        f"<td>{esc(costs.describe_days(e.days))}</td><td class='num'>${e.in_house_cost:,.0f}</td>"
        f"<td class='num'>${e.outsourced_cost:,.0f}</td></tr>"
        for k, e in rows.items()
    )
    return (
        "<table><thead><tr><th></th><th>images</th><th>hours</th>"
        f"<th>{inputs.annotators} people in house</th><th>in house</th>"
        f"<th>outsourced + review</th></tr></thead><tbody>{cells}</tbody></table>"
        f"<p class='muted'>At {inputs.seconds_per_sample:g} s a label, "
        f"{inputs.hours_per_day:g} h a day, ${inputs.hourly_wage:g} an hour in house or "
        f"${inputs.price_per_sample:g} a label outsourced (plus an in-house re-check of "
        f"{inputs.review_share:.0%}).</p>"
    )
