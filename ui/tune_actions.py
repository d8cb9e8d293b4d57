"""The Tune page's state and actions: its session keys, the search it would start, and the
callbacks of its buttons (start, resume, stop, use or save the best trial, show, delete)."""

from __future__ import annotations

import streamlit as st

import ui
from mnist_core.config import DEFAULT_PRESET, PRESETS, ConfigError
from mnist_core.data.sources import DataError
from mnist_core.jobs.job import Job, JobBusy
from mnist_core.planning import tune
from mnist_core.planning.tune import TuneError
from ui import tune as views

K = views.K
MODEL, STUDY, OBJECTIVE, STORAGE = K + "model", K + "study", K + "objective", K + "storage"
TRIALS, MINUTES, MAX_TRAIN, PRUNER = views.TRIALS, views.MINUTES, views.MAX_TRAIN, views.PRUNER
SHOWN, FLASH_AT = K + "shown", K + "flash_at"  # the study drawn; where the next message shows
MAX_LISTED = 15
ss = st.session_state


# ---------------------------------------------------------------- what to search


def on_model(names: list[str]) -> None:
    model = ss[MODEL]  # the family's widgets keep their own space (ui.tune.key_of)
    prefix = ss.get(STUDY, "").rsplit("-", 1)
    if len(prefix) == 2 and prefix[0] in tune.TUNABLE_FAMILIES and prefix[1].isdigit():
        ss[STUDY] = views.next_name(model, names)  # a suggested name follows the family


def budget() -> dict:
    trials, minutes = int(ss.get(TRIALS, 20)), float(ss.get(MINUTES, 0.0))
    if not trials and not minutes:
        raise TuneError("Give a budget: a number of trials, a number of minutes, or both.")
    return {"n_trials": trials or None, "timeout": minutes * 60 if minutes else None}


def new_search(names: list[str]) -> dict:
    """run_search's arguments for the search the widgets describe (raises with the reason)."""
    model = ss.get(MODEL, PRESETS[DEFAULT_PRESET].model)
    space = views.space_from_state(model)
    name = ss.get(STUDY, "").strip()
    if not name:
        raise TuneError("Give the study a name.")
    if name in names:
        raise TuneError(
            f"A study named “{name}” already exists: add trials to it under Past studies "
            "(＋ More trials), or choose another name."
        )
    base = tune.family_base(model).replace(**ui.split_settings(), max_train_samples=int(ss.get(MAX_TRAIN, 0)))
    return {
        "study_name": name,
        "base_config": base,
        "space": space,
        "objective": ss.get(OBJECTIVE, "val_acc"),
        "data": ui.source_info().key,
        **budget(),
    }


# ---------------------------------------------------------------- starting and stopping


def submit(url: str, name: str, **kwargs) -> bool:
    """Start searching study `name` (kwargs: run_search's); False when another job runs."""
    try:
        ui.job_manager().submit(
            Job(views.search_work(url, name, ss.get(PRUNER, "median"), **kwargs), kind="tune", title=name)
        )
    except JobBusy as exc:
        ui.flash("warning", str(exc))
        return False
    ss[SHOWN] = name
    views.refresh()
    return True


def on_start(url: str, names: list[str]) -> None:
    try:
        plan = new_search(names)
    except (TuneError, ConfigError, DataError) as exc:
        ui.flash("error", f"Not started: {exc}")
        return
    name = plan.pop("study_name")
    if submit(url, name, **plan):
        ss[STUDY] = views.next_name(ss[MODEL], [*names, name])


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
    ss[FLASH_AT] = "best"
    try:
        ui.flash("success", views.apply_best(tune.load_study(name, url), ui.split_settings()))
    except TuneError as exc:
        ui.flash("error", str(exc))


def on_save_best(url: str, name: str) -> None:
    ss[FLASH_AT] = "best"
    try:
        study = tune.load_study(name, url)
        tune.best_config(study)  # says why there is nothing to save yet
    except TuneError as exc:
        ui.flash("error", str(exc))
        return
    title = f"Trial {study.best_trial.number} of “{name}”"
    try:
        ui.job_manager().submit(Job(views.save_work(url, name, title), kind="tune_best", title=title))
    except JobBusy as exc:
        ui.flash("warning", str(exc))


def on_show(name: str) -> None:
    ss[SHOWN] = name


def on_delete(url: str, name: str) -> None:
    ss[FLASH_AT] = "studies"
    job = ui.job_manager().job_of("tune")
    if job is not None and job.running and job.title == name:
        ui.flash("error", f"“{name}” is being searched: stop the search first.")
        return
    try:
        tune.delete_study(name, url)
    except TuneError as exc:
        ui.flash("error", str(exc))
        return
    if ss.get(SHOWN) == name:
        ss[SHOWN] = None
    views.refresh()
    ui.flash("success", f"Deleted the study “{name}” and all its trials.")


def flash_here(place: str) -> None:
    """Show the queued message here if the action that queued it belongs here."""
    if ss.get(FLASH_AT, "top") == place:
        ss[FLASH_AT] = "top"
        ui.show_flash()
