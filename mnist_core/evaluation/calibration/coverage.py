"""Coverage vs accuracy: "answer only when the top probability ≥ t, otherwise say *not sure*".

`coverage_curve` gives, per threshold t, the share of validation images answered and the
accuracy on them; `choose_threshold` picks the lowest t that keeps a target accuracy. A run's
own threshold (`calibration.saved`) replaces the Deploy page's default rule (top < 0.6 or a
runner-up within 0.3) and applies alone, so what the curve promises is what Deploy does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mnist_core.evaluation.calibration.scaling import CalibrationError, _labels

DEFAULT_TARGET_ACCURACY = 0.99


def default_thresholds() -> np.ndarray:
    """0.00, 0.01 ... 0.99, then 0.995 and 0.999: a good model's answers crowd the top end."""
    return np.concatenate([np.round(np.arange(100) / 100, 2), [0.995, 0.999]])


def coverage_curve(probs: np.ndarray, labels: Any, thresholds: Any = None) -> list[dict]:
    """Per threshold t: answered (count), coverage (share of images with top probability ≥ t)
    and accuracy on the answered ones (None when none is answered)."""
    p = np.asarray(probs, dtype=np.float64)
    y = _labels(labels)
    conf, correct = p.max(axis=1), (p.argmax(axis=1) == y)
    order = np.argsort(-conf, kind="stable")
    conf_sorted, right_cum = conf[order], np.cumsum(correct[order])
    n = len(y)
    rows = []
    for t in default_thresholds() if thresholds is None else np.asarray(thresholds, dtype=np.float64):
        answered = int(np.searchsorted(-conf_sorted, -t, side="right"))  # conf ≥ t
        rows.append(
            {
                "threshold": float(t),
                "answered": answered,
                "coverage": answered / n if n else 0.0,
                "accuracy": float(right_cum[answered - 1] / answered) if answered else None,
            }
        )
    return rows


def choose_threshold(curve: list[dict], target_accuracy: float = DEFAULT_TARGET_ACCURACY) -> dict:
    """The lowest threshold whose answered accuracy reaches the target (the most answers that
    keep the promise); if none does, the most accurate one. Returns its curve row plus "met"."""
    usable = [r for r in curve if r["answered"] > 0]
    if not usable:
        raise CalibrationError("No image is answered at any threshold: nothing to choose from.")
    meeting = [r for r in usable if r["accuracy"] >= target_accuracy]
    if meeting:
        best = min(meeting, key=lambda r: r["threshold"])
        return {**best, "met": True, "target_accuracy": target_accuracy}
    best = max(usable, key=lambda r: (r["accuracy"], r["coverage"]))
    return {**best, "met": False, "target_accuracy": target_accuracy}
