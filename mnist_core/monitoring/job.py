"""The monitor of the collected drawings as a background job: progress records, Stop, the result saved.

`monitor_work` is module level and takes plain arguments (paths, the window), so a job runner can
pickle it (`functools.partial(monitor_work, run_path, drawings_path, window)` is the job's work).
Drawing the reference on the virtual canvas is most of the time; Stop is honoured between steps,
and a stopped job saves nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mnist_core.monitoring.field import load_drawings
from mnist_core.monitoring.mmd import DEFAULT_PERMUTATIONS
from mnist_core.monitoring.monitor import monitor, reference_set
from mnist_core.monitoring.saved import save_result
from mnist_core.runs.storage import load_run

KIND = "monitor"


def monitor_work(
    run_path: str,
    drawings_path: str,
    window: int | str | None,
    stop: threading.Event,
    permutations: int = DEFAULT_PERMUTATIONS,
) -> Iterator[dict[str, Any]]:
    """Monitor the drawings at `drawings_path` against the run at `run_path` and save the result
    with the run; yields `{"kind": "monitor", "progress", "text"}` records, the last with "done"."""
    run = load_run(run_path)
    record = {"kind": KIND, "run_id": run.id}
    yield {**record, "progress": 0.0, "text": "reading the collected drawings…"}
    field_set = load_drawings(Path(drawings_path))
    if stop.is_set():
        return
    yield {**record, "progress": 0.05, "text": "drawing the validation images on a virtual canvas…"}
    reference = reference_set(run)
    if stop.is_set():
        return
    yield {**record, "progress": 0.7, "text": f"comparing {len(field_set)} drawings with the training data…"}
    report = monitor(run, field_set, reference=reference, window=window, permutations=permutations)
    if stop.is_set():
        return
    save_result(run, report, window)
    yield {**record, "progress": 1.0, "text": "saved", "done": True, "drift": report.drift}
