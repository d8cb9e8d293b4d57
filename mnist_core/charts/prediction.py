"""Altair charts of what a model answers: the ten probabilities for one input, a model's output
next to an untrained one and the training target, and how its answers on users' drawings
compare with MNIST (drawings per digit, field against validation accuracy).

Builders take a `predict.Prediction` or plain rows (of `field_accuracy.digit_gaps`, counts per
digit) and return Altair charts; colours come from `palette`. No Streamlit here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd

from mnist_core.charts import palette
from mnist_core.deploy.predict import Prediction, percent

UNTRAINED = "Untrained model: 10 %"
TARGET = "Target: the true label"
LATEST = "Your latest model"
_FIELD_SETS = (
    ("field (your drawings)", "field_accuracy", palette.FIELD),  # legend order
    ("validation (MNIST)", "val_accuracy", palette.MNIST_SET),
)


def output_rows(label: int, model_probs: Sequence[float] | None = None) -> list[dict]:
    """Rows (digit, probability, output) of the output before training (uniform), the training
    target (one-hot on `label`) and, if given, a model's probabilities."""
    series = {UNTRAINED: [0.1] * 10, TARGET: [float(d == label) for d in range(10)]}
    if model_probs is not None:
        series[LATEST] = [float(p) for p in model_probs]
    return [
        {"digit": str(d), "probability": p, "output": name}
        for name, probs in series.items()
        for d, p in enumerate(probs)
    ]


def output_chart(rows: Sequence[Mapping]) -> alt.Chart:
    """Grouped bars of `output_rows`: untrained grey, target blue, the model green."""
    frame = pd.DataFrame(rows)
    outputs = list(dict.fromkeys(frame["output"]))
    colours = {UNTRAINED: palette.BASELINE, TARGET: palette.TARGET, LATEST: palette.MODEL}
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("digit:N", title="digit", axis=alt.Axis(labelAngle=0)),
            xOffset=alt.XOffset("output:N", sort=outputs),
            y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            color=alt.Color(
                "output:N",
                title=None,
                sort=outputs,
                scale=alt.Scale(domain=outputs, range=[colours[o] for o in outputs]),
                legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=320),
            ),
            tooltip=["output", "digit", alt.Tooltip("probability:Q", format=".1%")],
        )
    )


def answer_colour(prediction: Prediction) -> str:
    """The colour of an answer: amber when the model hedges, green when it is sure."""
    return palette.UNSURE if prediction.is_unsure else palette.SURE


def probability_chart(prediction: Prediction, height: int = 230) -> alt.LayerChart:
    """The ten probabilities of one (non-blank) prediction, labelled: the answer in its colour,
    the runner-up of an unsure answer in gold, the rest grey."""
    p = prediction
    roles = [
        "answer" if d == p.digit else "runner-up" if p.is_unsure and d == p.runner_up else "other"
        for d in range(10)
    ]
    df = pd.DataFrame(
        {
            "digit": [str(d) for d in range(10)],
            "probability": p.probabilities,
            "role": roles,
            "label": [percent(float(v)) if v >= 0.01 else "" for v in p.probabilities],
        }
    )
    base = alt.Chart(df).encode(
        x=alt.X("digit:N", sort=None, title=None, axis=alt.Axis(labelAngle=0, labelFontSize=14)),
        y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), title=None, axis=alt.Axis(format="%")),
        tooltip=["digit", alt.Tooltip("probability:Q", format=".1%")],
    )
    bars = base.mark_bar(cornerRadiusTopLeft=4, cornerRadiusTopRight=4).encode(
        color=alt.Color(
            "role:N",
            legend=None,
            scale=alt.Scale(
                domain=["answer", "runner-up", "other"],
                range=[answer_colour(p), palette.RUNNER_UP, palette.OTHER],
            ),
        )
    )
    labels = base.mark_text(dy=-8, fontSize=12).encode(text="label:N")
    return (bars + labels).properties(height=height, title="Probability of each digit")


def drawings_chart(counts: Mapping[int, int], height: int = 200) -> alt.LayerChart:
    """Collected drawings per digit ({digit: count}), each bar labelled with its count."""
    df = pd.DataFrame({"digit": [str(d) for d in counts], "drawings": list(counts.values())})
    base = alt.Chart(df).encode(
        x=alt.X("digit:N", sort=None, title=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("drawings:Q", title="drawings", axis=alt.Axis(tickMinStep=1)),
    )
    bars = base.mark_bar(color=palette.DRAWINGS, cornerRadiusTopLeft=3, cornerRadiusTopRight=3)
    return (bars + base.mark_text(dy=-7).encode(text="drawings:Q")).properties(
        height=height, title="Drawings per digit"
    )


def field_gap_chart(rows: Sequence[Mapping], height: int = 230) -> alt.Chart:
    """Per digit, validation accuracy on MNIST next to accuracy on users' drawings
    (`field_accuracy.digit_gaps` rows; a digit without a value has no bar)."""
    df = pd.DataFrame(
        [
            {"digit": str(r["digit"]), "set": name, "accuracy": r[key]}
            for r in rows
            for name, key, _ in _FIELD_SETS
            if r[key] is not None
        ],
        columns=["digit", "set", "accuracy"],
    )
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("digit:N", sort=None, title=None, axis=alt.Axis(labelAngle=0)),
            xOffset="set:N",
            y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title=None),
            color=alt.Color(
                "set:N",
                title=None,
                legend=alt.Legend(orient="top"),
                scale=alt.Scale(
                    domain=[name for name, _, _ in _FIELD_SETS],
                    range=[colour for _, _, colour in _FIELD_SETS],
                ),
            ),
            tooltip=["digit:N", "set:N", alt.Tooltip("accuracy:Q", format=".0%")],
        )
        .properties(height=height)
    )
