"""One trial of a search: its values sampled, the model trained epoch by epoch (each reported
to the pruner, and yielded as a record), kept alive by a heartbeat while it runs, and the study
told how it ended — also when training raises or the consumer stops listening."""

from __future__ import annotations

import math
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mnist_core.config import finite_number
from mnist_core.planning.tune.results import STATES, best_trial

if TYPE_CHECKING:  # optuna costs ~0.5 s to import; only the functions that use it import it
    import optuna
    from optuna.storages import RDBStorage

    from mnist_core.data.preprocess import DataSplit
    from mnist_core.planning.tune.budget import Budget
    from mnist_core.planning.tune.study import StudySettings


def worker_name() -> str:
    """This process as a worker: host and process id (shown per trial)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Heartbeat:
    """Marks one running trial alive every `interval` s from a thread, as Study.optimize does."""

    def __init__(self, storage: RDBStorage, trial_id: int, interval: int) -> None:
        self._storage, self._trial_id, self._interval = storage, trial_id, interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{trial_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._storage.record_heartbeat(self._trial_id)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._done.wait(self._interval):
            try:
                self._storage.record_heartbeat(self._trial_id)
            except Exception:  # a missed beat is retried; only silence for the grace period counts
                pass


@dataclass
class Outcome:
    """How one trial ended, as told to the study and shown in its record."""

    state: str  # optuna TrialState name
    status: str  # finished / early_stopped / pruned / diverged / stopped
    value: float | None
    epochs: int
    seconds: float
    best_val_acc: float | None


def run_trial(
    study: optuna.Study,
    store: RDBStorage,
    trial: optuna.Trial,
    settings: StudySettings,
    split: DataSplit,
    stop: threading.Event,
    budget: Budget,
    heartbeat: int,
) -> Iterator[dict[str, Any]]:
    """Train one trial, reporting every epoch; tells the study how it ended (even when the
    consumer abandons the generator or training raises) and returns the outcome."""
    import optuna

    told = False
    try:
        trial_id = store.get_trial_id_from_study_id_trial_number(
            store.get_study_id_from_name(study.study_name), trial.number
        )
        with Heartbeat(store, trial_id, heartbeat):
            trial.set_user_attr("worker", worker_name())
            values = settings.space.suggest(trial)
            yield {
                "kind": "trial_start",
                "number": trial.number,
                "params": values,
                "worker": worker_name(),
                "progress": budget.progress(),
                "text": f"trial {trial.number} started: {params_text(values)}",
            }
            outcome = yield from _train_trial(trial, settings, values, split, stop, budget)
            for key, value in (
                ("status", outcome.status),
                ("epochs_run", outcome.epochs),
                ("seconds", round(outcome.seconds, 2)),
                ("best_val_acc", outcome.best_val_acc),
            ):
                trial.set_user_attr(key, value)
            state = getattr(optuna.trial.TrialState, outcome.state)
            study.tell(trial, outcome.value if outcome.state == "COMPLETE" else None, state=state)
            told = True
            return outcome
    finally:
        if not told:  # an exception, or the consumer closed us mid-trial
            try:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            except Exception:
                pass


def _train_trial(
    trial: optuna.Trial,
    settings: StudySettings,
    values: dict[str, Any],
    split: DataSplit,
    stop: threading.Event,
    budget: Budget,
) -> Iterator[dict[str, Any]]:
    from mnist_core.training.train import Trainer

    config = settings.space.config_for(settings.base_config, values)
    metric = settings.objective
    t0 = time.perf_counter()
    trainer = Trainer(config, split)
    accs: list[float] = []
    losses: list[float] = []
    status = None
    records = trainer.run(stop, report_every=1000)
    try:
        for rec in records:
            if rec.kind != "epoch" or rec.partial:
                continue  # a stopped epoch is no measurement of these settings
            value = rec.val_acc if metric == "val_acc" else rec.val_loss
            if not all(math.isfinite(v) for v in (rec.val_acc, rec.val_loss, rec.train_loss)):
                status = "diverged"  # an infinite validation loss is as broken as a NaN one
                break
            trial.report(value, rec.epoch)
            accs.append(rec.val_acc)
            losses.append(rec.val_loss)
            trial.set_user_attr("val_acc", accs)
            trial.set_user_attr("val_loss", losses)
            yield {
                "kind": "epoch",
                "trial": trial.number,
                "epoch": rec.epoch,
                "epochs": config.epochs,
                "value": value,
                "val_acc": rec.val_acc,
                "val_loss": rec.val_loss,
                "train_loss": rec.train_loss,
                "progress": budget.progress(rec.epoch / config.epochs),
                "text": f"  trial {trial.number} epoch {rec.epoch}/{config.epochs}: "
                f"{value_text(metric, value)}",
            }
            if trial.should_prune():
                status = "pruned"
                break
    finally:
        records.close()  # a pruned trial's trainer is dropped mid-run
    seconds = time.perf_counter() - t0
    end = trainer.end
    if status is None:
        status = "stopped" if stop.is_set() else (end.status if end else "stopped")
    best_acc = max(accs) if accs else None
    if status in ("finished", "early_stopped") and end is not None and end.best_val_loss is not None:
        # the kept weights (best validation loss) are what a saved run of this config would hold
        value = end.best_val_acc if metric == "val_acc" else end.best_val_loss
        return Outcome("COMPLETE", status, value, len(accs), seconds, end.best_val_acc)
    if status in ("pruned", "diverged"):  # a bad result: the sampler learns from it
        return Outcome("PRUNED", status, None, len(accs), seconds, best_acc)
    return Outcome("FAIL", status, None, len(accs), seconds, best_acc)


def trial_end_record(
    study: optuna.Study, trial: optuna.Trial, outcome: Outcome, settings: StudySettings, budget: Budget
) -> dict[str, Any]:
    best = best_trial(study)
    state = STATES[outcome.state]
    metric = settings.objective
    result = f": {value_text(metric, outcome.value)}" if outcome.value is not None else ""
    best_text = (
        f"; best so far: trial {best.number}, {value_text(metric, best.value)}" if best is not None else ""
    )
    return {
        "kind": "trial_end",
        "number": trial.number,
        "state": state,
        "status": outcome.status,
        "value": finite_number(outcome.value),
        "epochs": outcome.epochs,
        "seconds": round(outcome.seconds, 2),
        "best_val_acc": finite_number(outcome.best_val_acc),
        "params": dict(trial.params),
        "best_value": finite_number(best.value) if best else None,
        "best_number": best.number if best else None,
        "progress": budget.progress(),
        "text": f"trial {trial.number} {outcome.status} after {outcome.epochs} epochs in "
        f"{outcome.seconds:.1f} s{result}{best_text}",
    }


def value_text(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"val acc {value:.2%}" if metric == "val_acc" else f"val loss {value:.4f}"


def params_text(params: dict[str, Any] | None) -> str:
    return ", ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in (params or {}).items()
    )
