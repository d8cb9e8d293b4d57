"""Step 4 · Train: choose hyperparameters, train in the background, watch live curves, read the
diagnosis, compare saved runs.

The training itself runs in `mnist_core.jobs` (one job per server, shared by every session);
this page only wires widgets to it, draws `job.snapshot()` from a polling fragment, and reads
curves with `mnist_core.diagnose` / `mnist_core.charts`.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import streamlit as st

import ui
from mnist_core import charts, diagnose, models, storage
from mnist_core.collect import CollectError, DrawingStore
from mnist_core.config import (ACTIVATIONS, DEFAULT_PRESET, LADDER, MODEL_FAMILIES, MODEL_LABELS,
                               OPTIMIZERS, PRESET_HELP, PRESETS, ConfigError, TrainConfig, field_info)
from mnist_core.data import DataError, Images
from mnist_core.jobs import JobBusy, JobSnapshot, TrainingJob

ui.page("Train", "🏋️", "Pick a model and its hyperparameters, press Start and watch it learn. Training "
        "runs in the background: stop it any time, or leave the page and come back.")

# Every control's value lives in VALUES (a plain session key, so it survives page switches);
# the widget keys (W + name) are refilled from it whenever Streamlit has dropped them.
VALUES, W = "train_values", "train_w_"
FLASH, SHOWN, CONFIRM = "train_flash", "train_shown_job", "train_confirm_delete"
CONTROLS = ("model", "mlp_depth", "mlp_width", "activation", "cnn_blocks", "cnn_channels",
            "batch_norm", "optimizer", "lr", "batch_size", "epochs", "weight_decay", "dropout",
            "augment", "patience", "seed", "max_train_samples")
EXTRAS = {"preset": DEFAULT_PRESET, "run_name": "", "use_drawings": False}
LR_GRID = [float(f"{m * 10.0 ** e:.3g}") for e in range(-4, 0) for m in (1, 2, 5)] + [1.0]


def with_presets(name: str, grid: list) -> list:
    """The grid plus every preset, ladder and default value, so presets sit exactly on the slider."""
    used = {getattr(c, name) for c in (*PRESETS.values(), *(c for _, c in LADDER), TrainConfig())}
    return sorted(set(grid) | used)


CHOICES: dict[str, list] = {
    "lr": with_presets("lr", LR_GRID),
    "mlp_width": with_presets("mlp_width", [16, 32, 64, 128, 256, 512, 1024, 2048]),
    "cnn_channels": with_presets("cnn_channels", [4, 8, 16, 32, 64, 128]),
    "batch_size": with_presets("batch_size", [16, 32, 64, 128, 256, 512, 1024]),
    "weight_decay": with_presets("weight_decay", [0.0, 1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1]),
}
RANGES = {"mlp_depth": (1, 8), "cnn_blocks": (1, 4), "epochs": (1, 100), "dropout": (0.0, 0.9),
          "patience": (0, 20)}
DRAWINGS_DB = "drawings.db"
ss = st.session_state


# ---------------------------------------------------------------- control state

def preset_values(name: str) -> dict[str, Any]:
    config = PRESETS[name]
    return {k: snap(k, getattr(config, k)) for k in CONTROLS}


def snap(name: str, value: Any) -> Any:
    """Fit a value (from a preset, a diagnosis or a saved run) onto its widget's options/range."""
    if name in CHOICES and isinstance(value, (int, float)):
        def distance(option: float) -> float:
            return abs(math.log10(option + 1e-7) - math.log10(max(value, 0) + 1e-7))
        return min(CHOICES[name], key=distance)
    if name in RANGES:
        lo, hi = RANGES[name]
        return type(lo)(min(max(value, lo), hi))
    return value


def init_state() -> None:
    """Refill every widget from VALUES: Streamlit drops (or keeps stale) state of widgets not drawn."""
    if VALUES not in ss:
        ss[VALUES] = {**preset_values(DEFAULT_PRESET), **EXTRAS}
    for name, value in ss[VALUES].items():
        ss[W + name] = value


def bound(name: str) -> dict[str, Any]:
    """Widget kwargs: its key, and a callback that copies each change into VALUES at once."""
    return {"key": W + name, "on_change": sync, "args": (name,)}


def sync(name: str) -> None:
    ss[VALUES][name] = ss[W + name]


def current_values() -> dict[str, Any]:
    return dict(ss[VALUES])


def set_controls(changes: dict[str, Any]) -> None:
    """Set controls from code; only call from callbacks (before the widgets are drawn)."""
    for name, value in changes.items():
        if name in CONTROLS:
            ss[VALUES][name] = ss[W + name] = snap(name, value)


def on_preset() -> None:
    ss[VALUES]["preset"] = ss[W + "preset"]
    set_controls(preset_values(ss[W + "preset"]))


def on_apply(changes: dict[str, Any], what: str) -> None:
    set_controls(changes)
    flash("success", f"{what}: {diagnose.describe_changes(changes)}. Press Start to train with them.")


def flash(level: str, text: str) -> None:
    ss[FLASH] = (level, text)


def show_flash() -> None:
    if FLASH in ss:
        level, text = ss.pop(FLASH)
        {"success": st.success, "warning": st.warning, "error": st.error}.get(level, st.info)(text)


def make_config(values: dict[str, Any]) -> TrainConfig:
    return TrainConfig(**{k: values[k] for k in CONTROLS}, **ui.split_settings())


# ---------------------------------------------------------------- starting and stopping

def start_job(configs: list[TrainConfig], names: list[str], use_drawings: bool) -> None:
    try:
        extra = collected_images() if use_drawings else None
        ui.job_manager().start(configs, names, data=ui.data_spec(), extra=extra)
    except JobBusy as exc:
        flash("warning", f"{exc} Only one training runs at a time (two would share the same CPU).")
    except (CollectError, DataError) as exc:
        flash("error", str(exc))


def on_start() -> None:
    values = current_values()
    try:
        config = make_config(values)
    except ConfigError as exc:
        flash("error", f"Not started: {exc}")
        return
    name = values["run_name"].strip()
    if not name and preset_values(values["preset"]) == {k: values[k] for k in CONTROLS}:
        name = values["preset"]
    start_job([config], [name], values["use_drawings"])


def on_ladder() -> None:
    try:
        configs = [config.replace(**ui.split_settings()) for _, config in LADDER]
    except ConfigError as exc:
        flash("error", f"Not started: {exc}")
        return
    start_job(configs, [name for name, _ in LADDER], current_values()["use_drawings"])


def on_stop() -> None:
    ui.job_manager().stop()


def collected_images() -> Images | None:
    return DrawingStore(ui.home() / DRAWINGS_DB).training_images() if drawings_count() else None


def drawings_count() -> int:
    path = ui.home() / DRAWINGS_DB
    if not path.is_file():  # opening a store would create the file
        return 0
    try:
        return DrawingStore(path).count()
    except CollectError as exc:
        st.warning(f"The collected drawings cannot be read: {exc}")
        return 0


# ---------------------------------------------------------------- settings

def helped(name: str) -> str:
    return field_info(name)["help"]


def fmt_number(value: float) -> str:
    return f"{value:g}"


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
    left.selectbox("Preset", list(PRESETS), key=W + "preset", on_change=on_preset,
                   help="Choosing a preset sets all the controls below.")
    preset = ss[W + "preset"]
    modified = preset_values(preset) != {k: ss[VALUES][k] for k in CONTROLS}
    with right:
        st.caption(PRESET_HELP[preset] + (" *Changed since you picked it.*" if modified else ""))
        if modified:
            st.button(f"↺ Back to “{preset}”", key="train_reset_preset", on_click=on_preset)


def model_controls() -> str:
    st.markdown("**Model**")
    model = st.selectbox("Model family", MODEL_FAMILIES, **bound("model"), format_func=MODEL_LABELS.get,
                         help=helped("model"))
    if model == "mlp":
        st.slider("Hidden layers", *RANGES["mlp_depth"], **bound("mlp_depth"), help=helped("mlp_depth"))
        st.select_slider("Units per layer", CHOICES["mlp_width"], **bound("mlp_width"),
                         help=helped("mlp_width"))
        st.selectbox("Activation", ACTIVATIONS, **bound("activation"), help=helped("activation"))
    elif model == "cnn":
        st.slider("Conv blocks", *RANGES["cnn_blocks"], **bound("cnn_blocks"), help=helped("cnn_blocks"))
        st.select_slider("Channels (first block)", CHOICES["cnn_channels"], **bound("cnn_channels"),
                         help=helped("cnn_channels"))
    elif model == "logreg":
        st.caption("One linear layer: 784 pixels → 10 digit scores. Nothing else to choose.")
    else:
        st.caption("Nothing to learn: it counts the training labels and always answers the most "
                   "common digit. Every real model must beat it.")
    if model in ("mlp", "cnn"):
        st.toggle("Batch normalisation", **bound("batch_norm"), help=helped("batch_norm"))
    return model


def optimizer_controls(trains: bool) -> None:
    st.markdown("**Optimisation**")
    st.selectbox("Optimizer", OPTIMIZERS, **bound("optimizer"), help=helped("optimizer"), disabled=not trains)
    st.select_slider("Learning rate", CHOICES["lr"], **bound("lr"), format_func=fmt_number,
                     help=helped("lr") + " Log scale: small steps at the low end.", disabled=not trains)
    st.select_slider("Batch size", CHOICES["batch_size"], **bound("batch_size"), help=helped("batch_size"),
                     disabled=not trains)
    st.slider("Epochs", *RANGES["epochs"], **bound("epochs"), help=helped("epochs"), disabled=not trains)


def regularization_controls(model: str) -> None:
    st.markdown("**Regularisation**")
    trains = model != "baseline"
    st.slider("Dropout", *RANGES["dropout"], step=0.05, **bound("dropout"), help=helped("dropout"),
              disabled=model not in ("mlp", "cnn"))
    st.select_slider("Weight decay", CHOICES["weight_decay"], **bound("weight_decay"),
                     format_func=fmt_number, help=helped("weight_decay"), disabled=not trains)
    st.toggle("Augmentation", **bound("augment"), help=helped("augment"), disabled=not trains)
    st.slider("Early-stopping patience", *RANGES["patience"], **bound("patience"),
              help=helped("patience"), disabled=not trains)


def data_controls(n_drawings: int) -> None:
    st.markdown("**Data & reproducibility**")
    st.number_input("Max training images (0 = all)", step=500, **bound("max_train_samples"),
                    help=helped("max_train_samples"))
    st.number_input("Seed", step=1, **bound("seed"), help=helped("seed"))
    st.text_input("Run name (optional)", **bound("run_name"), max_chars=60,
                  placeholder="e.g. big MLP, no dropout")
    if n_drawings:
        st.checkbox(f"Train on the {n_drawings:,} collected drawings too", **bound("use_drawings"),
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
        config = make_config(ss[VALUES])
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
    cols[1].button("■ Stop", key="train_stop", on_click=on_stop, disabled=not running, width="stretch",
                   help="Stops within a second; the best weights so far are saved.")
    cols[2].button("🪜 Train the baseline ladder", key="train_ladder", on_click=on_ladder,
                   disabled=running or not data_ok, width="stretch",
                   help="Majority class → logistic regression → MLP → CNN, one after another on the "
                        "same split, then side by side.")
    if running:
        cols[3].caption("A job is training; Start is back when it ends or you stop it.")
    show_flash()


# ---------------------------------------------------------------- the job and its curves

def show_job(job: TrainingJob, live: bool) -> None:
    snapshot = job.snapshot()
    labels = [name or config.summary() for name, config in zip(snapshot.names, job.configs)]
    bar = diagnose.progress(snapshot, labels)
    if snapshot.error:
        st.error(f"Training failed: {snapshot.error}")
    elif live:
        st.progress(bar.fraction, text=("Stopping… " if snapshot.stop_requested else "") + bar.text)
    if len(snapshot.names) > 1:
        show_ladder(snapshot, labels)
    run = min(snapshot.current, len(job.configs) - 1)
    if live or len(snapshot.names) == 1:
        show_run(snapshot, run, job.configs[run], labels[run], live, key=f"job_{snapshot.id}_{run}")


def show_run(snapshot: JobSnapshot, run: int, config: TrainConfig, label: str, live: bool,
             key: str) -> None:
    epochs = snapshot.epochs(run)
    batches = [r for r in snapshot.records if r["kind"] == "batch" and r["run"] == run]
    end, saved = snapshot.latest("end", run), snapshot.latest("saved", run)
    st.markdown(f"#### {label}")
    metrics(epochs)
    curves(epochs, batches, config.epochs)
    if end is not None:
        show_end(end["status"], end["message"])
        if saved is None and not (live and snapshot.state == "running"):
            st.warning("Nothing was saved: the run stopped before it had learned anything.")
    if saved is not None:
        st.caption(f"Saved as run `{saved['run_id']}`.")
    if epochs or (live and not snapshot.error):
        status = end["status"] if end else None
        show_diagnosis(diagnose.diagnose(epochs, config, status), interactive=end is not None and not live,
                       key=key)


def metrics(epochs: list[dict]) -> None:
    if not epochs:
        return
    last, prev = epochs[-1], (epochs[-2] if len(epochs) > 1 else None)
    best = min(epochs, key=lambda e: e["val_loss"] if math.isfinite(e["val_loss"]) else math.inf)

    def delta(key: str) -> str | None:
        if prev is None or not math.isfinite(last[key] - prev[key]):
            return None
        d = last[key] - prev[key]
        return f"{d * 100:+.1f} pts" if key.endswith("acc") else f"{d:+.2g}"

    cols = st.columns(5)
    cols[0].metric("Epoch", f"{last['epoch']} / {last['epochs']}")
    cols[1].metric("Train loss", diagnose.fmt_loss(last["train_loss"]), delta("train_loss"),
                   delta_color="inverse")
    cols[2].metric("Validation loss", diagnose.fmt_loss(last["val_loss"]), delta("val_loss"),
                   delta_color="inverse")
    cols[3].metric("Validation accuracy", f"{last['val_acc']:.1%}", delta("val_acc"),
                   help="Of the latest epoch.")
    cols[4].metric("Kept: best epoch", f"{best['epoch']} · {best['val_acc']:.1%}",
                   help="The epoch with the lowest validation loss: its weights are the ones saved.")


def curves(epochs: list[dict], batches: list[dict], total_epochs: int | None) -> None:
    if not epochs and not batches:
        return
    left, right = st.columns(2)
    # Specs with only the data swapped: redrawn twice a second while training, they must be cheap.
    left.vega_lite_chart(charts.curves_spec("loss", epochs, batches, total_epochs), width="stretch")
    if epochs:
        right.vega_lite_chart(charts.curves_spec("acc", epochs, (), total_epochs), width="stretch")
    else:
        right.info("The accuracy curves start when the first epoch ends; the faint line on the left "
                   "is the running training loss of this epoch.")


def show_end(status: str, message: str) -> None:
    show = {"finished": st.success, "early_stopped": st.info, "stopped": st.info,
            "diverged": st.error}.get(status, st.info)
    show(message or status)


def show_diagnosis(d: diagnose.Diagnosis, interactive: bool, key: str) -> None:
    box = {"success": st.success, "warning": st.warning, "error": st.error}.get(d.level, st.info)
    heading = f"**{'So far: ' if d.preliminary and d.kind not in ('waiting', 'too_early') else ''}{d.title}.**"
    text = f"{heading} {d.detail}" + (f"\n\n**Try this:** {d.advice}" if d.advice else "")
    box(text, icon="🩺")
    if d.changes and interactive:
        st.button(f"Try this: {diagnose.describe_changes(d.changes)}", key=f"train_apply_{key}",
                  on_click=on_apply, args=(d.changes, "Applied the suggestion"))


def show_ladder(snapshot: JobSnapshot, labels: list[str]) -> None:
    st.markdown("#### Baseline ladder: the same split, ever more capable models")
    done = {r["run"]: r["val_accuracy"] for r in snapshot.records if r["kind"] == "saved"}
    if done:
        rows = [(labels[i], done[i]) for i in sorted(done)]
        histories = {labels[i]: snapshot.epochs(i) for i in sorted(done)}
        bars, overlay = ladder_specs(snapshot.id, tuple(sorted(done)), ui.target_accuracy(), rows, histories)
        left, right = st.columns(2)
        left.vega_lite_chart(bars, width="stretch")
        right.vega_lite_chart(overlay, width="stretch")
        st.caption(f"Each rung should clear the one below it; a model that cannot beat logistic "
                   f"regression is not worth its extra complexity. Dashed line: your target "
                   f"({ui.target_accuracy():.0%}, set on Define the task).")


@st.cache_data(max_entries=16, show_spinner=False)
def ladder_specs(job_id: str, done: tuple[int, ...], target: float, _rows: list,
                 _histories: dict) -> tuple[dict, dict]:
    """Built once per finished rung (keyed by job and rungs), not on every poll."""
    return (charts.accuracy_bars(_rows, target).to_dict(),
            charts.overlay_chart(_histories, "loss", height=240).to_dict())


def show_saved_run(run: storage.Run) -> None:
    """Without a job in this server (e.g. after a restart): the latest saved run."""
    st.markdown(f"#### Latest run: {run.label}")
    metrics(run.history)
    curves(run.history, [], None)
    show_end(run.meta.get("status", ""), run.meta.get("message", ""))
    show_diagnosis(diagnose.diagnose(run.history, run.config, run.meta.get("status", "finished")),
                   interactive=True, key=f"run_{run.id}")


def job_section(job: TrainingJob | None, running: bool) -> None:
    st.subheader("Training")
    if job is None:
        latest = storage.latest_run()
        if latest is None:
            st.info("No training yet: pick a preset and press **Start training**.")
        else:
            show_saved_run(latest)
        return
    if not running:
        ss[SHOWN] = job.id
        show_job(job, live=False)
        return

    @st.fragment(run_every=0.5)
    def live() -> None:
        show_job(job, live=job.running)
        if not job.running and ss.get(SHOWN) != job.id:
            ss[SHOWN] = job.id
            st.rerun()  # a full run re-enables Start and stops the polling

    live()


# ---------------------------------------------------------------- run history

def run_label(run: storage.Run) -> str:
    return f"{run.meta.get('name') or run.config.summary()} · {run.id[-4:]}"


def on_delete(ids: list[str]) -> None:
    ss[CONFIRM] = ids


def on_confirm_delete() -> None:
    ids, failed = ss.pop(CONFIRM, []), []
    for run_id in ids:
        try:
            storage.delete_run(run_id)
        except storage.StorageError as exc:
            failed.append(str(exc))
    if failed:
        flash("error", "Some runs could not be deleted: " + " ".join(failed))
    else:
        flash("success", f"Deleted {len(ids)} run{'s' * (len(ids) != 1)}.")


def on_cancel_delete() -> None:
    ss.pop(CONFIRM, None)


def history_section() -> None:
    st.subheader("Run history")
    runs = ui.runs()
    if not runs:
        st.info("Every run you train is saved here, with its settings and curves.")
        return
    ids = "".join(r.id for r in runs)
    # The key changes with the set of runs, so a selection never points at shifted rows.
    key = "train_runs_" + hashlib.sha1(ids.encode()).hexdigest()[:10]
    event = st.dataframe(
        charts.runs_table(runs), key=key, on_select="rerun", selection_mode="multi-row",
        hide_index=True, column_config=TABLE_COLUMNS, height=min(38 + 35 * len(runs), 400))
    selected = [runs[i] for i in event.selection.rows if i < len(runs)]
    if selected:
        compare = selected
        st.caption(f"{len(selected)} selected.")
    else:
        compare = runs[:3]
        st.caption("Tick rows (left edge of the table) to compare their curves, load their settings "
                   "or delete them. Showing the latest runs:")
    histories = {run_label(r): r.history for r in compare}
    left, right = st.columns(2)
    left.altair_chart(charts.overlay_chart(histories, "loss"), width="stretch")
    right.altair_chart(charts.overlay_chart(histories, "acc"), width="stretch")
    if selected:
        history_actions(selected)


def history_actions(selected: list[storage.Run]) -> None:
    cols = st.columns([1.4, 1.4, 4])
    if len(selected) == 1:
        values = {k: getattr(selected[0].config, k) for k in CONTROLS}
        cols[0].button("Load its settings", key="train_load_run", on_click=on_apply,
                       args=(values, f"Loaded the settings of {run_label(selected[0])}"))
    cols[1].button(f"🗑 Delete {len(selected)} selected", key="train_delete", on_click=on_delete,
                   args=([r.id for r in selected],))
    pending = ss.get(CONFIRM)
    if pending:
        st.warning(f"Delete {len(pending)} run{'s' * (len(pending) != 1)} for good? Their weights, "
                   "curves and evaluations are removed from disk.")
        yes, no, _ = st.columns([1.4, 1, 4])
        yes.button("Yes, delete", type="primary", key="train_confirm", on_click=on_confirm_delete)
        no.button("Cancel", key="train_cancel", on_click=on_cancel_delete)


TABLE_COLUMNS = {
    "val accuracy": st.column_config.ProgressColumn("val accuracy", format="percent",
                                                    min_value=0.0, max_value=1.0),
    "lr": st.column_config.NumberColumn("lr", format="%g"),
    "weight decay": st.column_config.NumberColumn("weight decay", format="%g"),
    "seconds": st.column_config.NumberColumn("seconds", format="%.1f"),
    "created": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm:ss"),
    "of": st.column_config.NumberColumn("of", help="Epochs configured"),
    "epochs": st.column_config.NumberColumn("epochs", help="Epochs trained"),
    "id": None,  # hidden: the folder name, not for people
}


# ---------------------------------------------------------------- the page

def main() -> None:
    init_state()
    data_ok = data_line()
    config = settings(drawings_count())
    job = ui.job_manager().job
    running = job is not None and job.running
    buttons(config, data_ok, running)
    job_section(job, running)
    history_section()


main()
