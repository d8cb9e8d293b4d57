"""The views of the Tune page (hyperparameter search with Optuna), and the way to Train.

- the search-space widgets: `param_row(model, param)` (a checkbox and a range slider or choices
  per parameter, prefilled from `tune.default_space`, kept per family), `limits_row(model)`
  (epochs cap, budget, images, pruner), `space_from_state(model)` (the SearchSpace they
  describe; TuneError when it is not one).
- the storage: `storage_picker(key)` (which storage, and why), `studies(url)` (listed, newest
  first), `study_state(url, name, version)` / `read_study(...)` — a study's summary and
  `tune.trials_table` rows read from the storage (so other workers' trials show too), cached
  per `version()`.
- job work: `search_work(...)` (run_search's records after one naming the study and storage)
  and `save_work(...)` (the best trial retrained and saved as a run, `tune.train_best`).
- drawing: `show_search(snapshot, live)`, `show_save(snapshot, live)`, `show_study(url, name,
  state)` (metrics, trials table, charts; importances and slices once enough trials are
  complete) and `follow_study(...)`, which re-reads it while some worker runs a trial.
- `apply_best(study, split)`: the Train page's controls (session keys "train.<field>") set to
  the best trial's config, snapped onto their widgets.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

import ui
from mnist_core.charts import tune as tune_charts
from mnist_core.config import MODEL_LABELS, TrainConfig, field_info, nearest_option
from mnist_core.jobs.job import JobSnapshot, JobState, Work
from mnist_core.planning import tune
from mnist_core.planning.tune import PARAM_SPECS, Param, SearchSpace, TuneError, default_space
from ui.job_status import show_failed_or_running

K = "tune."
TRIALS, MINUTES, MAX_TRAIN, PRUNER = K + "trials", K + "minutes", K + "max_train", K + "pruner"
REFRESH_S = 2.0  # how often a live view re-reads the storage for other workers' trials
TRAIN_KEY = "train."
# The Train page's controls: every TrainConfig field but the split (Preprocess) and the run-time ones.
TRAIN_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(TrainConfig)
    if f.name not in ("val_fraction", "split_seed", "mixed_precision", "device")
)
LABELS = {
    "lr": "Learning rate",
    "dropout": "Dropout",
    "weight_decay": "Weight decay",
    "cnn_channels": "Channels (first block)",
    "mlp_width": "Units per layer",
    "batch_size": "Batch size",
    "augment": "Augmentation",
}
PRUNER_LABELS = {
    "median": "median (stop trials below the median)",
    "halving": "successive halving",
    "none": "none (every trial runs to the end)",
}
STATE_LABELS = {
    "complete": "✅ complete",
    "pruned": "✂️ pruned",
    "running": "⏳ running",
    "failed": "❌ failed",
    "waiting": "… waiting",
}
ss = st.session_state


# ---------------------------------------------------------------- the search-space widgets


def key_of(model: str, name: str, part: str = "range") -> str:
    """Session key of a search widget. Per family: each keeps its own space for the session,
    and nothing needs resetting when the family changes (a select_slider's range cannot be
    set from code without fighting its `value`)."""
    return f"{K}{model}.{name}.{part}"


def epochs_key(model: str) -> str:
    return f"{K}{model}.epochs"


def value_grid(name: str) -> list[float | int]:
    """The stops of a log-uniform parameter's range slider: 1-2-5 steps (int grids for widths)
    inside the parameter's slider range, plus every family's default ends."""
    spec = PARAM_SPECS[name]
    lo, hi = spec.slider
    if spec.kind == "int":
        values = {v for v in field_info(name)["grid"] if lo <= v <= hi}
    else:
        values = {float(f"{m}e{e}") for e in range(-9, 2) for m in (1, 2, 5)}
        values = {v for v in values if lo <= v <= hi}
    for family in tune.TUNABLE_FAMILIES:
        values |= {end for p in default_space(family).params if p.name == name for end in (p.low, p.high)}
    return sorted(values)


def param_row(model: str, p: Param) -> None:
    """A checkbox (search it or keep the base value) and the range or choices to search."""
    spec, label, key = p.spec, LABELS[p.name], key_of(model, p.name)
    on = st.checkbox(
        f"Search {label.lower()}", **ui.persistent(key_of(model, p.name, "on"), p.enabled), help=spec.help
    )
    if p.name == "augment":
        st.caption(
            "Each trial trains with augmentation on or off."
            if on
            else "Off: every trial keeps the base settings' augmentation."
        )
    elif spec.kind == "choice":
        st.multiselect(
            f"{label}s to try", list(spec.options), **ui.persistent(key, list(p.choices)), disabled=not on
        )
    elif spec.log:
        # a select_slider is a range only when `value` is one (st.slider also reads session state)
        st.select_slider(
            f"{label} (log-uniform)",
            value_grid(p.name),
            format_func=lambda v: f"{v:g}",
            value=_pair(ss[key]) if key in ss else (p.low, p.high),
            key=key,
            persist_state="session",
            disabled=not on,
        )
    else:
        lo, hi = spec.slider
        st.slider(
            f"{label} (uniform)",
            float(lo),
            float(hi),
            step=0.05,
            **ui.persistent(key, (p.low, p.high)),
            disabled=not on,
        )


def limits_row(model: str) -> None:
    """Epochs cap, budget (trials and/or minutes), training images per trial, pruner."""
    e, t, m, n, p = st.columns(5)
    e.select_slider(
        "Epochs per trial at most",
        field_info("epochs")["grid"],
        help=tune.EPOCHS_HELP,
        **ui.persistent(epochs_key(model), nearest_option("epochs", default_space(model).epochs)),
    )
    t.number_input("Trials (0 = no limit)", 0, 10_000, step=1, **ui.persistent(TRIALS, 20))
    m.number_input(
        "Minutes (0 = no limit)",
        0.0,
        10_000.0,
        step=1.0,
        **ui.persistent(MINUTES, 0.0),
        help="No new trial starts after this long; the running one finishes.",
    )
    n.number_input(
        "Training images per trial (0 = all)",
        0,
        10_000_000,
        step=500,
        **ui.persistent(MAX_TRAIN, 0),
        help="Search on a subset for speed; validation always uses the whole validation set.",
    )
    p.selectbox(
        "Pruner",
        tune.PRUNERS,
        format_func=PRUNER_LABELS.get,
        **ui.persistent(PRUNER, "median"),
        help="Stops hopeless trials early, from their validation score after each epoch.",
    )


def _pair(value: Any) -> tuple[Any, Any]:
    """A range widget's value as (low, high); one value (a collapsed range) as (v, v)."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return value[0], value[1]
    return value, value


def space_from_state(model: str) -> SearchSpace:
    """The search space the widgets describe (raises TuneError naming what is wrong)."""
    params, space = [], default_space(model)
    for p in space.params:
        on = bool(ss.get(key_of(model, p.name, "on"), p.enabled))
        value = ss.get(key_of(model, p.name))
        if p.spec.kind == "choice":
            choices = p.choices if p.name == "augment" or value is None else tuple(value)
            params.append(Param(p.name, on, choices=tuple(sorted(choices))))
        else:
            low, high = _pair(value) if value is not None else (p.low, p.high)
            params.append(Param(p.name, on, low, high))
    return SearchSpace(model, tuple(params), int(ss.get(epochs_key(model), space.epochs)))


# ---------------------------------------------------------------- the storage and the studies in it


def storage_picker(key: str) -> str | None:
    """The storage input and which storage is used; its URL, or None (with the reason shown)
    when it cannot be used. A shared app (beyond loopback) always uses its default storage:
    a visitor must not point it at files or servers of their choosing."""
    shared, env = ui.shared(), os.environ.get(tune.STORAGE_ENV, "").strip()
    st.text_input(
        "Study storage (empty = the default)",
        **ui.persistent(key, ""),
        disabled=shared,
        placeholder=tune.storage_label(None),
        help="A SQLAlchemy URL Optuna accepts (postgresql://USER@HOST/DB, sqlite:///PATH) or a "
        "path to a SQLite file. Workers pointed at the same storage share its studies.",
    )
    typed = "" if shared else ss.get(key, "").strip()
    try:
        url = tune.normalize_url(typed or None)
    except TuneError as exc:
        st.error(str(exc))
        return None
    source = (
        "the storage typed above"
        if typed
        else f"${tune.STORAGE_ENV}, shared with every worker pointed at it"
        if env
        else "the embedded store in the studio folder (nothing to install)"
    )
    st.caption(
        f"Studies are kept in `{tune.storage_label(url)}`: {source}."
        + (" This shared app always uses its default storage." if shared else "")
    )
    problem = storage_problem(url)
    if problem:
        st.error(problem)
        return None
    return url


def next_name(model: str, names: list[str]) -> str:
    """The first free "<family>-<n>" study name."""
    i = 1
    while f"{model}-{i}" in names:
        i += 1
    return f"{model}-{i}"


def study_line(row: dict[str, Any]) -> str:
    """One line of the past-studies list: family, objective, trials by state, best, start."""
    objective = row["objective"] or ("val_acc" if row["direction"] == "maximize" else "val_loss")
    best = (
        ""
        if row["best_value"] is None
        else (f" · best {fmt_value(objective, row['best_value'])} (trial {row['best_trial']})")
    )
    running = f", {row['n_running']} running" if row["n_running"] else ""
    return (
        f"**{row['name']}** · {MODEL_LABELS.get(row['model'], 'a study made elsewhere')} · "
        f"{tune.OBJECTIVE_LABELS[objective]} · {row['n_trials']} trials "
        f"({row['n_complete']} complete, {row['n_pruned']} pruned, {row['n_failed']} failed{running})"
        f"{best} · started {row['started'] or '–'}"
    )


def workers_hint(url: str, name: str) -> None:
    """How to add workers to this study from a terminal."""
    with st.expander("More workers on this study"):
        st.code(
            f"python -m mnist_core tune --storage '{tune.storage_label(url)}' --study '{name}' --trials 20",
            language="bash",
        )
        st.caption(
            "Run it in more terminals or on other machines: each worker takes the next trial and "
            "this page shows them all. A SQLite file serves this machine; other machines need a "
            "database server (README: Hyperparameter search and scaling out). The password, if "
            "any, is hidden above."
        )


# ---------------------------------------------------------------- job work


def job_storage(job: Any, url: str) -> str:
    """The storage a search job works on (its first record says; `url` until it has one)."""
    start = job.snapshot().latest("search_start")
    return start["storage"] if start else url


def search_work(url: str, name: str, pruner: str, **kwargs: Any) -> Work:
    """A search job's work: one record naming the study and storage, then run_search's."""

    def work(stop: threading.Event) -> Iterator[dict[str, Any]]:
        yield {
            "kind": "search_start",
            "study": name,
            "storage": url,
            "progress": 0.0,
            "text": f"opening study “{name}” and loading the data…",
        }
        yield from tune.run_search(name, url, stop=stop, pruner=pruner, **kwargs)

    return work


def save_work(url: str, name: str, title: str) -> Work:
    """Retrain a study's best trial and save it as a run (tune.train_best) as job records."""

    def work(stop: threading.Event) -> Iterator[dict[str, Any]]:
        yield {"kind": "save_start", "progress": 0.0, "text": f"{title}: loading the data…"}
        yield from save_records(tune.train_best(tune.load_study(name, url), stop=stop), title)

    return work


# ---------------------------------------------------------------- reading the storage


@st.cache_data(ttl=15, show_spinner="Opening the study storage…")
def storage_problem(url: str) -> str | None:
    """Why the storage cannot be opened (an unreachable database waits for its timeout:
    the answer is kept a few seconds so every rerun does not wait again), or None."""
    try:
        tune.open_storage(url)
    except TuneError as exc:
        return str(exc)
    return None


@st.cache_data(ttl=REFRESH_S, max_entries=8, show_spinner=False)
def _studies(url: str, version: tuple) -> list[dict[str, Any]]:
    return tune.list_studies(url)


def studies(url: str) -> list[dict[str, Any]]:
    """The studies in the storage, newest first (re-read every few seconds, and whenever the
    background job has moved on, so the list is fresh when a search ends)."""
    job = ui.job_manager().job
    moved = (job.id, job.running, len(job.snapshot().records)) if job is not None else None
    try:
        return _studies(url, (ss.get(K + "refresh", 0), moved))
    except SQLAlchemyError as exc:  # a database that went away after it opened: say so, draw the rest
        st.warning(f"Cannot list the studies now: {_first_line(exc)}")
        return []


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def refresh() -> None:
    """Re-read the storage now (the Refresh button, and after a change made here)."""
    ss[K + "refresh"] = ss.get(K + "refresh", 0) + 1


def version(records: int = 0) -> tuple[int, int, int]:
    """The cache key of a study read: the Refresh count, this job's records so far, and a clock
    tick (other workers' trials show within REFRESH_S even when nothing here changed)."""
    return ss.get(K + "refresh", 0), records, int(time.time() // REFRESH_S)


@st.cache_data(max_entries=32, show_spinner=False)
def study_state(url: str, name: str, version: tuple) -> dict[str, Any]:
    """A study as plain data: summary, trials table rows, objective, searched parameters."""
    study = tune.load_study(name, url)
    settings = tune.study_settings(study)
    rows = tune.trials_table(study)
    summary = tune.study_summary(study)
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


@st.cache_data(max_entries=16, show_spinner="Computing parameter importances…")
def study_importances(url: str, name: str, n_complete: int) -> dict[str, float] | None:
    """optuna.importance of the study (recomputed only when a trial completes)."""
    return tune.importances(tune.load_study(name, url))


def chart_specs(state: dict[str, Any]) -> dict[str, dict]:
    """The Vega-Lite specs of a study view, built once per change of its trials (a live view
    redraws twice a second; Altair takes tens of ms per chart)."""
    key = json.dumps([state["rows"], state["objective"], state["params"]], sort_keys=True, default=str)
    return _chart_specs(key, state)


@st.cache_data(max_entries=32, show_spinner=False)
def _chart_specs(key: str, _state: dict[str, Any]) -> dict[str, dict]:
    rows, objective = _state["rows"], _state["objective"]
    specs = {
        "best": tune_charts.best_so_far_chart(rows, objective).to_dict(),
        "curves": tune_charts.intermediate_chart(rows, objective).to_dict(),
    }
    if _state["summary"]["n_complete"] >= tune.MIN_TRIALS_FOR_IMPORTANCE and _state["params"]:
        specs["slices"] = tune_charts.slice_chart(rows, _state["params"], objective).to_dict()
    return specs


def read_study(url: str, name: str, records: int = 0, quiet: bool = False) -> dict[str, Any] | None:
    """The study's state, or None with the reason shown (deleted meanwhile, storage gone);
    `quiet`: say nothing (a search that has not created its study yet)."""
    try:
        return study_state(url, name, version(records))
    except TuneError as exc:
        if not quiet:
            st.warning(str(exc))
    except SQLAlchemyError as exc:  # the database went away mid-search: the next read may work
        st.warning(f"Cannot read study “{name}” now: {_first_line(exc)}")
    return None


# ---------------------------------------------------------------- a search job, a save job


def error_text(error: str) -> str:
    """A job's error without the exception class of the errors that explain themselves."""
    kind, _, text = error.partition(": ")
    return text if kind in ("TuneError", "DataError", "ConfigError", "StorageError") and text else error


def show_search(snap: JobSnapshot, live: bool) -> None:
    """A search job: its progress while it runs; how it ended afterwards."""
    for note in snap.of_kind("note"):
        st.info(note["text"])
    end = snap.latest("search_end")
    failed = lambda error: f"The search of “{snap.title}” failed: {error_text(error)}"
    if show_failed_or_running(snap, live, failed, stopping=f"Stopping {snap.title}… "):
        return
    if end is not None:
        (st.info if end["stopped"] else st.success)(end["text"][:1].upper() + end["text"][1:] + ".")
    elif snap.state == JobState.STOPPED:
        st.warning(f"The search of “{snap.title}” stopped before its first trial began.")


def show_save(snap: JobSnapshot, live: bool) -> None:
    """Retraining the best trial to keep its model: progress, then where the run went."""
    saved = snap.latest("saved")
    if show_failed_or_running(snap, live, lambda error: f"Saving the best trial failed: {error_text(error)}"):
        return
    if saved is not None:
        acc = saved["val_accuracy"]
        st.success(
            f"{snap.title}: saved as run `{saved['run_id']}`"
            + (f" (validation accuracy {acc:.2%})" if acc is not None else "")
            + ". Judge it on Evaluate, try it on Deploy."
        )
        left, right, _ = st.columns([1, 1, 3])
        with left:
            ui.link("Evaluate")
        with right:
            ui.link("Deploy")
    else:
        st.warning(f"{snap.title}: stopped before the model had learned anything; nothing was saved.")


def save_records(records: Iterator[Any], title: str) -> Iterator[dict[str, Any]]:
    """train_best's records as job records, each with "progress" and "text"."""
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


# ---------------------------------------------------------------- a study


def fmt_value(objective: str, value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.2%}" if objective == "val_acc" else f"{value:.4f}"


def metrics(state: dict[str, Any]) -> None:
    s, objective = state["summary"], state["objective"]
    cols = st.columns(5)
    cols[0].metric("Trials", s["n_trials"])
    cols[1].metric("Complete", s["n_complete"])
    cols[2].metric(
        "Pruned",
        s["n_pruned"],
        help="Stopped early by the pruner: after some epochs their "
        "validation score lagged behind earlier trials' at the same epoch.",
    )
    cols[3].metric("Running", s["n_running"], help="In this app's search or any other worker's.")
    best = f"trial {s['best_trial']}" if s["best_trial"] is not None else None
    cols[4].metric(
        f"Best {tune.OBJECTIVE_LABELS[objective]}",
        fmt_value(objective, s["best_value"]),
        best,
        delta_color="off",
        delta_arrow="off",
    )


def trials_frame(state: dict[str, Any]) -> pd.DataFrame:
    """The trials table, newest first: state, parameters, results, epochs, duration, worker."""
    params, objective = state["params"], state["objective"]
    rows = []
    for r in sorted(state["rows"], key=lambda r: -r["number"]):
        row: dict[str, Any] = {
            "Trial": r["number"],
            "State": STATE_LABELS.get(r["state"], r["state"]) + (" ★" if r["is_best"] else ""),
        }
        for name in params:
            value = r["params"].get(name)
            row[LABELS[name]] = ("on" if value else "off") if isinstance(value, bool) else value
        if objective == "val_loss":
            row["Validation loss"] = r["value"]
        row["Best val acc (%)"] = None if r["best_val_acc"] is None else 100 * r["best_val_acc"]
        row.update({"Epochs": r["epochs"], "Seconds": r["seconds"], "Worker": r["worker"] or ""})
        rows.append(row)
    columns = [
        "Trial",
        "State",
        *(LABELS[n] for n in params),
        *(["Validation loss"] if objective == "val_loss" else []),
        "Best val acc (%)",
        "Epochs",
        "Seconds",
        "Worker",
    ]
    return pd.DataFrame(rows, columns=columns)


def trials_table(state: dict[str, Any]) -> None:
    number = st.column_config.NumberColumn
    config = {LABELS[n]: number(format="%.3g") for n in state["params"] if PARAM_SPECS[n].kind != "choice"}
    config |= {
        "Best val acc (%)": number(format="%.2f"),
        "Seconds": number(format="%.1f"),
        "Validation loss": number(format="%.4f"),
        "Trial": number(format="%d"),
    }
    st.dataframe(
        trials_frame(state),
        hide_index=True,
        width="stretch",
        column_config=config,
        height=min(38 + 35 * max(len(state["rows"]), 1), 420),
    )


def show_study(url: str, name: str, state: dict[str, Any]) -> None:
    """Metrics, the trials table, best-so-far and per-epoch curves; importances and slices once
    enough trials are complete."""
    metrics(state)
    st.caption(f"Searches {state['about']}.")
    if not state["rows"]:
        st.info("No trials yet.")
        return
    trials_table(state)
    specs = chart_specs(state)
    left, right = st.columns(2)
    left.vega_lite_chart(specs["best"], width="stretch")
    right.vega_lite_chart(specs["curves"], width="stretch")
    n_complete = state["summary"]["n_complete"]
    if n_complete < tune.MIN_TRIALS_FOR_IMPORTANCE:
        ui.teach(
            f"Parameter importances and the slice chart appear once {tune.MIN_TRIALS_FOR_IMPORTANCE} "
            f"trials are complete ({n_complete} so far)."
        )
        return
    found = study_importances(url, name, n_complete)
    if found:
        st.vega_lite_chart(tune_charts.importance_chart(found).to_dict(), width="stretch")
        ranked = sorted(found.items(), key=lambda kv: -kv[1])
        st.caption(
            "Most important first: " + ", ".join(f"{LABELS[k].lower()} {v:.0%}" for k, v in ranked) + "."
        )
        ui.teach(
            "Importance: how much of the spread in the results each parameter explains "
            "(fANOVA over the complete trials). Narrow the range of an important one; an "
            "unimportant one can keep its base value."
        )
    if "slices" in specs:
        st.vega_lite_chart(specs["slices"])


def follow_study(url: str, name: str, state: dict[str, Any]) -> None:
    """The study view, re-read every few seconds while some worker runs one of its trials."""
    live = state["summary"]["n_running"] > 0

    @st.fragment(run_every=REFRESH_S if live else None)
    def view() -> None:
        now = read_study(url, name)
        if now is None:
            return
        show_study(url, name, now)
        if live:
            st.caption(
                f"Live: {now['summary']['n_running']} trial(s) running; re-read every "
                f"{REFRESH_S:g} s from the storage."
            )
            if now["summary"]["n_running"] == 0:
                st.rerun()  # the last trial ended: stop polling, re-enable the buttons

    view()


# ---------------------------------------------------------------- to the Train page


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def apply_best(study: Any, split: dict[str, Any]) -> str:
    """Set the Train page's controls (session keys "train.<field>") to the study's best trial,
    snapped onto their widgets (from a callback); the message saying what was set."""
    config, number, name = tune.best_config(study), study.best_trial.number, study.study_name
    for k in TRAIN_FIELDS:
        ss[TRAIN_KEY + k] = nearest_option(k, getattr(config, k))
    ss[TRAIN_KEY + "run_name"] = f"{name} trial {number}"
    parts = []
    for p in tune.study_settings(study).space.enabled:
        value, snapped = getattr(config, p.name), ss[TRAIN_KEY + p.name]
        parts.append(
            f"{LABELS[p.name].lower()} {_shown(value)}"
            + (f" (its slider: {_shown(snapped)})" if snapped != value else "")
        )
    note = (
        ""
        if (config.val_fraction, config.split_seed) == (split["val_fraction"], split["split_seed"])
        else f" Note: the study validated on a {config.val_fraction:.0%} split (seed {config.split_seed}); "
        "Train uses the split set on Preprocess."
    )
    return (
        f"Loaded trial {number} of “{name}” into Train ({config.summary()}, {config.epochs} epochs): "
        f"{', '.join(parts)}. Open Train and press Start training.{note}"
    )
