"""A run's calibration kept in its meta.json (`storage.update_meta`), and read back.

"calibration" holds {temperature, ECE and NLL before/after, n, bins, fitted} and
"unsure_threshold" {threshold, coverage, accuracy, temperature it was chosen under}.
`run_temperature`, `run_threshold` and `predict_options` read them back; runs without them keep
T = 1 and the default "not sure" rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from mnist_core.config import finite_number
from mnist_core.evaluation.calibration.scaling import (
    N_BINS,
    T_MAX,
    T_MIN,
    CalibrationError,
    CalibrationReport,
    calibrate,
    logits,
)

if TYPE_CHECKING:
    from mnist_core.runs.storage import Run


def _meta(run_or_meta: Any) -> Mapping[str, Any]:
    meta = run_or_meta if isinstance(run_or_meta, Mapping) else getattr(run_or_meta, "meta", None)
    return meta if isinstance(meta, Mapping) else {}


def run_temperature(run_or_meta: Any) -> float:
    """The run's fitted temperature, or 1.0 (no scaling) when it has none or it is unreadable."""
    cal = _meta(run_or_meta).get("calibration")
    t = finite_number(cal.get("temperature")) if isinstance(cal, Mapping) else None
    return t if t is not None and T_MIN <= t <= T_MAX else 1.0


def run_threshold(run_or_meta: Any) -> float | None:
    """The run's own "not sure" threshold, or None (the default rule applies)."""
    entry = _meta(run_or_meta).get("unsure_threshold")
    t = finite_number(entry.get("threshold")) if isinstance(entry, Mapping) else None
    return t if t is not None and 0.0 <= t <= 1.0 else None


def threshold_is_stale(run_or_meta: Any) -> bool:
    """True when the threshold was chosen under another temperature than the current one (its
    coverage figures no longer hold; choose it again)."""
    entry = _meta(run_or_meta).get("unsure_threshold")
    if not isinstance(entry, Mapping) or run_threshold(run_or_meta) is None:
        return False
    chosen_under = finite_number(entry.get("temperature"))
    return chosen_under is not None and abs(chosen_under - run_temperature(run_or_meta)) > 1e-9


def predict_options(run_or_meta: Any) -> dict[str, float]:
    """Keyword arguments for `predict.predict_digit` that apply the run's calibration:
    temperature, and its threshold as the only "not sure" rule (close_margin 0) when it has one."""
    options: dict[str, float] = {"temperature": run_temperature(run_or_meta)}
    threshold = run_threshold(run_or_meta)
    if threshold is not None:
        options.update(unsure_below=threshold, close_margin=0.0)
    return options


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def save_calibration(run: Run, report: CalibrationReport) -> Run:
    """Store the fitted temperature and its figures in the run's meta.json (atomically)."""
    from mnist_core.runs.storage import update_meta

    return update_meta(
        run, calibration={**report.summary(), "bins": len(report.bins_before), "fitted": _now()}
    )


def save_threshold(
    run: Run, threshold: float, *, coverage: float | None = None, accuracy: float | None = None
) -> Run:
    """Store the run's "not sure" threshold (on calibrated probabilities) in meta.json."""
    from mnist_core.runs.storage import update_meta

    t = finite_number(threshold)
    if t is None or not 0.0 <= t <= 1.0:
        raise CalibrationError(f"A threshold is a probability between 0 and 1, got {threshold!r}.")
    return update_meta(
        run,
        unsure_threshold={
            "threshold": t,
            "coverage": finite_number(coverage),
            "accuracy": finite_number(accuracy),
            "temperature": run_temperature(run),
            "chosen": _now(),
        },
    )


def clear_threshold(run: Run) -> Run:
    """Back to the default "not sure" rule for this run."""
    from mnist_core.runs.storage import update_meta

    return update_meta(run, unsure_threshold=None)


def validation_logits(run: Run, model: nn.Module | None = None) -> tuple[torch.Tensor, np.ndarray]:
    """Logits and labels of the run's own validation set (rebuilt exactly; DataError if it cannot be)."""
    val = run.split().val
    model = model if model is not None else run.load_model()
    return logits(model, val.images), val.labels.numpy()


def calibrate_run(run: Run, *, n_bins: int = N_BINS, save: bool = True) -> CalibrationReport:
    """Fit the run's temperature on its validation set and (by default) save it with the run."""
    z, y = validation_logits(run)
    if len(y) == 0:
        raise CalibrationError("The run's validation set is empty: there is nothing to calibrate on.")
    report = calibrate(z, y, n_bins)
    if save:
        save_calibration(run, report)
    return report
