"""The learning curve drawn: the Plan page's Altair chart and the stakeholder report's SVG and section.

`synthetic_curve` saves a curve of known shape without training anything; the app tests of
Plan and Define use it too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mnist_core.charts import curve as curve_charts
from mnist_core.charts import palette
from mnist_core.config import TrainConfig
from mnist_core.planning.curve.advice import target_estimate
from mnist_core.planning.curve.fit import fit_points, power_law
from mnist_core.planning.curve.honesty import honesty_check
from mnist_core.planning.curve.store import Curve, save_curve
from mnist_core.report import document as report
from tests.helpers import train_to_run, vega_spec

LOGREG = TrainConfig(
    model="logreg", optimizer="adam", lr=0.01, epochs=2, augment=False, dropout=0.0, weight_decay=0.0
)
SIZES = (125, 250, 500, 1000, 2000, 3432)


def synthetic_points(a: float = 3.9, b: float = 0.7, c: float = 0.005, seed: int = 1) -> list[dict]:
    """Two seeds per size below the largest, errors a·n^(−b) + c with 3 % noise."""
    rng = np.random.default_rng(seed)
    points = []
    for size in SIZES:
        for s in range(2 if size * 2 < SIZES[-1] else 1):
            error = float(power_law(size, a, b, c) * (1 + rng.normal(0, 0.03)))
            points.append(
                {
                    "size": size,
                    "seed": s,
                    "val_error": error,
                    "val_acc": 1 - error,
                    "epochs": 3,
                    "seconds": 0.5,
                }
            )
    return points


def synthetic_curve(
    home: Path | None = None,
    a: float = 3.9,
    b: float = 0.7,
    c: float = 0.005,
    name: str = "",
    created: str = "2024-05-01T12:00:00+00:00",
    config: TrainConfig = LOGREG,
    data: str = "sample",
) -> Curve:
    """A saved curve of known shape (default: 98.5 % needs a few thousand images)."""
    points = synthetic_points(a, b, c)
    curve = Curve(
        id=f"{created[:19].replace(':', '').replace('-', '')}-{config.model}-{name or 'x'}",
        created=created,
        status="finished",
        message="Measured and fitted.",
        config=config,
        data=data,
        data_name="Offline sample",
        n_train=3432,
        n_val=858,
        sizes=list(SIZES),
        seeds=2,
        points=points,
        fit=fit_points(points, resamples=60),
        honesty=honesty_check(points),
        name=name,
    )
    save_curve(curve, home)
    return curve


def test_chart_has_points_fit_band_target_and_the_needed_size(tmp_path):
    curve = synthetic_curve(tmp_path)
    needed = target_estimate(curve.fit, 0.97, 3432)["size"]
    spec = vega_spec(curve_charts.curve_chart(curve.points, curve.fit, 0.03, needed, curve.honesty))
    text = json.dumps(spec, ensure_ascii=False)
    marks = [layer["mark"]["type"] for layer in spec["layer"]]
    assert marks.count("point") == 1 and "area" in marks and marks.count("line") == 2
    assert marks.count("rule") == 2 and f"≈ {needed:,} images" in text
    for series in (
        curve_charts.MEASURED,
        curve_charts.FITTED,
        curve_charts.BAND,
        curve_charts.TARGET,
        curve_charts.HONESTY,
    ):
        assert series in text
    assert palette.VALIDATION in text and palette.TARGET in text and palette.MODEL in text
    x = spec["layer"][0]["encoding"]["x"]
    assert x["scale"]["type"] == "log" and x["scale"]["domain"][0] < 125 < 3432 < x["scale"]["domain"][1]
    points = next(d for d in spec["datasets"].values() if d and "seed" in d[0])
    assert len(points) == len(curve.points) and {p["seed"] for p in points} == {1, 2}


def test_live_chart_with_points_only_and_no_nan():
    points = synthetic_points()[:3]
    points[1]["val_error"] = float("nan")  # a broken point is left out, never a NaN in the spec
    spec = vega_spec(curve_charts.curve_chart(points))
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["point"]
    assert len(curve_charts.point_rows(points)) == 2


def test_size_axis_stretches_to_the_needed_size_but_not_forever():
    points = [{"size": 100}, {"size": 1000}]
    assert curve_charts.size_axis(points, 5000)[1] == pytest.approx(5000 * 1.4)
    assert curve_charts.size_axis(points, 10**9)[1] == pytest.approx(1000 * curve_charts.MAX_STRETCH * 1.4)


@pytest.mark.slow
def test_report_includes_the_latest_curve_of_the_runs_data(tmp_path):
    run = train_to_run(LOGREG, "sample", name="with curve", home=tmp_path)
    page = report.build_report(run, 0.985)
    assert "<section id='plan'>" not in page  # no curve measured yet
    synthetic_curve(tmp_path, name="other", data="mnist", created="2024-06-01T00:00:00+00:00")
    assert "<section id='plan'>" not in report.build_report(run, 0.985)  # another data source's
    curve = synthetic_curve(tmp_path, name="mine")
    page = report.build_report(run, 0.985)
    est = target_estimate(curve.fit, 0.985, 3432)
    assert "<section id='plan'>" in page and curve.id in page
    assert f"To reach 98.5 % you need about {est['size']:,} labelled images" in page
    assert "Honesty check: The curve fitted on ≤ 1,000 images predicted" in page
    assert "<svg" in page and "outsourced + review" in page and f"{est['size']:,}" in page
    assert "<section id='plan'>" not in report.build_report(run, 0.985, curve=None)
    # a target the curve cannot reach says so instead of a size
    assert "out of reach" in report.build_report(run, 0.999)
