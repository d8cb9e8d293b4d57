"""Step 4 · Train: choose hyperparameters, train in the background, watch live curves, read the
diagnosis, compare saved runs.

The training runs in `mnist_core.jobs` (one job per server, shared by every session); this
page wires widgets to it and draws its snapshot with `ui.follow_job`. While a job runs, the
progress, the metrics and both curves come first and the controls fold into an expander.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

import ui
from mnist_core import diagnose, models
from ui import history, training
from mnist_core.collect import CollectError
from mnist_core.config import (ACTIVATIONS, DEFAULT_PRESET, LADDER, MODEL_FAMILIES, MODEL_LABELS,
                               OPTIMIZERS, PRESET_HELP, PRESETS, ConfigError, TrainConfig, field_info,
                               nearest_option)
from mnist_core.data import DataError, Images
from mnist_core.jobs import JobBusy

K = "train."  # every control's session key is K + its TrainConfig field (or preset, run_name…)
CONTROLS = ("model", "mlp_depth", "mlp_width", "activation", "cnn_blocks", "cnn_channels",
            "batch_norm", "optimizer", "lr", "batch_size", "epochs", "weight_decay", "dropout",
            "augment", "patience", "seed", "max_train_samples")
PRESET, RUN_NAME, USE_DRAWINGS = K + "preset", K + "run_name", K + "use_drawings"
ss = st.session_state


# ---------------------------------------------------------------- control state


def preset_values(name: str) -> dict[str, Any]:
    config = PRESETS[name]
    return {k: nearest_option(k, getattr(config, k)) for k in CONTROLS}


def current_values() -> dict[str, Any]:
    defaults = preset_values(DEFAULT_PRESET)
    return {k: ss.get(K + k, defaults[k]) for k in CONTROLS}


def control(name: str) -> dict[str, Any]:
    """Widget kwargs of a control: its persistent key and its help text."""
    return {**ui.persistent(K + name, preset_values(DEFAULT_PRESET)[name]), "help": field_info(name)["help"]}


def set_controls(changes: dict[str, Any]) -> None:
    """Set controls from code; only call from callbacks (before the widgets are drawn)."""
    for name, value in changes.items():
        if name in CONTROLS:
            ss[K + name] = nearest_option(name, value)


def on_preset() -> None:
    set_controls(preset_values(ss[PRESET]))


def on_apply(changes: dict[str, Any], what: str) -> None:
    set_controls(changes)
    ui.flash("success", f"{what}: {diagnose.describe_changes(changes)}. Press Start to train with them.")


def make_config() -> TrainConfig:
    return TrainConfig(**current_values(), **ui.split_settings())


def checked_config() -> TrainConfig | None:
    """The config the controls describe, or None when a value is out of range (shown by settings())."""
    try:
        return make_config()
    except ConfigError:
        return None


# ---------------------------------------------------------------- starting and stopping


def start_job(configs: list[TrainConfig], names: list[str]) -> None:
    try:
        extra = collected_images() if ss.get(USE_DRAWINGS) else None
        ui.job_manager().start(configs, names, data=ui.data_spec(), extra=extra)
    except JobBusy as exc:
        ui.flash("warning", f"{exc} Only one job runs at a time (two would share the same CPU).")
    except (CollectError, DataError) as exc:
        ui.flash("error", str(exc))


def on_start() -> None:
    try:
        config = make_config()
    except ConfigError as exc:
        ui.flash("error", f"Not started: {exc}")
        return
    name = ss.get(RUN_NAME, "").strip()
    preset = ss.get(PRESET, DEFAULT_PRESET)
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
    ui.job_manager().stop()


def collected_images() -> Images | None:
    store = ui.drawing_store(create=False)
    return store.training_images() if store is not None and store.count() else None


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
    st.markdown(f"**Data:** {info.name} · **validation:** {split['val_fraction']:.0%} of the pool, "
                f"split seed {split['split_seed']} (set on Preprocess; every run uses the same split, "
                "so runs compare fairly).")
    return True


def preset_row() -> None:
    left, right = st.columns([2, 3], vertical_alignment="bottom")
    left.selectbox("Preset", list(PRESETS), **ui.persistent(PRESET, DEFAULT_PRESET), on_change=on_preset,
                   help="Choosing a preset sets all the controls below.")
    modified = preset_values(ss[PRESET]) != current_values()  # (ss[PRESET] is set by persistent())
    with right:
        st.caption(PRESET_HELP[ss[PRESET]] + (" *Changed since you picked it.*" if modified else ""))
        if modified:
            st.button(f"↺ Back to “{ss[PRESET]}”", key="train_reset_preset", on_click=on_preset)


def slider(label: str, name: str, **kwargs: Any) -> None:
    """A slider whose options (a grid) or bounds and step come from the config field."""
    info = field_info(name)
    if info["grid"]:
        st.select_slider(label, info["grid"], format_func=lambda v: f"{v:g}", **control(name), **kwargs)
    else:
        st.slider(label, info["min"], info["max"], step=info["step"], **control(name), **kwargs)


def model_controls() -> str:
    st.markdown("**Model**")
    model = st.selectbox("Model family", MODEL_FAMILIES, format_func=MODEL_LABELS.get, **control("model"))
    if model == "mlp":
        slider("Hidden layers", "mlp_depth")
        slider("Units per layer", "mlp_width")
        st.selectbox("Activation", ACTIVATIONS, **control("activation"))
    elif model == "cnn":
        slider("Conv blocks", "cnn_blocks")
        slider("Channels (first block)", "cnn_channels")
    elif model == "logreg":
        st.caption("One linear layer: 784 pixels → 10 digit scores. Nothing else to choose.")
    else:
        st.caption("Nothing to learn: it counts the training labels and always answers the most "
                   "common digit. Every real model must beat it.")
    if model in ("mlp", "cnn"):
        st.toggle("Batch normalisation", **control("batch_norm"))
    return model


def optimizer_controls(trains: bool) -> None:
    st.markdown("**Optimisation**")
    st.selectbox("Optimizer", OPTIMIZERS, **control("optimizer"), disabled=not trains)
    slider("Learning rate", "lr", disabled=not trains)
    slider("Batch size", "batch_size", disabled=not trains)
    slider("Epochs", "epochs", disabled=not trains)


def regularization_controls(model: str) -> None:
    st.markdown("**Regularisation**")
    trains = model != "baseline"
    slider("Dropout", "dropout", disabled=model not in ("mlp", "cnn"))
    slider("Weight decay", "weight_decay", disabled=not trains)
    st.toggle("Augmentation", **control("augment"), disabled=not trains)
    slider("Early-stopping patience", "patience", disabled=not trains)


def data_controls(n_drawings: int) -> None:
    st.markdown("**Data & reproducibility**")
    st.number_input("Max training images (0 = all)", step=500, **control("max_train_samples"))
    st.number_input("Seed", step=1, **control("seed"))
    st.text_input("Run name (optional)", **ui.persistent(RUN_NAME, ""), max_chars=60,
                  placeholder="e.g. big MLP, no dropout")
    if n_drawings:
        st.checkbox(f"Train on the {n_drawings:,} collected drawings too", **ui.persistent(USE_DRAWINGS, False),
                    help="Your labelled drawings from the Deploy page are added to the training set "
                         "(never to validation), so the model learns your handwriting.")


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
    try:
        config = make_config()
    except ConfigError as exc:
        st.error(f"Check the settings: {exc}")
        return None
    n = models.parameter_count(config)  # built on the meta device: ~2 ms, no cache needed
    st.caption(f"**{config.summary()}** · {n:,} learned parameters · {config.optimizer}, "
               f"learning rate {config.lr:g}, batch {config.batch_size}, {config.epochs} epoch"
               f"{'s' * (config.epochs > 1)}")
    return config


def buttons(config: TrainConfig | None, data_ok: bool, running: bool) -> None:
    cols = st.columns([1.2, 1, 1.6, 3], vertical_alignment="center")
    cols[0].button("▶ Start training", type="primary", key="train_start", on_click=on_start,
                   disabled=running or config is None or not data_ok, width="stretch")
    cols[1].button("■ Stop", key="train_stop", disabled=True, width="stretch",  # nothing trains in this view
                   help="Stops within a second; the best weights so far are saved.")
    cols[2].button("🪜 Train the baseline ladder", key="train_ladder", on_click=on_ladder,
                   disabled=running or not data_ok, width="stretch",
                   help="Majority class → logistic regression → MLP → CNN, one after another on the "
                        "same split, then side by side.")
    if running:
        cols[3].caption("Another background job (a learning curve or a search) is running: Start is back "
                        "when it ends or you stop it on its page.")
    ui.show_flash()


def live_header() -> None:
    """While a training runs: Stop (and Start, back when it ends) in one row above the live view."""
    start, stop, note = st.columns([1.2, 1, 4.6], vertical_alignment="center")
    start.button("▶ Start training", type="primary", key="train_start", disabled=True, width="stretch")
    stop.button("■ Stop", key="train_stop", on_click=on_stop, width="stretch",
                help="Stops within a second; the best weights so far are saved.")
    note.caption("Training in the background: leave the page or reload, it goes on. Start is back "
                 "when it ends or you stop it.")
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
    ui.follow_job(job, lambda snap, live: training.show_job(snap, live, job.configs, on_apply), key="train")


# ---------------------------------------------------------------- the page


def main() -> None:
    job = ui.job_manager().job_of("train")
    running, training = ui.job_running(), job is not None and job.running
    ui.page("Train", None if training else "Pick a model and its hyperparameters, press Start and watch it "
            "learn. Training runs in the background: stop it any time, or leave the page and come back.")
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
