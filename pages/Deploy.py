"""Step 6 · Deploy: draw a digit and the model answers at once; label its answers, measure drift
on the collected drawings, export the model.

The drawing and its answer are one fragment (`ui.deploy.draw_view`): a stroke reruns only that,
with the model and each input's prediction cached. Above it, one line says what the model is
and how far to trust it, with the details on demand, so the canvas, the answer and its
probabilities fit a 1280×720 screen together. Without any model, one click trains the quick
demo model, drawn live by `ui.follow_job` and `ui.training`.
"""

from __future__ import annotations

import json

import streamlit as st

import ui
from mnist_core import config
from mnist_core.deploy import export
from mnist_core.jobs.job import JobBusy, JobState
from mnist_core.runs import storage
from mnist_core.runs.files import StorageError
from ui import deploy, deploy_collected, monitor, training
from ui import state as keys

TABS = ("✏️ Draw & predict", "🗂️ Collected data", "📡 Monitor", "📦 Export")


# ---------------------------------------------------------------- no model yet: quick training


def start_quick_training() -> None:
    try:
        ui.job_manager().start([config.quick_config()], ["quick demo model"], data=ui.data_spec())
    except JobBusy as exc:
        ui.flash("warning", str(exc))


def quick_train_section() -> None:
    """A demo never starts empty: one click trains a short version of the default preset."""
    job = ui.job_manager().job_of("train")
    running = job is not None and job.running
    quick = config.quick_config()
    st.info(
        "No trained model yet. Train a quick one now (a few seconds on the offline sample), "
        "or a full one on the Train page.",
        icon="⚡",
    )
    ui.show_flash()
    if not running:
        st.button(
            f"⚡ Train a quick model ({quick.summary()}, {quick.epochs} epochs)",
            type="primary",
            key=keys.DEPLOY_QUICK_TRAIN,
            on_click=start_quick_training,
        )
        ui.link("Train", "Train a model with your own settings")
    # a finished job's model is listed already; only a live, stopped or failed job is shown
    if job is not None and (running or job.snapshot().state != JobState.FINISHED):
        ui.follow_job(
            job, lambda snap, live: training.show_job(snap, live, job.configs), key=keys.DEPLOY_FOLLOW
        )


# ---------------------------------------------------------------- the model


def model_section(runs: list[storage.Run]) -> storage.Run:
    """The model picker, one line on how far to trust it, and the details on demand."""
    by_id = {r.id: r for r in runs}
    pick, line, more = st.columns([2.2, 3.2, 0.9], vertical_alignment="center")
    run = by_id[
        pick.selectbox(
            "Model",
            list(by_id),
            format_func=lambda i: by_id[i].label,
            key=keys.DEPLOY_RUN,
            label_visibility="collapsed",
        )
    ]
    # markdown, not a caption: presenter mode hides teaching captions, never this warning
    line.markdown(
        f":small[{accuracy_words(run)} on held-out MNIST digits; anything else still gets "
        "*some* digit: read the confidence.]"
    )
    with more.popover("ℹ️ Details", help="What this model is and how far to trust its answers"):
        honesty_details(run)
    if run.config.model == "baseline":
        st.warning("This is the majority-class baseline: it ignores the drawing and always answers the same.")
    return run


def accuracy_words(run: storage.Run) -> str:
    val, test = run.meta.get("val_accuracy"), run.meta.get("test_accuracy")
    words = (
        f"validation accuracy **{val:.1%}**" if isinstance(val, (int, float)) else "no validation accuracy"
    )
    return words + (f", test **{test:.1%}**" if isinstance(test, (int, float)) else "")


def honesty_details(run: storage.Run) -> None:
    data = run.meta.get("data_name") or "MNIST"
    st.markdown(f"**{run.label}**")
    st.markdown(
        f"This model: {accuracy_words(run)} on images held out from its training data, {data}. "
        "It has seen only MNIST-style digits — one handwritten digit, white on black, centred. "
        "Anything else (letters, two digits, a doodle) still gets *some* digit, so read the "
        "confidence: it is the model's own score, not a guarantee."
    )
    facts = [f"{run.config.summary()}", f"{run.meta.get('epochs_run', '?')} epochs"]
    if isinstance(run.meta.get("parameters"), int):
        facts.append(f"{run.meta['parameters']:,} parameters")
    st.caption(" · ".join(facts) + ". Every saved run is in the list, the newest first.")


# ---------------------------------------------------------------- export


@st.cache_data(max_entries=16, show_spinner=False)
def export_problem(run_path: str, version: float) -> str | None:
    """Why the run's weights cannot be exported (checked once per weights file), or None."""
    return export.check_run_exportable(storage.load_run(run_path))


@st.cache_data(max_entries=8, show_spinner="Exporting to ONNX and checking it against PyTorch…")
def onnx_export(run_path: str, version: float) -> tuple[bytes, float]:
    """ONNX bytes of a run and the max logit difference to PyTorch; cached per run and weights file."""
    model = storage.load_run(run_path).load_model()
    data = export.export_onnx(model)
    return data, export.check_onnx(data, model)


def build_onnx(run_id: str) -> None:
    st.session_state.setdefault(keys.DEPLOY_ONNX_BUILT, set()).add(run_id)


def export_tab(run: storage.Run) -> None:
    st.markdown(f"**{run.label}**")
    weights = b""
    try:
        problem = export_problem(str(run.path), ui.run_version(run))
        if problem is None:
            weights = storage.export_weights(run)
    except (StorageError, OSError) as exc:
        problem = f"The weights file cannot be read ({exc}). Train the run again."
    if problem is not None:
        st.error(f"Nothing to export from this run: {problem}")
        return
    weights_col, config_col, onnx_col = st.columns(3)
    weights_col.download_button(
        "⬇️ Weights (.safetensors)",
        weights,
        file_name=f"{run.id}.safetensors",
        mime="application/octet-stream",
        key=keys.DEPLOY_DL_WEIGHTS,
    )
    config_col.download_button(
        "⬇️ Config (.json)",
        json.dumps(run.config.to_dict(), indent=2),
        file_name=f"{run.id}.config.json",
        mime="application/json",
        key=keys.DEPLOY_DL_CONFIG,
    )
    with onnx_col:
        onnx_download(run)
    st.markdown(
        "The weights load into the model that the config describes (`mnist_core.training.models.build_model`); "
        "the ONNX file runs anywhere onnxruntime does, without PyTorch."
    )
    st.code(
        "import numpy as np, onnxruntime as ort\n"
        f"session = ort.InferenceSession('{run.id}.onnx')\n"
        "# x: float32 (N, 1, 28, 28) in [0, 1], white digit on black, MNIST-centred\n"
        "# (mnist_core.data.drawing.prepare_digit does exactly this)\n"
        "logits = session.run(['logits'], {'image': x})[0]\n"
        "digits = logits.argmax(axis=1)",
        language="python",
    )


def onnx_download(run: storage.Run) -> None:
    """Build the ONNX file on request (seconds), then offer it with its check."""
    built = st.session_state.get(keys.DEPLOY_ONNX_BUILT, set())
    if run.id not in built:
        st.button(
            "🔧 Build the ONNX file",
            key=keys.DEPLOY_BUILD_ONNX,
            help="Takes a few seconds.",
            on_click=build_onnx,
            args=(run.id,),
        )
        return
    try:
        data, diff = onnx_export(str(run.path), ui.run_version(run))
    except (export.ExportError, StorageError, OSError) as exc:
        st.error(str(exc))
        built.discard(run.id)
        return
    st.download_button(
        "⬇️ ONNX model (.onnx)",
        data,
        file_name=f"{run.id}.onnx",
        mime="application/octet-stream",
        key=keys.DEPLOY_DL_ONNX,
        type="primary",
    )
    st.caption(f"Checked with onnxruntime: the logits match PyTorch within {diff:.1e}.")


# ---------------------------------------------------------------- the page


def main() -> None:
    ui.page(
        "Deploy",
        "Draw a digit and the model answers at once; tell it whether it was right, "
        "see how it does on real drawings, take it with you.",
    )
    runs = ui.runs()
    if not runs:
        quick_train_section()
        return
    ui.show_flash()
    current = model_section(runs)
    store = ui.drawing_store()
    draw, collected, watch, exported = st.tabs(TABS, key=keys.DEPLOY_TAB, on_change="rerun")
    # lazy tabs: only the open one runs; within it, a stroke reruns only the drawing fragment
    if draw.open:
        with draw:
            deploy.draw_view(current, store)
    if collected.open:
        with collected:
            deploy_collected.collected_tab(store, runs, current)
    if watch.open:
        with watch:
            monitor.monitor_tab(store, current)
    if exported.open:
        with exported:
            export_tab(current)


main()
