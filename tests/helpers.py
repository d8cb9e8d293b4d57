"""Test helpers shared by the unit, app and browser tests (not core API)."""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from mnist_core.config import TrainConfig
from mnist_core.evaluation.evaluate import EvalResult, per_class_metrics
from mnist_core.runs.storage import Run, load_run
from mnist_core.training.pipeline import SavedRecord, train_and_save


def drain(steps: Any) -> tuple[list[Any], Any]:
    """Every item a generator yields, and what it returns."""
    items = []
    while True:
        try:
            items.append(next(steps))
        except StopIteration as done:
            return items, done.value


def train_to_run(config: TrainConfig, data: str = "auto", **kwargs: Any) -> Run | None:
    """Run `train_and_save` to the end and return the saved run (None if nothing was saved)."""
    saved = None
    for record in train_and_save(config, data, **kwargs):
        if isinstance(record, SavedRecord):
            saved = record
    return load_run(saved.path) if saved else None


def result_from(cm: Any, split: str = "val", loss: float = 0.3) -> EvalResult:
    """An EvalResult with a hand-made confusion matrix (rows true, columns predicted)."""
    cm = np.asarray(cm)
    n = int(cm.sum())
    return EvalResult(split, n, loss, float(np.trace(cm) / n), cm.tolist(), per_class_metrics(cm))


def vega_spec(chart: Any) -> dict:
    """The Vega-Lite dict of an Altair chart, checked to be strict JSON (a browser rejects NaN)."""
    d = chart.to_dict()
    json.dumps(d, allow_nan=False)
    return d


def dataset_rows(spec: dict) -> list[dict]:
    """The rows of a single-dataset Vega-Lite spec."""
    return next(iter(spec["datasets"].values()))


def wait_for(predicate: Any, timeout: float = 30.0) -> bool:
    """Poll `predicate` every 50 ms until it holds (True) or `timeout` seconds pass (False)."""
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def diverging_trainer() -> type:
    """A stand-in for `training.train.Trainer` whose every run ends at once as diverged."""
    from mnist_core.training import train

    class Diverging:
        def __init__(self, config: Any, split: Any) -> None:
            self.history, self.end = [], None

        def run(self, stop: Any = None, report_every: int = 10) -> Any:
            self.end = train.EndRecord(
                "diverged", "Training diverged: the loss became nan.", None, None, None, 0.1
            )
            yield self.end

    return Diverging
