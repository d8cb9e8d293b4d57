"""A robustness sweep as a cluster job: the app loads the run, a worker measures, the app saves.

The app rebuilds the run's validation set and loads its model (`sweep_input`), sends them with
the task, and keeps the finished sweep with the run (robustness.json) in its own studio home:
the worker sees neither the run folder nor the data, so it needs no shared disk. Its records
are those the Evaluate page draws: {"kind": "robustness", "run_id", "progress", "text"}, the
last with "done" once the sweep is saved. A stopped sweep saves nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from mnist_core.evaluation import robustness as rob
from mnist_core.jobs.job import Job
from mnist_core.runs.storage import load_run

KIND = "robustness"


def sweep_work(
    given: rob.SweepInput, perturbations: Sequence[str] | None, stop: threading.Event
) -> Generator[dict[str, Any], None, rob.Sweep | None]:
    """On a worker: a record after each curve; returns the finished sweep (None if stopped:
    Stop is honoured before the next strength is measured)."""
    record = {"kind": KIND, "run_id": given.run_id}
    for step in rob.sweep_input_records(given, perturbations, stop=stop):
        if step.sweep is not None:
            return step.sweep
        text = f"{rob.PERTURBATIONS[step.name].label} measured ({step.done} of {step.total})"
        yield {**record, "progress": step.done / step.total, "text": text}
    return None


class RobustnessJob(Job):
    """Sweep the run at `run_path` on its first `n` validation images (`perturbations`: all when
    None) and save the sweep with the run."""

    def __init__(
        self,
        run_path: str | Path,
        n: int = rob.DEFAULT_N,
        perturbations: Sequence[str] | None = None,
        *,
        title: str = "",
    ) -> None:
        self.run_path, self.n = str(run_path), n
        self.perturbations = tuple(perturbations) if perturbations else None
        super().__init__(None, kind=KIND, title=title)

    def _run(self) -> None:
        run = load_run(self.run_path)
        record = {"kind": KIND, "run_id": run.id}
        self._append({**record, "progress": 0.0, "text": "rebuilding the validation set…"})
        # a local: a finished job stays listed in the queue and must not keep the model and images
        given = rob.sweep_input(run, self.n)
        result = self._remote(partial(sweep_work, given, self.perturbations))
        if result is None or self._stop.is_set():
            return  # stopped: a partial sweep is not kept
        rob.save_sweep(run, result)
        self._append({**record, "progress": 1.0, "text": "saved", "done": True})
