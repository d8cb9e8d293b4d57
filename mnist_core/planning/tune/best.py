"""The best trial kept: its TrainConfig (base settings + its values + the epochs cap),
retrained on the study's data and saved as a normal run (meta "study" and "trial"), and that
retraining as the work of a background job."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnist_core.config import TrainConfig, finite_number
from mnist_core.planning.tune import TuneError
from mnist_core.planning.tune.results import best_trial
from mnist_core.planning.tune.study import load_study, study_settings

if TYPE_CHECKING:  # optuna costs ~0.5 s to import; only the functions that use it import it
    import optuna

    from mnist_core.planning.tune.worker import Work
    from mnist_core.training.pipeline import PipelineRecord


def best_config(study: optuna.Study) -> TrainConfig:
    """The TrainConfig of the best complete trial (base settings + its values + the epochs cap)."""
    best = best_trial(study)
    if best is None:
        raise TuneError(f"Study {study.study_name!r} has no complete trial yet.")
    settings = study_settings(study)
    if settings is None:
        raise TuneError(f"Study {study.study_name!r} was not created by this app: it has no base settings.")
    return settings.space.config_for(settings.base_config, dict(best.params))


def train_best(
    study: optuna.Study,
    *,
    stop: threading.Event | None = None,
    home: Path | None = None,
    name: str | None = None,
    data: str | None = None,
) -> Iterator[PipelineRecord]:
    """Retrain the best trial's config on the study's data and save it as a normal run (meta
    "study" and "trial"); yields the pipeline's records, ending with its SavedRecord."""
    from mnist_core.runs.storage import load_run, update_meta
    from mnist_core.training.pipeline import SavedRecord, train_and_save

    config = best_config(study)
    best = best_trial(study)
    settings = study_settings(study)
    label = name or f"{study.study_name} trial {best.number}"
    for record in train_and_save(
        config, data or settings.data, stop=stop, name=label, home=home, report_every=50
    ):
        if isinstance(record, SavedRecord):
            update_meta(
                load_run(record.path),
                study=study.study_name,
                trial=best.number,
                study_value=finite_number(best.value),
                objective=settings.objective,
            )
        yield record


def save_best_work(storage: str | None, name: str, title: str) -> Work:
    """A job's work: study `name`'s best trial retrained and saved (train_best), as job records
    each with "progress" and "text"."""

    def work(stop: threading.Event) -> Iterator[dict[str, Any]]:
        yield {"kind": "save_start", "progress": 0.0, "text": f"{title}: loading the data…"}
        yield from _job_records(train_best(load_study(name, storage), stop=stop), title)

    return work


def _job_records(records: Iterator[PipelineRecord], title: str) -> Iterator[dict[str, Any]]:
    for record in records:
        rec = record.to_dict()
        if rec["kind"] == "batch":
            rec["text"] = f"{title} · epoch {rec['epoch']}/{rec['epochs']}"
        elif rec["kind"] == "epoch":
            rec["progress"] = rec["epoch"] / max(rec["epochs"], 1)
            rec["text"] = (
                f"{title} · epoch {rec['epoch']}/{rec['epochs']} done · val acc {rec['val_acc']:.2%}"
            )
        elif rec["kind"] == "saved":
            rec["progress"], rec["text"] = 1.0, f"saved as run {rec['run_id']}"
        yield {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in rec.items()}
