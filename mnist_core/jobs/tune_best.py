"""The Tune page's "keep the best trial" as a cluster job: a worker retrains the best trial's
config, the app saves the run with its study and trial (workers need no shared disk).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mnist_core.jobs.training import TrainingJob
from mnist_core.planning.tune.best import best_job_record, best_run_plan


class BestTrialJob(TrainingJob):
    """Retrain and save study `name`'s best trial; records carry "progress" and "text"."""

    def __init__(self, storage: str | None, name: str, title: str, home: Path | None = None) -> None:
        from mnist_core.planning.tune.study import load_study

        config, label, data, meta = best_run_plan(load_study(name, storage))  # TuneError now
        super().__init__([config], [label], data, None, home, meta=meta, kind="tune_best", title=title)

    def _append(self, record: dict[str, Any]) -> None:
        super()._append(best_job_record(record, self.title))
