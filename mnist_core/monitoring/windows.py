"""The field over time: consecutive windows of drawings, each with its accuracy, confidence and drift test.

Windows follow the field's order (oldest first). `--window N` cuts it into runs of N images; a last
run shorter than N/2 joins the one before it, so no window is too small to test (250 images with
N = 100 give 100, 100, 50; 230 give 100, 130). `--window day` groups drawings by their UTC date.
Each window is tested against the whole reference; with W windows a window raises the alarm when
its p-value is below α / W (Bonferroni), so that a field without drift raises no alarm in any window
with probability at least 1 - α, however many windows there are. A permutation p-value cannot fall
below 1 / (permutations + 1), so each window gets at least 2·W/α permutations (2,000 for 50
windows at α = 0.05), and more than `MAX_WINDOWS` windows are refused: choose longer ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from mnist_core.monitoring.errors import MonitorError
from mnist_core.monitoring.mmd import mmd_test

BY_DAY = "day"
DEFAULT_WINDOW = 100
MAX_WINDOWS = 100


@dataclass(frozen=True)
class Window:
    """Field rows start..stop-1 and a label for them (a date, or "1-100")."""

    start: int
    stop: int
    label: str


def parse_window(text: str | int) -> int | str:
    """`day` or a whole number of images ≥ 2; MonitorError otherwise."""
    if text == BY_DAY:
        return BY_DAY
    try:
        size = int(text)
    except (TypeError, ValueError):
        raise MonitorError(f"The window must be a number of drawings or 'day', not {text!r}.") from None
    if size < 2:
        raise MonitorError(f"A window needs at least 2 drawings to be tested, not {size}.")
    return size


def split_windows(n: int, window: int | str, dates: list[str] | None = None) -> list[Window]:
    """Cut n rows (oldest first) into windows of `window` rows, or by day when `window` is "day"."""
    if window == BY_DAY:
        if dates is None:
            raise MonitorError(
                "Images in a folder have no dates: use --window N (a number of images) instead."
            )
        return _by_day(dates)
    size = int(window)
    if n > MAX_WINDOWS * size:
        raise MonitorError(
            f"{n} images in windows of {size} make more than {MAX_WINDOWS} windows: choose a larger window."
        )
    bounds = list(range(0, n, size)) + [n]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < size / 2:
        del bounds[-2]  # a short tail joins the window before it
    return [Window(a, b, f"{a + 1}-{b}") for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _by_day(dates: list[str]) -> list[Window]:
    windows: list[Window] = []
    start = 0
    for i in range(1, len(dates) + 1):
        if i == len(dates) or dates[i][:10] != dates[start][:10]:
            windows.append(Window(start, i, dates[start][:10]))
            start = i
    if len(windows) > MAX_WINDOWS:
        raise MonitorError(
            f"The drawings span {len(windows)} days, more than {MAX_WINDOWS} windows: "
            "use --window N (a number of drawings) instead."
        )
    return windows


@dataclass(frozen=True)
class WindowResult:
    """One window's figures; accuracy counts only labelled images and is None without any."""

    label: str
    start: int
    stop: int
    n: int
    labelled: int
    accuracy: float | None
    mean_confidence: float
    p_value: float | None  # None when the window holds a single image (nothing to test)
    alarm: bool

    def to_json(self) -> dict:
        return asdict(self)


def window_results(
    windows: list[Window],
    feats: np.ndarray,
    reference_feats: np.ndarray,
    probs: np.ndarray,
    labels: np.ndarray,
    *,
    alpha: float,
    permutations: int,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[WindowResult]:
    """Accuracy, mean confidence, drift p-value and alarm for each window of the field."""
    level = alpha / max(len(windows), 1)
    permutations = max(permutations, math.ceil(2 / level))  # so that p < level can happen at all
    results = []
    for i, w in enumerate(windows):
        rows = slice(w.start, w.stop)
        known = labels[rows] >= 0
        right = probs[rows].argmax(1)[known] == labels[rows][known]
        p = None
        if w.stop - w.start >= 2:
            p = mmd_test(feats[rows], reference_feats, permutations=permutations, seed=seed + i).p_value
        results.append(
            WindowResult(
                w.label,
                w.start,
                w.stop,
                w.stop - w.start,
                int(known.sum()),
                float(right.mean()) if right.size else None,
                float(probs[rows].max(1).mean()),
                p,
                p is not None and p < level,
            )
        )
        if progress:
            progress(f"window {w.label}: p = {p if p is None else f'{p:.3g}'}")
    return results
