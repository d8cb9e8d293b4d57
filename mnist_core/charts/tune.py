"""Altair charts of a hyperparameter search (the Tune page), drawn from `tune.results.trials_table` rows.

- `best_so_far_chart`: every trial's result against its number, and the best result so far
  as a step line: does the search still improve?
- `intermediate_chart`: the objective after every epoch of every trial, pruned ones greyed,
  so one sees where the pruner cut the hopeless trials off.
- `importance_chart`: how much of the objective's variation each parameter explains
  (`tune.results.importances`).
- `slice_chart`: one small scatter per searched parameter (three to a row), objective
  against its value (log axes for log-uniform parameters): where the good values lie.

Builders take plain rows and return Altair charts; colours come from `palette`; non-finite
values are dropped so a diverged trial never breaks a spec. No Streamlit here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import pandas as pd

from mnist_core.charts import palette
from mnist_core.config import finite_number
from mnist_core.planning.tune.params import PARAM_SPECS
from mnist_core.planning.tune.study import OBJECTIVES

STATE_ORDER = ("complete", "running", "pruned", "failed")
STATE_COLOURS = {
    "complete": palette.MODEL,
    "running": palette.VALIDATION,
    "pruned": palette.BASELINE,
    "failed": palette.WORSE,
}
BEST_LINE = "best so far"
PARAM_LABELS = {
    "lr": "learning rate",
    "dropout": "dropout",
    "weight_decay": "weight decay",
    "cnn_channels": "CNN channels",
    "mlp_width": "MLP width",
    "batch_size": "batch size",
    "augment": "augmentation",
}
FIT_X = alt.AutoSizeParams(type="fit-x", contains="padding")


def objective_axis(objective: str) -> tuple[str, str]:
    """Axis title and number format of an objective."""
    return ("validation accuracy", ".0%") if objective == "val_acc" else ("validation loss", ".3f")


def _state_scale(states: Sequence[str]) -> alt.Scale:
    domain = [s for s in STATE_ORDER if s in states] or ["complete"]
    return alt.Scale(domain=domain, range=[STATE_COLOURS[s] for s in domain])


def best_so_far_rows(rows: Sequence[Mapping[str, Any]], objective: str) -> list[dict[str, Any]]:
    """One row per trial with a result (complete: its value; pruned: its last reported value),
    with the best complete value up to that trial."""
    better = max if OBJECTIVES[objective] == "maximize" else min
    best: float | None = None
    out = []
    for r in sorted(rows, key=lambda r: r["number"]):
        if r["state"] == "complete":
            value = finite_number(r.get("value"))
        elif r["state"] == "pruned" and r.get("curve"):
            value = finite_number(r["curve"][-1].get("value"))
        else:
            value = None
        if value is None:
            continue
        if r["state"] == "complete":
            best = value if best is None else better(best, value)
        out.append({"trial": int(r["number"]), "value": value, "state": r["state"], "best": best})
    return out


def best_so_far_chart(rows: Sequence[Mapping[str, Any]], objective: str, height: int = 240) -> alt.LayerChart:
    """Trials' results (dots) and the best so far (step line) against the trial number."""
    title, fmt = objective_axis(objective)
    data = pd.DataFrame(best_so_far_rows(rows, objective), columns=["trial", "value", "state", "best"])
    x = alt.X("trial:Q", title="trial", axis=alt.Axis(tickMinStep=1, format="d"))
    dots = (
        alt.Chart(data)
        .mark_point(filled=True, size=60)
        .encode(
            x=x,
            y=alt.Y("value:Q", title=title, axis=alt.Axis(format=fmt), scale=alt.Scale(zero=False)),
            color=alt.Color(
                "state:N",
                scale=_state_scale(list(data["state"])),
                title="trial",
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=["trial:Q", "state:N", alt.Tooltip("value:Q", format=fmt, title=title)],
        )
    )
    line = (
        alt.Chart(data.dropna(subset=["best"]))
        .mark_line(interpolate="step-after", color=palette.KEPT, strokeWidth=2)
        .encode(x=x, y="best:Q", tooltip=["trial:Q", alt.Tooltip("best:Q", format=fmt, title=BEST_LINE)])
    )
    return alt.layer(line, dots).properties(height=height, title=f"Best {title} so far", autosize=FIT_X)


def curve_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Long format: trial, state, epoch, value (the objective reported after that epoch)."""
    return [
        {
            "trial": int(r["number"]),
            "state": r["state"],
            "epoch": int(p["epoch"]),
            "value": v,
            "best": bool(r.get("is_best")),
        }
        for r in rows
        for p in r.get("curve", ())
        if (v := finite_number(p.get("value"))) is not None
    ]


def intermediate_chart(rows: Sequence[Mapping[str, Any]], objective: str, height: int = 240) -> alt.Chart:
    """Every trial's objective per epoch; pruned trials grey and faint, the best one bold."""
    title, fmt = objective_axis(objective)
    data = pd.DataFrame(curve_rows(rows), columns=["trial", "state", "epoch", "value", "best"])
    return (
        alt.Chart(data)
        .mark_line(point=alt.OverlayMarkDef(size=18))
        .encode(
            x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("value:Q", title=title, axis=alt.Axis(format=fmt), scale=alt.Scale(zero=False)),
            color=alt.Color(
                "state:N",
                scale=_state_scale(list(data["state"])),
                title="trial",
                legend=alt.Legend(orient="bottom"),
            ),
            detail="trial:N",
            opacity=alt.condition(alt.datum.state == "pruned", alt.value(0.45), alt.value(0.9)),
            strokeWidth=alt.condition(alt.datum.best, alt.value(3), alt.value(1.3)),
            tooltip=["trial:Q", "state:N", "epoch:Q", alt.Tooltip("value:Q", format=fmt, title=title)],
        )
        .properties(
            height=height, title=f"{title.capitalize()} after every epoch of every trial", autosize=FIT_X
        )
    )


def importance_chart(importances: Mapping[str, float], height: int | None = None) -> alt.Chart:
    """Horizontal bars: each parameter's share of the objective's variation."""
    data = pd.DataFrame(
        [
            {"parameter": PARAM_LABELS.get(k, k), "importance": v}
            for k, v in importances.items()
            if finite_number(v) is not None
        ],
        columns=["parameter", "importance"],
    )
    return (
        alt.Chart(data)
        .mark_bar(color=palette.MODEL)
        .encode(
            x=alt.X(
                "importance:Q",
                title="share of the variation explained",
                axis=alt.Axis(format=".0%", tickCount=5),
            ),
            y=alt.Y("parameter:N", sort="-x", title=None),
            tooltip=["parameter:N", alt.Tooltip("importance:Q", format=".1%")],
        )
        .properties(
            height=height or 36 * max(len(data), 1) + 20, title="Parameter importance", autosize=FIT_X
        )
    )


def slice_rows(rows: Sequence[Mapping[str, Any]], name: str) -> list[dict[str, Any]]:
    """Complete trials' (value of `name`, objective) pairs."""
    out = []
    for r in rows:
        value = finite_number(r.get("value"))
        if r["state"] != "complete" or value is None or name not in r.get("params", {}):
            continue
        x = r["params"][name]
        out.append(
            {
                "trial": int(r["number"]),
                "x": ("on" if x else "off") if isinstance(x, bool) else x,
                "value": value,
                "best": bool(r.get("is_best")),
            }
        )
    return out


def slice_chart(
    rows: Sequence[Mapping[str, Any]],
    params: Sequence[str],
    objective: str,
    width: int = 200,
    height: int = 170,
    columns: int = 3,
) -> alt.ConcatChart:
    """One scatter per parameter: objective against the parameter's value (complete trials)."""
    title, fmt = objective_axis(objective)
    panels = []
    for name in params:
        spec = PARAM_SPECS[name]
        data = pd.DataFrame(slice_rows(rows, name), columns=["trial", "x", "value", "best"])
        if spec.kind == "choice":
            x = alt.X("x:O", title=PARAM_LABELS.get(name, name))
        else:
            x = alt.X(
                "x:Q",
                title=PARAM_LABELS.get(name, name) + (" (log)" if spec.log else ""),
                scale=alt.Scale(type="log" if spec.log else "linear", zero=False),
                axis=alt.Axis(format="~g", labelOverlap=True, tickCount=4, grid=False),
            )
        panels.append(
            alt.Chart(data)
            .mark_point(filled=True, size=55)
            .encode(
                x=x,
                y=alt.Y("value:Q", title=title, axis=alt.Axis(format=fmt), scale=alt.Scale(zero=False)),
                color=alt.condition(alt.datum.best, alt.value(palette.KEPT), alt.value(palette.VALIDATION)),
                tooltip=[
                    "trial:Q",
                    alt.Tooltip("x:O" if spec.kind == "choice" else "x:Q", title=name),
                    alt.Tooltip("value:Q", format=fmt, title=title),
                ],
            )
            .properties(width=width, height=height)
        )
    return alt.concat(*panels, columns=columns).properties(
        title="Slices: the objective against each parameter (green: the best trial)"
    )
