"""The search loop of one worker: trials of a study (created or joined) run one after another
until its budget (trials, seconds) is spent or it is stopped, with TPE sampling and a pruner;
and that loop as the work of a background job."""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from mnist_core.config import TrainConfig
from mnist_core.planning.tune import TuneError
from mnist_core.planning.tune.budget import Budget
from mnist_core.planning.tune.results import STATES, study_summary
from mnist_core.planning.tune.space import SearchSpace
from mnist_core.planning.tune.storage import HEARTBEAT_S, open_storage
from mnist_core.planning.tune.study import StudySettings, delete_study, open_study
from mnist_core.planning.tune.trial import params_text, run_trial, trial_end_record, value_text

if TYPE_CHECKING:  # optuna costs ~0.5 s to import; only the functions that use it import it
    import optuna

    from mnist_core.data.preprocess import DataSplit

# What a job runs (mnist_core.jobs, a layer above this one): a stop flag in, records out.
Work = Callable[[threading.Event], Iterator[dict[str, Any]]]

PRUNERS = ("median", "halving", "none")


def make_pruner(kind: str, epochs: int) -> optuna.pruners.BasePruner:
    """Median pruning after a few complete trials and a warm-up quarter of the epochs (early
    one-cycle epochs say little), successive halving, or none."""
    import optuna

    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=max(1, epochs // 4))
    if kind == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, epochs // 8), reduction_factor=3)
    if kind == "none":
        return optuna.pruners.NopPruner()
    raise TuneError(f"Unknown pruner {kind!r}: one of {', '.join(PRUNERS)}.")


def make_sampler(seed: int | None = None) -> optuna.samplers.BaseSampler:
    """TPE after 5 random trials; constant liar keeps parallel workers from sampling alike."""
    import optuna

    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=5, constant_liar=True)


def run_search(
    study_name: str,
    storage_url: str | None = None,
    base_config: TrainConfig | None = None,
    space: SearchSpace | None = None,
    n_trials: int | None = None,
    timeout: float | None = None,
    data: str | DataSplit | None = None,
    objective: str | None = None,
    stop: threading.Event | None = None,
    *,
    pruner: str | optuna.pruners.BasePruner = "median",
    seed: int | None = None,
    heartbeat: int = HEARTBEAT_S,
    enqueue_base: bool = True,
) -> Iterator[dict[str, Any]]:
    """Run trials of a study (creating or joining it) until `n_trials` trials have run here,
    `timeout` seconds have passed (no new trial starts after it), or `stop` is set (the running
    trial stops within a batch and is marked failed).

    Yields plain dicts, each with "kind", "progress" (0..1 of this call's budget) and "text":
      {"kind": "note", text}                       (once, when joining with other data)
      {"kind": "trial_start", number, params, worker}
      {"kind": "epoch", trial, epoch, epochs, value, val_acc, val_loss, train_loss}
      {"kind": "trial_end", number, state (complete/pruned/failed), status, value, epochs,
       seconds, best_val_acc, params, best_value, best_number}
      {"kind": "search_end", study, objective, best_value, best_params, best_number,
       n_complete, n_pruned, n_failed (the whole study, every worker), this_worker {...}, stopped}
    None for base_config/space/objective/data: the study's stored settings (or defaults).
    """
    from mnist_core.data.preprocess import DataSplit, make_split
    from mnist_core.training.train import resolve_device

    if n_trials is None and timeout is None:
        raise TuneError("Give a budget: a number of trials, a time limit, or both.")
    if n_trials is not None and n_trials < 1:
        raise TuneError(f"The number of trials must be at least 1, got {n_trials}.")
    if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
        raise TuneError(f"The time limit must be a finite number of seconds above 0, got {timeout}.")
    stop = stop or threading.Event()
    split = data if isinstance(data, DataSplit) else None
    spec = split.source.key if split is not None else data
    chosen_pruner = None if isinstance(pruner, str) else pruner
    if isinstance(pruner, str) and pruner not in PRUNERS:
        raise TuneError(f"Unknown pruner {pruner!r}: one of {', '.join(PRUNERS)}.")
    study, settings, notes, created = open_study(
        study_name,
        storage_url,
        space=space,
        base_config=base_config,
        objective=objective,
        data=spec,
        heartbeat=heartbeat,
        sampler=make_sampler(seed),
        pruner=chosen_pruner,
        enqueue_base=enqueue_base,
    )
    if chosen_pruner is None:
        study.pruner = make_pruner(pruner, settings.space.epochs)
    try:
        resolve_device(settings.base_config.device)  # a missing GPU fails now, not in every trial
        split = split or make_split(settings.data if spec is None else spec, settings.base_config)
    except Exception:
        if created:  # leave no empty study behind that holds settings which cannot run
            delete_study(study_name, storage_url)
        raise
    budget = Budget(n_trials, timeout)
    for note in notes:
        yield {"kind": "note", "text": note, "progress": 0.0}
    store = open_storage(storage_url, heartbeat)
    mine = {"complete": 0, "pruned": 0, "failed": 0}
    while not stop.is_set() and not budget.exhausted():
        trial = _next_trial(study)
        outcome = yield from run_trial(study, store, trial, settings, split, stop, budget, heartbeat)
        budget.done += 1
        mine[STATES[outcome.state]] += 1
        yield trial_end_record(study, trial, outcome, settings, budget)
    yield _search_end(study, settings, mine, stop.is_set())


def _next_trial(study: optuna.Study) -> optuna.Trial:
    """Fail the trials of dead workers (running, heartbeat stale), then start a trial."""
    import optuna

    with warnings.catch_warnings():
        # Optuna calls heartbeats experimental and "supposed to be used with Study.optimize":
        # this loop is ask/tell so that it can yield records, and beats itself (Heartbeat).
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        optuna.storages.fail_stale_trials(study)
        return study.ask()


def _search_end(
    study: optuna.Study, settings: StudySettings, mine: dict[str, int], stopped: bool
) -> dict[str, Any]:
    summary = study_summary(study)
    best = summary["best_value"]
    text = ("search stopped" if stopped else "search finished") + (
        f": best trial {summary['best_trial']}, {value_text(settings.objective, best)} "
        f"({params_text(summary['best_params'])})"
        if best is not None
        else ": no complete trial yet"
    )
    text += (
        f"; study {study.study_name!r}: {summary['n_complete']} complete, "
        f"{summary['n_pruned']} pruned, {summary['n_failed']} failed"
    )
    return {
        "kind": "search_end",
        "study": study.study_name,
        "objective": settings.objective,
        "best_value": best,
        "best_params": summary["best_params"],
        "best_number": summary["best_trial"],
        "n_complete": summary["n_complete"],
        "n_pruned": summary["n_pruned"],
        "n_failed": summary["n_failed"],
        "this_worker": dict(mine),
        "stopped": stopped,
        "progress": 1.0,
        "text": text,
    }


def search_work(storage: str, name: str, pruner: str, **kwargs: Any) -> Work:
    """A search job's work: one record naming the study and storage, then run_search's
    (kwargs: run_search's)."""

    def work(stop: threading.Event) -> Iterator[dict[str, Any]]:
        yield {
            "kind": "search_start",
            "study": name,
            "storage": storage,
            "progress": 0.0,
            "text": f"opening study “{name}” and loading the data…",
        }
        yield from run_search(name, storage, stop=stop, pruner=pruner, **kwargs)

    return work
