"""The field monitor as a cluster job: the app reads the run and the drawings, a worker compares,
the app saves the result with the run (monitor.json) in its own studio home.

The worker gets the model, the reference digits and the drawings' rows as data
(`monitoring.job.monitor_input`), so it needs neither the run folder nor the drawings database:
no shared disk. Its records are those the Deploy page draws: {"kind": "monitor", "run_id",
"progress", "text"}, the last with "done" and "drift" once the result is saved. A stopped check
saves nothing.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from mnist_core.jobs.job import Job
from mnist_core.monitoring.job import KIND, monitor_input, monitor_work
from mnist_core.monitoring.mmd import DEFAULT_PERMUTATIONS
from mnist_core.monitoring.saved import save_result
from mnist_core.runs.storage import load_run


class MonitorJob(Job):
    """Compare the drawings at `drawings_path` with the run at `run_path`, cut over time by
    `window`, and keep the result with the run."""

    def __init__(
        self,
        run_path: str | Path,
        drawings_path: str | Path,
        window: int | str | None,
        *,
        permutations: int = DEFAULT_PERMUTATIONS,
        title: str = "",
    ) -> None:
        self.run_path, self.drawings_path = str(run_path), Path(drawings_path)
        self.window, self.permutations = window, permutations
        super().__init__(None, kind=KIND, title=title)

    def _run(self) -> None:
        run = load_run(self.run_path)
        record = {"kind": KIND, "run_id": run.id}
        self._append({**record, "progress": 0.0, "text": "reading the collected drawings…"})
        # a local: a finished job stays listed in the queue and must not keep the model and drawings
        given = monitor_input(run, self.drawings_path)
        report = self._remote(partial(monitor_work, given, self.window, permutations=self.permutations))
        if report is None or self._stop.is_set():
            return  # stopped: nothing saved
        save_result(run, report, self.window)
        self._append({**record, "progress": 1.0, "text": "saved", "done": True, "drift": report.drift})
