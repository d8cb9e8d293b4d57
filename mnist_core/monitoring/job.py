"""The monitor of the collected drawings as a background job's two halves: what the app loads, what a worker computes.

`monitor_input` runs where the studio home is (the app): it opens the run, loads its model,
picks the validation digits of the reference and reads the drawings database, all as plain
data. `monitor_work` runs on a worker with only that: it measures the drawings' traits, draws
the reference on the virtual canvas (most of the time) and compares, yielding progress records
and returning the `MonitorReport`; the app saves it with the run (`jobs.monitor`), so workers
need no shared disk. Stop is honoured between steps, and a stopped work returns nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from mnist_core.monitoring.field import CollectedDrawings, drawings_field, read_drawings
from mnist_core.monitoring.mmd import DEFAULT_PERMUTATIONS
from mnist_core.monitoring.monitor import MonitorReport, monitor, reference_digits, reference_from_digits
from mnist_core.runs.storage import Run

KIND = "monitor"


@dataclass(frozen=True)
class MonitorInput:
    """Everything `monitor_work` needs, loaded in the app; the worker reads no file."""

    run: Run  # for its id only: its folder is not opened on the worker
    model: nn.Module  # on the CPU
    digits: np.ndarray  # (M, 28, 28) uint8 validation digits, drawn on the canvas as the reference
    labels: np.ndarray  # (M,) their labels
    drawings: CollectedDrawings


def monitor_input(run: Run, drawings_path: Path) -> MonitorInput:
    """In the app: the run's model and reference digits, and the drawings at `drawings_path`.

    MonitorError when there are no drawings; DataError when the run's data cannot be rebuilt.
    """
    drawings = read_drawings(Path(drawings_path))  # first: a missing database is the likelier error
    digits, labels = reference_digits(run)
    return MonitorInput(run, run.load_model("cpu"), digits, labels, drawings)


def monitor_work(
    given: MonitorInput,
    window: int | str | None,
    stop: threading.Event,
    permutations: int = DEFAULT_PERMUTATIONS,
) -> Generator[dict[str, Any], None, MonitorReport | None]:
    """On a worker: monitor the drawings against the run; yields `{"kind": "monitor", "run_id",
    "progress", "text"}` records and returns the report (None if stopped)."""
    record = {"kind": KIND, "run_id": given.run.id}
    yield {**record, "progress": 0.02, "text": "measuring the collected drawings…"}
    field_set = drawings_field(given.drawings)
    if stop.is_set():
        return None
    yield {**record, "progress": 0.05, "text": "drawing the validation images on a virtual canvas…"}
    reference = reference_from_digits(given.digits, given.labels)
    if stop.is_set():
        return None
    yield {**record, "progress": 0.7, "text": f"comparing {len(field_set)} drawings with the training data…"}
    report = monitor(
        given.run, field_set, reference=reference, model=given.model, window=window, permutations=permutations
    )
    return None if stop.is_set() else report
