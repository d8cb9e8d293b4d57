"""Step 6 · Tune: search hyperparameters with Optuna, live, and take the best trial to Train.

The user picks what to search and the ranges (prefilled from `tune.default_space` per family), a
budget, the objective and a study name; Start runs `tune.run_search` as a background job
(stoppable, one job at a time, it survives page switches). The study is read from its storage
(`tune.trials_table`), so other workers' trials on the same storage appear live too. The best
trial goes to Train's controls in one click, or is retrained and saved as a run (`train_best`).
Past studies are listed, resumed and deleted.
"""

from __future__ import annotations

import streamlit as st

import ui
from mnist_core.config import DEFAULT_PRESET, MODEL_LABELS, PRESETS, ConfigError
from mnist_core.data.errors import DataError
from mnist_core.planning.tune import TuneError
from mnist_core.planning.tune.space import TUNABLE_FAMILIES, default_space
from mnist_core.planning.tune.study import OBJECTIVE_LABELS, OBJECTIVES, next_name
from ui import state as keys
from ui.tune_actions import (
    MAX_LISTED,
    flash_here,
    new_search,
    on_delete,
    on_model,
    on_resume,
    on_save_best,
    on_show,
    on_start,
    on_stop,
    on_use_best,
)
from ui.tune_jobs import job_storage, show_save, show_search
from ui.tune_space import limits_row, param_row
from ui.tune_storage import read_study, refresh, storage_picker, studies
from ui.tune_study import follow_study, show_study, study_line, workers_hint

ss = st.session_state

# ---------------------------------------------------------------- sections


def settings(names: list[str]) -> bool:
    """The search's widgets; whether they describe a search that can start."""
    a, b, c = st.columns([2, 2, 3])
    model = a.selectbox(
        "Model family",
        TUNABLE_FAMILIES,
        format_func=MODEL_LABELS.get,
        **ui.persistent(keys.TUNE_MODEL, PRESETS[DEFAULT_PRESET].model),
        on_change=on_model,
        args=(names,),
        help="Changing the family loads its default search space.",
    )
    b.text_input("Study name", **ui.persistent(keys.TUNE_STUDY, next_name(model, names)), max_chars=60)
    c.radio(
        "Objective",
        list(OBJECTIVES),
        horizontal=True,
        **ui.persistent(keys.TUNE_OBJECTIVE, "val_acc"),
        format_func=lambda o: f"{OBJECTIVE_LABELS[o]} ({OBJECTIVES[o][:3]}.)",
    )
    params = default_space(model).params
    cols = st.columns(len(params) // 2 + len(params) % 2, gap="small")
    for i, p in enumerate(params):
        with cols[i // 2].container(border=True):
            param_row(model, p)
    limits_row(model)
    try:
        plan = new_search(names)
    except (TuneError, ConfigError, DataError) as exc:
        st.error(f"Check the search: {exc}")
        return False
    st.caption(
        f"**{plan['space'].describe()}** · other settings: {plan['base_config'].summary()} defaults · "
        f"TPE sampler; each trial reports its validation score after every epoch."
    )
    return True


def buttons(url: str, names: list[str], ok: bool, running: bool) -> None:
    ui.start_stop_row(
        ("▶ Start search", keys.TUNE_START, on_start, (url, names)),
        (
            keys.TUNE_STOP,
            on_stop,
            "Stops within a second; the running trial is marked failed, the others are kept.",
        ),
        can_start=not running and ok,
        can_stop=running,
        busy_note="A job is running; Start is back when it ends or you stop it." if running else None,
        widths=(1.2, 1, 4),
    )
    flash_here("top")


def shown_study(names: list[str]) -> str | None:
    job = ui.job_manager().job_of("tune")
    picked = ss.get(keys.TUNE_SHOWN)
    if picked in names or (job is not None and picked == job.title):
        return picked
    return job.title if job is not None else (names[0] if names else None)


def study_section(url: str, name: str | None) -> None:
    manager = ui.job_manager()
    job, save = manager.job_of("tune"), manager.job_of("tune_best")
    if save is not None:
        ui.follow_job(save, show_save, key=keys.TUNE_FOLLOW)
    following = job is not None and job.title == name and job_storage(job, url) == url
    if job is not None and not following:
        ui.follow_job(job, show_search, key=keys.TUNE_FOLLOW)  # a search of another study
    if name is None:
        st.info("No study yet: choose what to search and press **Start search**.")
        return
    head, button = st.columns([6, 1], vertical_alignment="bottom")
    head.subheader(f"Study “{name}”")
    button.button(
        "↻ Refresh",
        key=keys.TUNE_REFRESH_BUTTON,
        on_click=refresh,
        width="stretch",
        help="Re-read the study from its storage (other workers' trials).",
    )
    if following:

        def draw(snap, live):
            show_search(snap, live)
            state = read_study(url, name, len(snap.records), quiet=live)
            if state is not None:
                show_study(url, name, state)

        ui.follow_job(job, draw, key=keys.TUNE_FOLLOW)
    elif (state := read_study(url, name)) is not None:
        follow_study(url, name, state)
    best_section(url, name)


def best_section(url: str, name: str) -> None:
    cols = st.columns([1.3, 1.3, 1, 2.4], vertical_alignment="center")
    cols[0].button(
        "🏋️ Use the best on Train",
        key=keys.TUNE_USE_BEST,
        on_click=on_use_best,
        args=(url, name),
        width="stretch",
        help="Sets the Train page's controls to the best trial's settings.",
    )
    cols[1].button(
        "💾 Save the best as a run",
        key=keys.TUNE_SAVE_BEST,
        on_click=on_save_best,
        args=(url, name),
        disabled=ui.job_running(),
        width="stretch",
        help="Retrains the best trial's exact settings and keeps the model as a normal run "
        "(with its study and trial), for Evaluate and Deploy.",
    )
    with cols[2]:
        ui.link("Train", "Open Train")
    flash_here("best")
    workers_hint(url, name)


def past_studies(url: str, listed: list[dict], shown: str | None, running: bool) -> None:
    st.subheader("Past studies")
    flash_here("studies")
    if not listed:
        st.info("Every search is kept here as a study, to show again, resume or delete.")
        return
    for row in listed[:MAX_LISTED]:
        name = row["name"]
        with st.container(border=True):
            text, show, more, delete = st.columns([6, 1, 1.4, 0.7], vertical_alignment="center")
            text.markdown(study_line(row) + (" · *shown above*" if name == shown else ""))
            show.button(
                "Show",
                key=keys.tune_show(name),
                on_click=on_show,
                args=(name,),
                disabled=name == shown,
                width="stretch",
            )
            more.button(
                "＋ More trials",
                key=keys.tune_more(name),
                on_click=on_resume,
                args=(url, name),
                disabled=running,
                width="stretch",
                help="Runs the budget set above on this study, with its own space, objective and data.",
            )
            with delete.popover("🗑", help="Delete this study", width="stretch"):
                st.button(
                    "Delete for good",
                    key=keys.tune_delete(name),
                    on_click=on_delete,
                    args=(url, name),
                    type="primary",
                )
    if len(listed) > MAX_LISTED:
        st.caption(
            f"{len(listed) - MAX_LISTED} older studies are not listed (`python -m mnist_core tune --list`)."
        )


# ---------------------------------------------------------------- the page


def main() -> None:
    ui.page(
        "Tune",
        "Search the hyperparameters instead of guessing: Optuna tries settings, learns "
        "which regions score well on the validation set, and stops hopeless trials early.",
    )
    ui.teach(
        "Tune against the validation set only: the test set stays locked until Evaluate. Each "
        "trial trains the model with sampled settings; after every epoch the pruner compares "
        "it with earlier trials and stops it when it lags behind."
    )
    url = storage_picker(keys.TUNE_STORAGE)
    if url is None:
        return
    listed = studies(url)
    names = [row["name"] for row in listed]
    running = ui.job_running()
    if running:
        buttons(url, names, False, running)
        with st.expander("Search settings (for the next search)", expanded=False):
            settings(names)
    else:
        ok = settings(names)
        buttons(url, names, ok, running)
    shown = shown_study(names)
    study_section(url, shown)
    past_studies(url, listed, shown, running)


main()
