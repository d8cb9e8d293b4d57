"""The Tune page's state and actions: the search it would start, and the
callbacks of its buttons (start, resume, stop, use or save the best trial, show, delete); using
the best trial sets the Train page's controls (session keys "train.<field>")."""

from __future__ import annotations

import dataclasses
from typing import Any

import streamlit as st

import ui
from mnist_core.config import DEFAULT_PRESET, PRESETS, ConfigError, TrainConfig, nearest_option
from mnist_core.data.errors import DataError
from mnist_core.jobs.job import Job, JobBusy
from mnist_core.jobs.tune_best import BestTrialJob
from mnist_core.planning.tune import TuneError
from mnist_core.planning.tune.best import best_config
from mnist_core.planning.tune.space import TUNABLE_FAMILIES, family_base
from mnist_core.planning.tune.study import delete_study, load_study, next_name, study_settings
from mnist_core.planning.tune.worker import search_work
from ui import state as keys
from ui.tune_space import LABELS, space_from_state
from ui.tune_storage import refresh

# The Train page's controls: every TrainConfig field but the split (Preprocess) and the run-time ones.
TRAIN_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(TrainConfig)
    if f.name not in ("val_fraction", "split_seed", "mixed_precision", "device")
)
MAX_LISTED = 15
ss = st.session_state


# ---------------------------------------------------------------- what to search


def on_model(names: list[str]) -> None:
    model = ss[keys.TUNE_MODEL]  # the family's widgets keep their own space (ui.state.tune_param)
    prefix = ss.get(keys.TUNE_STUDY, "").rsplit("-", 1)
    if len(prefix) == 2 and prefix[0] in TUNABLE_FAMILIES and prefix[1].isdigit():
        ss[keys.TUNE_STUDY] = next_name(model, names)  # a suggested name follows the family


def budget() -> dict:
    trials, minutes = int(ss.get(keys.TUNE_TRIALS, 20)), float(ss.get(keys.TUNE_MINUTES, 0.0))
    if not trials and not minutes:
        raise TuneError("Give a budget: a number of trials, a number of minutes, or both.")
    return {"n_trials": trials or None, "timeout": minutes * 60 if minutes else None}


def new_search(names: list[str]) -> dict:
    """run_search's arguments for the search the widgets describe (raises with the reason)."""
    model = ss.get(keys.TUNE_MODEL, PRESETS[DEFAULT_PRESET].model)
    space = space_from_state(model)
    name = ss.get(keys.TUNE_STUDY, "").strip()
    if not name:
        raise TuneError("Give the study a name.")
    if name in names:
        raise TuneError(
            f"A study named “{name}” already exists: add trials to it under Past studies "
            "(＋ More trials), or choose another name."
        )
    base = family_base(model).replace(
        **ui.split_settings(), max_train_samples=int(ss.get(keys.TUNE_MAX_TRAIN, 0))
    )
    return {
        "study_name": name,
        "base_config": base,
        "space": space,
        "objective": ss.get(keys.TUNE_OBJECTIVE, "val_acc"),
        "data": ui.source_info().key,
        **budget(),
    }


# ---------------------------------------------------------------- starting and stopping


def submit(url: str, name: str, **kwargs) -> bool:
    """Start searching study `name` (kwargs: run_search's); False when another job runs."""
    try:
        ui.job_manager().submit(
            Job(search_work(url, name, ss.get(keys.TUNE_PRUNER, "median"), **kwargs), kind="tune", title=name)
        )
    except JobBusy as exc:
        ui.flash("warning", str(exc))
        return False
    ss[keys.TUNE_SHOWN] = name
    refresh()
    return True


def on_start(url: str, names: list[str]) -> None:
    try:
        plan = new_search(names)
    except (TuneError, ConfigError, DataError) as exc:
        ui.flash("error", f"Not started: {exc}")
        return
    name = plan.pop("study_name")
    if submit(url, name, **plan):
        ss[keys.TUNE_STUDY] = next_name(ss[keys.TUNE_MODEL], [*names, name])


def on_resume(url: str, name: str) -> None:
    try:
        more = budget()
    except TuneError as exc:
        ui.flash("error", f"Not started: {exc}")
        return
    submit(url, name, **more)  # the study's own space, objective and data


def on_stop() -> None:
    job = ui.job_manager().job
    if job is not None and job.kind in ("tune", "tune_best"):
        job.stop()


# ---------------------------------------------------------------- the best trial


def on_use_best(url: str, name: str) -> None:
    ss[keys.TUNE_FLASH_AT] = "best"
    try:
        ui.flash("success", apply_best(load_study(name, url), ui.split_settings()))
    except TuneError as exc:
        ui.flash("error", str(exc))


def on_save_best(url: str, name: str) -> None:
    ss[keys.TUNE_FLASH_AT] = "best"
    try:
        study = load_study(name, url)
        best_config(study)  # says why there is nothing to save yet
    except TuneError as exc:
        ui.flash("error", str(exc))
        return
    title = f"Trial {study.best_trial.number} of “{name}”"
    try:
        ui.job_manager().submit(BestTrialJob(url, name, title, ui.home()))
    except JobBusy as exc:
        ui.flash("warning", str(exc))


def on_show(name: str) -> None:
    ss[keys.TUNE_SHOWN] = name


def on_delete(url: str, name: str) -> None:
    ss[keys.TUNE_FLASH_AT] = "studies"
    job = ui.job_manager().job_of("tune")
    if job is not None and job.running and job.title == name:
        ui.flash("error", f"“{name}” is being searched: stop the search first.")
        return
    try:
        delete_study(name, url)
    except TuneError as exc:
        ui.flash("error", str(exc))
        return
    if ss.get(keys.TUNE_SHOWN) == name:
        ss[keys.TUNE_SHOWN] = None
    refresh()
    ui.flash("success", f"Deleted the study “{name}” and all its trials.")


# ---------------------------------------------------------------- to the Train page


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def apply_best(study: Any, split: dict[str, Any]) -> str:
    """Set the Train page's controls (session keys "train.<field>") to the study's best trial,
    snapped onto their widgets (from a callback); the message saying what was set."""
    config, number, name = best_config(study), study.best_trial.number, study.study_name
    for k in TRAIN_FIELDS:
        ss[keys.train_control(k)] = nearest_option(k, getattr(config, k))
    ss[keys.TRAIN_RUN_NAME] = f"{name} trial {number}"
    parts = []
    for p in study_settings(study).space.enabled:
        value, snapped = getattr(config, p.name), ss[keys.train_control(p.name)]
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


def flash_here(place: str) -> None:
    """Show the queued message here if the action that queued it belongs here."""
    if ss.get(keys.TUNE_FLASH_AT, "top") == place:
        ss[keys.TUNE_FLASH_AT] = "top"
        ui.show_flash()
