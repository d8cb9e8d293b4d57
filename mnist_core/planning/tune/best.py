"""The best trial kept: its TrainConfig (base settings + its values + the epochs cap),
retrained on the study's data and saved as a normal run (meta "study" and "trial"); the
records of that retraining as a background job draws them (jobs.tune_best runs it)."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnist_core.config import TrainConfig, finite_number
from mnist_core.planning.tune import TuneError
from mnist_core.planning.tune.results import best_trial
from mnist_core.planning.tune.study import study_settings

if TYPE_CHECKING:  # optuna costs ~0.5 s to import; only the functions that use it import it
    import optuna

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


def best_run_plan(
    study: optuna.Study, name: str | None = None, data: str | None = None
) -> tuple[TrainConfig, str, str, dict[str, Any]]:
    """What retraining the best trial needs: its config, the run's name, the data, and the
    meta.json fields that tie the run to its study and trial."""
    config = best_config(study)
    best = best_trial(study)
    settings = study_settings(study)
    meta = {
        "study": study.study_name,
        "trial": best.number,
        "study_value": finite_number(best.value),
        "objective": settings.objective,
    }
    return config, name or f"{study.study_name} trial {best.number}", data or settings.data, meta


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

    config, label, data, meta = best_run_plan(study, name, data)
    for record in train_and_save(config, data, stop=stop, name=label, home=home, report_every=50):
        if isinstance(record, SavedRecord):
            update_meta(load_run(record.path), **meta)
        yield record


def best_job_record(record: dict[str, Any], title: str) -> dict[str, Any]:
    """A retraining record as the Tune page draws it: with "progress" and "text" (a job's
    records, jobs.tune_best), non-finite numbers as None."""
    rec = dict(record)
    if rec["kind"] == "batch":
        rec["text"] = f"{title} · epoch {rec['epoch']}/{rec['epochs']}"
    elif rec["kind"] == "epoch":
        rec["progress"] = rec["epoch"] / max(rec["epochs"], 1)
        rec["text"] = f"{title} · epoch {rec['epoch']}/{rec['epochs']} done · val acc {rec['val_acc']:.2%}"
    elif rec["kind"] == "saved":
        rec["progress"], rec["text"] = 1.0, f"saved as run {rec['run_id']}"
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in rec.items()}
