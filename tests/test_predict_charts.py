"""predict_charts: one prediction's probabilities, a model's output next to the target, the field."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core.charts import palette
from mnist_core.charts import prediction as predict_charts
from mnist_core.data.drawing import PreparedDigit
from mnist_core.deploy.predict import Prediction
from tests.helpers import dataset_rows, vega_spec


def prediction(unsure: bool) -> Prediction:
    probs = np.full(10, 0.0125, np.float32)
    probs[2], probs[3] = 0.5, 0.4
    return Prediction(
        PreparedDigit(False, np.zeros((28, 28), np.uint8), {}, ""), 2, probs, 0.5, 3, 0.4, unsure
    )


@pytest.mark.parametrize("unsure", [True, False])
def test_probability_chart_colours_the_answer(unsure):
    d = vega_spec(predict_charts.probability_chart(prediction(unsure)))
    data = dataset_rows(d)
    assert [r["role"] for r in data][2:4] == ["answer", "runner-up" if unsure else "other"]
    assert data[2]["label"] == "50%" and data[0]["label"] == "1%"
    scale = d["layer"][0]["encoding"]["color"]["scale"]
    assert scale["range"] == [palette.UNSURE if unsure else palette.SURE, palette.RUNNER_UP, palette.OTHER]
    assert predict_charts.answer_colour(prediction(unsure)) == scale["range"][0]


def test_output_rows_and_chart():
    rows = predict_charts.output_rows(7)
    assert (
        len(rows) == 20 and sum(r["probability"] for r in rows if r["output"] == predict_charts.TARGET) == 1
    )
    d = vega_spec(predict_charts.output_chart(rows))
    assert d["encoding"]["color"]["scale"]["range"] == [palette.BASELINE, palette.TARGET]
    rows = predict_charts.output_rows(7, [0.1] * 10)
    d = vega_spec(predict_charts.output_chart(rows))
    assert d["encoding"]["color"]["scale"]["domain"][-1] == predict_charts.LATEST
    assert d["encoding"]["color"]["scale"]["range"][-1] == palette.MODEL


def test_field_charts():
    counts = vega_spec(predict_charts.drawings_chart({d: d % 3 for d in range(10)}))
    assert counts["layer"][0]["mark"]["color"] == palette.DRAWINGS and len(dataset_rows(counts)) == 10
    gaps = [{"digit": d, "field_accuracy": 0.5 if d % 2 else None, "val_accuracy": 0.98} for d in range(10)]
    d = vega_spec(predict_charts.field_gap_chart(gaps))
    assert len(dataset_rows(d)) == 15  # ten validation bars, five field bars
    scale = d["encoding"]["color"]["scale"]
    assert dict(zip(scale["domain"], scale["range"])) == {
        "field (your drawings)": palette.FIELD,
        "validation (MNIST)": palette.MNIST_SET,
    }
    empty = vega_spec(
        predict_charts.field_gap_chart([{"digit": 0, "field_accuracy": None, "val_accuracy": None}])
    )
    assert dataset_rows(empty) == []
