"""Step 4 · Train: choose hyperparameters, train in the background, watch live curves, read the
diagnosis, compare saved runs.

The training runs as a job on the Dask cluster (`mnist_core.jobs`, this session's own); this
page wires widgets to it and draws its snapshot with `ui.follow_job`. While a job runs, the
progress, the metrics and both curves come first and the controls fold into an expander.
"""

from __future__ import annotations

import streamlit as st

import ui
from mnist_core.config import (
    DEFAULT_PRESET,
    LADDER,
    PRESET_HELP,
    PRESETS,
    ConfigError,
    TrainConfig,
)
from mnist_core.data.errors import DataError
from mnist_core.data.sources import Images
from mnist_core.deploy.collect import CollectError
from mnist_core.jobs.job import JobBusy
from mnist_core.labels.audit import AuditError
from mnist_core.training import models
from ui import history, labels_train, training
from ui import state as keys
from ui.train_controls import (
    CONTROLS,
    checked_config,
    current_values,
    data_controls,
    make_config,
    model_controls,
    on_apply,
    on_preset,
    optimizer_controls,
    preset_values,
    regularization_controls,
)

ss = st.session_state

# ---------------------------------------------------------------- starting and stopping


def start_job(configs: list[TrainConfig], names: list[str]) -> None:
    try:
        found = collected_data() if ss.get(keys.TRAIN_USE_DRAWINGS) else None
        extra, drawing_ids = found if found is not None else (None, [])
        review = labels_train.review_hook(drawing_ids)
        ui.job_manager().start(configs, names, data=ui.data_spec(), extra=extra, review=review)
    except JobBusy as exc:
        ui.flash("warning", str(exc))
    except (AuditError, CollectError, DataError) as exc:
        ui.flash("error", str(exc))


def on_start() -> None:
    try:
        config = make_config()
    except ConfigError as exc:
        ui.flash("error", f"Not started: {exc}")
        return
    name = ss.get(keys.TRAIN_RUN_NAME, "").strip()
    preset = ss.get(keys.TRAIN_PRESET, DEFAULT_PRESET)
    if not name and preset_values(preset) == current_values():
        name = preset
    start_job([config], [name])


def on_ladder() -> None:
    try:
        configs = [config.replace(**ui.split_settings()) for _, config in LADDER]
    except ConfigError as exc:
        ui.flash("error", f"Not started: {exc}")
        return
    start_job(configs, [name for name, _ in LADDER])


def on_stop() -> None:
    ui.stop_job(ui.job_manager().job_of("train"))


def collected_data() -> tuple[Images, list[int]] | None:
    """The labelled drawings for training and their ids (reviewed labels may change some)."""
    store = ui.drawing_store(create=False)
    return store.training_data() if store is not None and store.count() else None


def drawings_count() -> int:
    store = ui.drawing_store(create=False)  # opening a store would create the file
    try:
        return store.count() if store is not None else 0
    except CollectError as exc:
        st.warning(f"The collected drawings cannot be read: {exc}")
        return 0


# ---------------------------------------------------------------- settings


def data_line() -> bool:
    """Which data and split the run will use; False when the data source is unusable."""
    split = ui.split_settings()
    try:
        info = ui.source_info()
    except DataError as exc:
        st.error(str(exc))
        ui.link("Data", "Choose another data source")
        return False
    st.markdown(
        f"**Data:** {info.name} · **validation:** {split['val_fraction']:.0%} of the pool, "
        f"split seed {split['split_seed']} (set on Preprocess; every run uses the same split, "
        "so runs compare fairly)."
    )
    return True


def preset_row() -> None:
    left, right = st.columns([2, 3], vertical_alignment="bottom")
    left.selectbox(
        "Preset",
        list(PRESETS),
        **ui.persistent(keys.TRAIN_PRESET, DEFAULT_PRESET),
        on_change=on_preset,
        help="Choosing a preset sets all the controls below.",
    )
    modified = (
        preset_values(ss[keys.TRAIN_PRESET]) != current_values()
    )  # (ss[keys.TRAIN_PRESET] is set by persistent())
    with right:
        st.caption(
            PRESET_HELP[ss[keys.TRAIN_PRESET]] + (" *Changed since you picked it.*" if modified else "")
        )
        if modified:
            st.button(f"↺ Back to “{ss[keys.TRAIN_PRESET]}”", key=keys.TRAIN_RESET_PRESET, on_click=on_preset)


def settings(n_drawings: int) -> TrainConfig | None:
    preset_row()
    cols = st.columns(4, gap="medium")
    with cols[0].container(border=True, height="stretch"):
        model = model_controls()
    with cols[1].container(border=True, height="stretch"):
        optimizer_controls(model != "baseline")
    with cols[2].container(border=True, height="stretch"):
        regularization_controls(model)
    with cols[3].container(border=True, height="stretch"):
        data_controls(n_drawings)
        labels_train.reviewed_control()
    try:
        config = make_config()
    except ConfigError as exc:
        st.error(f"Check the settings: {exc}")
        return None
    n = models.parameter_count(config)  # built on the meta device: ~2 ms, no cache needed
    st.caption(
        f"**{config.summary()}** · {n:,} learned parameters · {config.optimizer}, "
        f"learning rate {config.lr:g}, batch {config.batch_size}, {config.epochs} epoch"
        f"{'s' * (config.epochs > 1)}"
    )
    return config


def buttons(config: TrainConfig | None, data_ok: bool, running: bool) -> None:
    problem = ui.cluster_problem()
    if problem:
        st.warning(problem, icon="🔌")
        data_ok = False  # nothing can start until the cluster is back
    cols = st.columns([1.2, 1, 1.6, 3], vertical_alignment="center")
    cols[0].button(
        "▶ Start training",
        type="primary",
        key=keys.TRAIN_START,
        on_click=on_start,
        disabled=running or config is None or not data_ok,
        width="stretch",
    )
    cols[1].button(
        "■ Stop",
        key=keys.TRAIN_STOP,
        disabled=True,
        width="stretch",  # nothing trains in this view
        help="Stops within a second; the best weights so far are saved.",
    )
    cols[2].button(
        "🪜 Train the baseline ladder",
        key=keys.TRAIN_LADDER,
        on_click=on_ladder,
        disabled=running or not data_ok,
        width="stretch",
        help="Majority class → logistic regression → MLP → CNN, one after another on the "
        "same split, then side by side.",
    )
    if running:
        cols[3].caption(
            "Another background job of yours (a learning curve or a search) is running: Start is back "
            "when it ends or you stop it on its page."
        )
    ui.show_flash()


def live_header() -> None:
    """While a training runs: Stop (and Start, back when it ends) in one row above the live view."""
    start, stop, note = st.columns([1.2, 1, 4.6], vertical_alignment="center")
    start.button("▶ Start training", type="primary", key=keys.TRAIN_START, disabled=True, width="stretch")
    stop.button(
        "■ Stop",
        key=keys.TRAIN_STOP,
        on_click=on_stop,
        width="stretch",
        help="Stops within a second; the best weights so far are saved.",
    )
    note.caption(
        "Training in the background: leave the page and come back, it goes on (a reload opens a "
        "new session, which no longer shows it). Start is back when it ends or you stop it."
    )
    ui.show_flash()


def job_section(live: bool) -> None:
    if not live:
        st.subheader("Training")
    job = ui.job_manager().job_of("train")
    if job is None:
        runs = ui.runs()
        if runs:
            training.show_saved_run(runs[0], on_apply)
        else:
            st.info("No training yet: pick a preset and press **Start training**.")
        return
    with st.container(key=keys.TRAIN_LIVE):  # the live view's own box (the browser tests look inside it)
        ui.follow_job(
            job,
            lambda snap, live: training.show_job(snap, live, job.configs, on_apply),
            key=keys.TRAIN_FOLLOW,
        )


# ---------------------------------------------------------------- the page


def main() -> None:
    job = ui.job_manager().job_of("train")
    running, training = ui.job_running(), job is not None and job.running
    ui.page(
        "Train",
        None
        if training
        else "Pick a model and its hyperparameters, press Start and watch it "
        "learn. Training runs in the background: stop it any time, or leave the page and come back.",
    )
    if training:  # the live view first and compact, the controls folded away until the job ends
        live_header()
        job_section(live=True)
        with st.expander("Settings (they apply to the next run)", expanded=False):
            data_line()
            settings(drawings_count())
    else:
        data_ok = data_line()
        buttons(checked_config(), data_ok, running)  # above the controls: in view on a projector
        settings(drawings_count())
        job_section(live=False)
    history.history_section(CONTROLS, on_apply)


main()
