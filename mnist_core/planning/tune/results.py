"""What a study found, as plain data: its summary (trials by state, the best so far), the
trials table (parameters, scores per epoch, worker), parameter importances, the studies of a
storage, and the view of one study the Tune page draws."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from mnist_core.config import finite_number
from mnist_core.planning.tune.params import PARAM_SPECS
from mnist_core.planning.tune.storage import open_storage, storage_exists
from mnist_core.planning.tune.study import load_study, study_settings

if TYPE_CHECKING:  # optuna costs ~0.5 s to import; only the functions that use it import it
    import optuna

MIN_TRIALS_FOR_IMPORTANCE = 10
STATES = {
    "COMPLETE": "complete",
    "PRUNED": "pruned",
    "FAIL": "failed",
    "RUNNING": "running",
    "WAITING": "waiting",
}


def list_studies(storage: str | None = None) -> list[dict[str, Any]]:
    """One summary per study in the storage (newest first); none, and nothing created, when
    the storage is a SQLite file that does not exist yet."""
    import optuna

    if not storage_exists(storage):
        return []
    store = open_storage(storage)
    studies = [optuna.load_study(study_name=s.study_name, storage=store) for s in store.get_all_studies()]
    rows = [study_summary(s) for s in studies]
    return sorted(rows, key=lambda r: r["started"] or "", reverse=True)


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The best complete trial, or None before the first one completes."""
    try:
        return study.best_trial
    except ValueError:  # no complete trial yet
        return None


def study_summary(study: optuna.Study) -> dict[str, Any]:
    """Name, objective, model, trial counts by state, best value/params/trial, dates."""
    trials = study.get_trials(deepcopy=False)
    counts = {state: 0 for state in STATES.values()}
    for t in trials:
        counts[STATES[t.state.name]] += 1
    best = best_trial(study)
    settings = study_settings(study)
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    return {
        "name": study.study_name,
        "objective": settings.objective if settings else None,
        "direction": study.direction.name.lower(),
        "model": settings.space.model if settings else None,
        "space": settings.space.describe() if settings else None,
        "data": settings.data if settings else None,
        "n_trials": len(trials),
        "n_complete": counts["complete"],
        "n_pruned": counts["pruned"],
        "n_failed": counts["failed"],
        "n_running": counts["running"],
        "best_value": finite_number(best.value) if best else None,
        "best_params": dict(best.params) if best else None,
        "best_trial": best.number if best else None,
        "started": min(starts).isoformat(timespec="seconds") if starts else None,
        "last": max(ends).isoformat(timespec="seconds") if ends else None,
    }


def trials_table(study: optuna.Study) -> list[dict[str, Any]]:
    """One row per trial: state, parameters, value, best validation accuracy, epochs run, duration
    (so far, for a running trial), the objective after every epoch, and which worker ran it."""
    best = best_trial(study)
    now = time.time()
    rows = []
    for t in study.get_trials(deepcopy=False):
        attrs = t.user_attrs
        accs = [a for a in attrs.get("val_acc", []) if finite_number(a) is not None]
        start, end = t.datetime_start, t.datetime_complete
        seconds = (
            (end - start).total_seconds() if start and end else (now - start.timestamp() if start else None)
        )
        curve = [
            {"epoch": int(step), "value": finite_number(v)}
            for step, v in sorted(t.intermediate_values.items())
        ]
        rows.append(
            {
                "number": t.number,
                "state": STATES[t.state.name],
                "status": attrs.get("status", STATES[t.state.name]),
                "value": finite_number(t.value),
                "params": dict(t.params),
                "best_val_acc": finite_number(attrs.get("best_val_acc"))
                if "best_val_acc" in attrs
                else (max(accs) if accs else None),
                "epochs": attrs.get("epochs_run", len(curve)),
                "seconds": round(seconds, 2) if seconds is not None else None,
                "curve": curve,
                "worker": attrs.get("worker"),
                "enqueued": attrs.get("enqueued"),
                "started": start.isoformat(timespec="seconds") if start else None,
                "is_best": best is not None and t.number == best.number,
            }
        )
    return rows


def importances(study: optuna.Study) -> dict[str, float] | None:
    """Share of the objective's variation due to each parameter (optuna.importance), once
    MIN_TRIALS_FOR_IMPORTANCE trials are complete; None before that or when it is undefined."""
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < MIN_TRIALS_FOR_IMPORTANCE:
        return None
    try:
        result = optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError, ZeroDivisionError):  # e.g. every trial had the same values
        return None
    clean = {k: finite_number(v) for k, v in result.items()}
    return {k: v for k, v in clean.items() if v is not None} or None


def study_view(name: str, storage: str | None) -> dict[str, Any]:
    """A study as plain data: summary, trials table rows, objective, searched parameters, and
    a line saying what it searches."""
    study = load_study(name, storage)
    settings = study_settings(study)
    rows = trials_table(study)
    summary = study_summary(study)
    if settings is not None:
        objective, params = settings.objective, [p.name for p in settings.space.enabled]
        about = (
            f"{settings.space.describe()} · base settings: {settings.base_config.summary()}"
            f" · data: {settings.data}"
        )
    else:  # made outside this app: its direction decides, its trials name the parameters
        objective = "val_acc" if summary["direction"] == "maximize" else "val_loss"
        params = sorted({k for r in rows for k in r["params"] if k in PARAM_SPECS})
        about = "made outside this app"
    return {"summary": summary, "rows": rows, "objective": objective, "params": params, "about": about}
