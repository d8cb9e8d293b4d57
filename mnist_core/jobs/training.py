"""Training as a cluster job: the worker trains and sends back the weights, the app saves.

`TrainingJob` trains one or more configs in a row (the baseline ladder is four), one task
each; every finished task's `Trained` is saved here, in the app's studio home, with who
started it. A run is written only once its task has come back whole, so a worker killed
mid-training leaves nothing half-written in the runs list.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnist_core.config import TrainConfig
from mnist_core.data.sources import Images
from mnist_core.jobs.job import Job
from mnist_core.jobs.remote import relay
from mnist_core.runs.storage import check_home

if TYPE_CHECKING:
    from mnist_core.training.pipeline import SplitReview


def train_records(
    config: TrainConfig,
    data: str,
    extra: Images | None,
    run: int,
    stop: threading.Event,
    review: SplitReview | None = None,
) -> Generator[dict[str, Any], None, Any]:
    """On a worker: the trainer's records as dicts tagged with `run`; returns the `Trained`."""
    from mnist_core.training.pipeline import train_only  # torch-heavy: imported where it runs

    records = train_only(config, data, stop=stop, extra=extra, review=review)
    return (yield from relay(records, lambda record: {**record.to_dict(), "run": run}))


class TrainingJob(Job):
    """Trains configs in a row, saving each as a run; records carry their "run" index."""

    def __init__(
        self,
        configs: list[TrainConfig],
        names: list[str],
        data: str = "auto",
        extra: Images | None = None,
        home: Path | None = None,
        review: SplitReview | None = None,
        *,
        meta: dict[str, Any] | None = None,
        kind: str = "train",
        title: str | None = None,
    ) -> None:
        self.configs, self.names = list(configs), list(names)
        self.meta = dict(meta or {})  # more fields for each saved run's meta.json
        self.data, self.extra, self.home = data, extra, home
        self.review = review  # e.g. reviewed labels (labels.apply.review_split): runs on the worker
        self._current = 0
        self._saved: list[str] = []
        super().__init__(
            None, kind=kind, title=title if title is not None else (self.names[0] if self.names else "")
        )

    def _extra_state(self) -> dict[str, Any]:
        return {"names": list(self.names), "current": self._current, "saved": list(self._saved)}

    def _run(self) -> None:
        from mnist_core.training.pipeline import save_trained

        check_home(self.home)  # before any training: a run must not train only to be unsaveable
        for i, (config, name) in enumerate(zip(self.configs, self.names)):
            if self._stop.is_set():
                break
            with self._lock:
                self._current = i
            trained = self._remote(
                partial(train_records, config, self.data, self.extra, i, review=self.review)
            )
            if trained is None:
                continue  # stopped before anything was learned: nothing worth saving
            who = {"session": self.owner, "started_by": self.nickname} if self.owner else {}
            saved = save_trained(trained, name, self.home, **who, **self.meta)
            self._append({**saved.to_dict(), "run": i})
            with self._lock:
                self._saved.append(saved.run_id)
