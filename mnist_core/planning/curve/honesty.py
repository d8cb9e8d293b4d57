"""The honesty check: does a curve fitted on the smaller sizes predict the largest one it never saw?

It fits the smaller sizes only and compares its prediction at the largest measured size with
the measurement, so a reader can judge how far to trust an extrapolation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mnist_core.planning.curve.errors import CurveError
from mnist_core.planning.curve.fit import MIN_SIZES, RESAMPLES, fit_points, pct


def mean_errors(points: Sequence[dict[str, Any]]) -> dict[int, float]:
    """Mean validation error per size (over its seeds), sorted by size."""
    by_size: dict[int, list[float]] = {}
    for p in points:
        by_size.setdefault(int(p["size"]), []).append(float(p["val_error"]))
    return {s: float(np.mean(v)) for s, v in sorted(by_size.items())}


def honesty_check(
    points: Sequence[dict[str, Any]], max_fit_size: int | None = None, resamples: int = RESAMPLES
) -> dict[str, Any]:
    """Fit the sizes ≤ `max_fit_size` only and predict the largest measured size.

    Default `max_fit_size`: the largest size up to a third of the largest one (with at least
    three sizes to fit), else every size but the largest. Returns predicted vs measured error,
    the prediction's range, and a sentence.
    """
    means = mean_errors(points)
    sizes = list(means)
    if len(sizes) < MIN_SIZES + 1:
        raise CurveError(
            f"The honesty check needs at least {MIN_SIZES + 1} sizes: {MIN_SIZES} to fit "
            "and a larger one to predict."
        )
    top = sizes[-1]
    if max_fit_size is None:
        small = [s for s in sizes if 3 * s <= top]
        max_fit_size = small[-1] if len(small) >= MIN_SIZES else sizes[-2]
    fit_sizes = [s for s in sizes if s <= max_fit_size]
    if len(fit_sizes) < MIN_SIZES:
        raise CurveError(
            f"Only {len(fit_sizes)} sizes are ≤ {max_fit_size:,}: the honesty check needs {MIN_SIZES} to fit."
        )
    if max_fit_size >= top:
        raise CurveError(f"max_fit_size {max_fit_size:,} leaves no larger measured size to predict.")
    fit = fit_points([p for p in points if p["size"] <= max_fit_size], resamples=resamples)
    predicted, measured = fit.predict(top), means[top]
    lo, hi = fit.band([top])
    text = (
        f"The curve fitted on ≤ {max_fit_size:,} images predicted {pct(predicted, 1)} error at "
        f"{top:,}; measured {pct(measured, 1)}."
    )
    return {
        "max_fit_size": int(max_fit_size),
        "fit_sizes": fit_sizes,
        "at_size": int(top),
        "predicted_error": float(predicted),
        "predicted_range": [float(lo[0]), float(hi[0])],
        "measured_error": measured,
        "within_range": bool(lo[0] <= measured <= hi[0]),
        "fit": {"a": fit.a, "b": fit.b, "c": fit.c},
        "text": text,
    }
