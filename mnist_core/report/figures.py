"""The report's figures: the app's own Altair charts, drawn with the arguments the pages give them,
as inline SVG (`svg.chart_svg`). One chart definition serves page and report.

Each function takes what the run has saved and returns HTML: the chart, or one muted line saying
why there is none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from mnist_core.charts import calibration as calibration_charts
from mnist_core.charts import curve as curve_charts
from mnist_core.charts import robustness as robustness_charts
from mnist_core.charts import training as training_charts
from mnist_core.evaluation.calibration.scaling import CalibrationReport
from mnist_core.evaluation.robustness.results import Sweep
from mnist_core.planning import curve as lc
from mnist_core.report.svg import chart_svg

CURVE_WIDTH = 500  # two training charts side by side fit the page's 1,100 px


def training_curves(history: Sequence[Mapping[str, Any]]) -> str:
    """Loss and accuracy per epoch (train vs validation, the kept epoch marked), side by side:
    the charts of the Train page and the run history."""
    epochs = [h for h in history if "epoch" in h]
    if not epochs:
        return "<p class='muted'>No training curves were saved with this run.</p>"
    loss = training_charts.loss_chart(epochs).properties(width=CURVE_WIDTH)
    accuracy = training_charts.accuracy_chart(epochs).properties(width=CURVE_WIDTH)
    return (
        "<div class='row'>"
        + chart_svg(loss, "Loss per epoch, train and validation")
        + chart_svg(accuracy, "Accuracy per epoch, train and validation")
        + "</div>"
    )


def learning_curve(curve: lc.Curve, target_error: float | None, needed: int | None) -> str:
    """The Plan page's learning curve: measured points, the fitted power law and its band, the
    honesty check's smaller fit, the target error and the size it needs."""
    if not any(math.isfinite(float(p["val_error"])) for p in curve.points):
        return "<p class='muted'>Learning curve: no measured points.</p>"
    chart = curve_charts.curve_chart(curve.points, curve.fit, target_error, needed, curve.honesty)
    return chart_svg(chart.properties(width=560), "Validation error by number of labelled training images")


def reliability(calibration: CalibrationReport) -> str:
    """The reliability diagram before and after temperature scaling, as on the Evaluate page."""
    return chart_svg(calibration_charts.reliability_chart(calibration), "Reliability diagram")


def coverage(points: list[dict], chosen: float, target: float) -> str:
    """Share answered and accuracy when answering against the "not sure" line, as on the Evaluate page."""
    chart = calibration_charts.coverage_chart(points, chosen=chosen, target=target)
    return chart_svg(chart.configure_legend(orient="top"), f"Coverage vs accuracy, line at {chosen:.3f}")


def robustness(sweep: Sweep) -> str:
    """Accuracy as the validation images are perturbed, one panel per change, as on the Evaluate page."""
    title = "Accuracy as the validation images are perturbed"
    return chart_svg(robustness_charts.robustness_chart(sweep).properties(title=title), title)
