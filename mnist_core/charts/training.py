"""Altair charts of training: the curves of one run (live and saved), several runs overlaid,
validation accuracy per model, and the run-history table. The other topics have their own
modules: `eval_charts` (an evaluation), `data_charts` (the data), `predict_charts` (answers).

Each chart is its own function taking plain records (dicts of `EpochRecord.to_dict()` /
`BatchRecord.to_dict()`, saved runs) and returning an Altair chart; pages only call
`st.altair_chart(...)`. Values are made JSON-safe (NaN/inf become nulls) so a diverged run
never breaks the Vega-Lite spec. The training curves also come as `curves_spec`, a ready
Vega-Lite dict built from a cached template, for views redrawn twice a second while a model
trains in the same process. `runs_table` is the run-history table. No Streamlit here.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import altair as alt
import pandas as pd

from mnist_core.charts import palette
from mnist_core.config import finite_number
from mnist_core.training.diagnose import best_record

if TYPE_CHECKING:
    from mnist_core.runs.storage import Run

SPLIT_SCALE = alt.Scale(domain=["train", "validation"], range=[palette.TRAIN, palette.VALIDATION])
# Fill the width, but let `height` be the plot's own height: Streamlit's default ("fit") counts
# titles and legends in it, which squashes a chart with a long legend to a few pixels.
FIT_X = alt.AutoSizeParams(type="fit-x", contains="padding")


def curves_frame(epochs: Sequence[Mapping[str, Any]], metric: str = "loss") -> pd.DataFrame:
    """Long format, one row per epoch and split: epoch, split ("train"/"validation"), value."""
    return pd.DataFrame(_curve_rows(epochs, metric), columns=["epoch", "split", "value"])


def _curve_rows(epochs: Sequence[Mapping[str, Any]], metric: str) -> list[dict[str, Any]]:
    return [
        {"epoch": float(e["epoch"]), "split": split, "value": finite_number(e.get(f"{prefix}_{metric}"))}
        for e in epochs
        for split, prefix in (("train", "train"), ("validation", "val"))
    ]


def batches_frame(batches: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Running train loss within epochs, placed at fractional epochs (epoch 2, batch 5/10 -> 1.5)."""
    return pd.DataFrame(_batch_rows(batches), columns=["epoch", "value"])


def _batch_rows(batches: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"epoch": b["epoch"] - 1 + b["batch"] / max(b["batches"], 1), "value": finite_number(b["train_loss"])}
        for b in batches
    ]


# The training curves use named datasets, so the chart's structure is built (and validated by
# Altair, which is slow) once per shape, and each redraw only swaps the data: see curves_spec.
CURVES, BATCHES, BEST = "curves", "batches", "best"
_METRICS = {
    "loss": ("Loss (lower is better)", "cross-entropy loss", ".2f"),
    "acc": ("Accuracy (higher is better)", "accuracy", ".0%"),
}


def curves_datasets(
    metric: str, epochs: Sequence[Mapping[str, Any]], batches: Sequence[Mapping[str, Any]] = ()
) -> dict[str, list[dict[str, Any]]]:
    """The three named datasets of a curves chart: per-epoch curves, running batch loss, best epoch."""
    curves = _curve_rows(epochs, metric)
    kept = best_record(epochs)
    best = kept["epoch"] if kept else None
    best_rows = [
        {"epoch": r["epoch"], "value": r["value"], "label": f"best epoch {best}"}
        for r in curves
        if r["epoch"] == best and r["split"] == "validation"
    ]
    return {CURVES: curves, BATCHES: _batch_rows(batches) if metric == "loss" else [], BEST: best_rows}


def _curves_layers(metric: str, total_epochs: int | None, height: int) -> alt.LayerChart:
    title, y_title, y_format = _METRICS[metric]
    x = alt.X(
        "epoch:Q",
        title="epoch",
        axis=alt.Axis(tickMinStep=1),
        scale=alt.Scale(domain=[0, total_epochs]) if total_epochs else alt.Undefined,
    )
    y = alt.Y(
        "value:Q", title=y_title, axis=alt.Axis(format=y_format), scale=alt.Scale(zero=metric == "loss")
    )
    batches = (
        alt.Chart(alt.NamedData(BATCHES))
        .mark_line(color=palette.TRAIN, opacity=0.3, strokeWidth=1.5, interpolate="monotone")
        .encode(
            x=x,
            y=y,
            tooltip=[
                alt.Tooltip("epoch:Q", format=".2f"),
                alt.Tooltip("value:Q", title="running train loss", format=".3f"),
            ],
        )
    )
    lines = (
        alt.Chart(alt.NamedData(CURVES))
        .mark_line(point=True, strokeWidth=2.5)
        .encode(
            x=x,
            y=y,
            color=alt.Color("split:N", scale=SPLIT_SCALE, title=None, legend=alt.Legend(orient="top")),
            tooltip=[
                alt.Tooltip("epoch:Q"),
                alt.Tooltip("split:N"),
                alt.Tooltip("value:Q", title=y_title, format=y_format),
            ],
        )
    )
    rule = (
        alt.Chart(alt.NamedData(BEST))
        .mark_rule(color=palette.KEPT, strokeDash=[4, 3])
        .encode(x=x, tooltip=["label:N"])
    )
    dot = (
        alt.Chart(alt.NamedData(BEST))
        .mark_point(color=palette.KEPT, size=120, filled=True, shape="diamond")
        .encode(
            x=x,
            y=y,
            tooltip=[
                alt.Tooltip("label:N", title="kept"),
                alt.Tooltip("value:Q", title="validation", format=y_format),
            ],
        )
    )
    return alt.layer(batches, lines, rule, dot).properties(title=title, height=height, autosize=FIT_X)


def curves_chart(
    metric: str,
    epochs: Sequence[Mapping[str, Any]],
    batches: Sequence[Mapping[str, Any]] = (),
    total_epochs: int | None = None,
    height: int = 280,
) -> alt.LayerChart:
    """Train and validation `metric` ("loss" or "acc") per epoch with the best epoch marked; for
    the loss, the running batch loss as a faint line. `total_epochs` fixes the x axis."""
    return _curves_layers(metric, total_epochs, height).properties(
        datasets=curves_datasets(metric, epochs, batches)
    )


@functools.lru_cache(maxsize=64)
def _curves_template(metric: str, total_epochs: int | None, height: int) -> dict[str, Any]:
    return _curves_layers(metric, total_epochs, height).to_dict()


def curves_spec(
    metric: str,
    epochs: Sequence[Mapping[str, Any]],
    batches: Sequence[Mapping[str, Any]] = (),
    total_epochs: int | None = None,
    height: int = 280,
) -> dict[str, Any]:
    """`curves_chart` as a Vega-Lite dict in about a millisecond (for `st.vega_lite_chart`): a page
    redrawing it twice a second must not hold the GIL the training thread needs."""
    spec = copy.deepcopy(_curves_template(metric, total_epochs, height))
    spec["datasets"] = curves_datasets(metric, epochs, batches)
    return spec


def loss_chart(
    epochs: Sequence[Mapping[str, Any]],
    batches: Sequence[Mapping[str, Any]] = (),
    total_epochs: int | None = None,
    height: int = 280,
) -> alt.LayerChart:
    """Train and validation loss per epoch, the running batch loss as a faint line, best epoch marked."""
    return curves_chart("loss", epochs, batches, total_epochs, height)


def accuracy_chart(
    epochs: Sequence[Mapping[str, Any]], total_epochs: int | None = None, height: int = 280
) -> alt.LayerChart:
    """Train and validation accuracy per epoch, best epoch marked."""
    return curves_chart("acc", epochs, (), total_epochs, height)


def overlay_frame(
    histories: Mapping[str, Sequence[Mapping[str, Any]]],
    metric: str = "loss",
    splits: Sequence[str] = ("train", "validation"),
) -> pd.DataFrame:
    """Long format for several runs: run, epoch, split, value."""
    parts = []
    for label, history in histories.items():
        frame = curves_frame(history, metric)
        frame.insert(0, "run", label)
        parts.append(frame[frame["split"].isin(splits)])
    if not parts:
        return pd.DataFrame(columns=["run", "epoch", "split", "value"])
    return pd.concat(parts, ignore_index=True)


def overlay_chart(
    histories: Mapping[str, Sequence[Mapping[str, Any]]], metric: str = "loss", height: int = 320
) -> alt.Chart:
    """Several runs' curves in one chart: colour = run, solid = validation, dashed = train."""
    frame = overlay_frame(histories, metric)
    y_title, y_format = ("loss", ".2f") if metric == "loss" else ("accuracy", ".0%")
    title = "Validation (solid) and training (dashed) " + ("loss" if metric == "loss" else "accuracy")
    return (
        alt.Chart(frame)
        .mark_line(point=alt.OverlayMarkDef(size=25))
        .encode(
            x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y(
                "value:Q",
                title=y_title,
                axis=alt.Axis(format=y_format),
                scale=alt.Scale(zero=metric == "loss"),
            ),
            color=alt.Color(
                "run:N",
                title="run",
                scale=alt.Scale(scheme="tableau10"),
                legend=alt.Legend(orient="bottom", columns=2, labelLimit=300),
            ),
            strokeDash=alt.StrokeDash(
                "split:N",
                title=None,
                scale=alt.Scale(domain=["validation", "train"], range=[[1, 0], [5, 4]]),
                legend=alt.Legend(
                    symbolType="stroke",
                    orient="top",
                    symbolStrokeColor=palette.LEGEND_STROKE,
                    symbolStrokeWidth=2,
                ),
            ),
            detail="split:N",
            tooltip=[
                "run:N",
                alt.Tooltip("epoch:Q"),
                "split:N",
                alt.Tooltip("value:Q", title=y_title, format=y_format),
            ],
        )
        .properties(title=title, height=height, autosize=FIT_X)
    )


def accuracy_bars(
    rows: Sequence[tuple[str, float | None]], target: float | None = None, height: int = 60
) -> alt.LayerChart:
    """Horizontal bars of validation accuracy per model, in the given order, labelled in %;
    `target` (the task's accuracy goal) as a dashed line."""
    frame = pd.DataFrame(
        [{"model": m, "accuracy": finite_number(a), "order": i} for i, (m, a) in enumerate(rows)],
        columns=["model", "accuracy", "order"],
    )
    base = alt.Chart(frame).encode(
        y=alt.Y("model:N", title=None, sort=alt.EncodingSortField("order"), axis=alt.Axis(labelLimit=300)),
        x=alt.X(
            "accuracy:Q",
            title="validation accuracy",
            scale=alt.Scale(domain=[0, 1]),
            axis=alt.Axis(format=".0%"),
        ),
        tooltip=["model:N", alt.Tooltip("accuracy:Q", format=".2%")],
    )
    layers = [
        base.mark_bar(color=palette.VALIDATION, cornerRadiusEnd=3),
        base.mark_text(align="right", dx=-4, fontWeight="bold", color=palette.TEXT_ON_DARK).encode(
            text=alt.Text("accuracy:Q", format=".1%")
        ),
    ]
    if target is not None:
        goal = pd.DataFrame({"accuracy": [target], "label": [f"target {target:.0%}"]})
        layers.append(
            alt.Chart(goal)
            .mark_rule(color=palette.KEPT, strokeDash=[4, 3], strokeWidth=2)
            .encode(x="accuracy:Q", tooltip=["label:N"])
        )
    return alt.layer(*layers).properties(
        title="Validation accuracy, same split", height=max(height, 34 * len(rows)), autosize=FIT_X
    )


def runs_table(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per saved run, in the given order, with sortable (typed) columns."""
    rows = []
    for run in runs:
        c, m = run.config, run.meta
        rows.append(
            {
                "name": m.get("name") or run.id,
                "model": c.summary(),
                "val accuracy": finite_number(m.get("val_accuracy")),
                "best epoch": m.get("best_epoch"),
                "epochs": m.get("epochs_run", len(run.history)),
                "of": c.epochs,
                "optimizer": c.optimizer,
                "lr": c.lr,
                "batch": c.batch_size,
                "dropout": c.dropout,
                "weight decay": c.weight_decay,
                "augment": c.augment,
                "train images": (m.get("sizes") or {}).get("train"),
                "seconds": finite_number(m.get("train_seconds")),
                "status": m.get("status", ""),
                "created": _created(m.get("created")),
                "data": m.get("data_name") or m.get("data", ""),
                "id": run.id,
            }
        )
    frame = pd.DataFrame(rows, columns=list(_TABLE_COLUMNS))
    for col in ("best epoch", "epochs", "train images"):
        frame[col] = frame[col].astype("Int64")
    return frame


_TABLE_COLUMNS = (
    "name",
    "model",
    "val accuracy",
    "best epoch",
    "epochs",
    "of",
    "optimizer",
    "lr",
    "batch",
    "dropout",
    "weight decay",
    "augment",
    "train images",
    "seconds",
    "status",
    "created",
    "data",
    "id",
)


def _created(value: Any) -> datetime | None:
    """ISO time (UTC) as stored -> a local, naive datetime for display and sorting."""
    try:
        return datetime.fromisoformat(str(value)).astimezone().replace(tzinfo=None)
    except ValueError:
        return None
