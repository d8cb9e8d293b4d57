"""Deploy: draw a digit and the model answers at once; label its answers; measure drift; export the model."""

from __future__ import annotations

import json
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st
from streamlit_drawable_canvas import st_canvas

import ui
from mnist_core import export, storage
from mnist_core.collect import CollectError, DrawingStore
from mnist_core.drawing import UPLOAD_TYPES, ImageError, load_image_file
from mnist_core.jobs import JobBusy
from mnist_core.predict import (Prediction, digit_gaps, enlarge, field_summary, fingerprint,
                                percent, png_bytes, predict_digit, prepare_upload, quick_config, verdict)

CANVAS_PX = 280  # 10× MNIST: big enough to draw comfortably, small enough to prepare in a blink
UPLOAD_MB = 5
GRID_LIMIT = 48  # drawings shown in the grid; the downloads hold all of them
TABS = ("✏️ Draw & predict", "🗂️ Collected data", "📦 Export")
STAGE_HELP = {
    "ink": "Your ink",
    "cropped": "Cropped to the ink",
    "fitted": "Fitted into 20×20",
    "centered": "28×28, centre of mass in the middle",
}
SURE, UNSURE, OTHER = "#2f855a", "#c77d0a", "#b8c2cf"


# ---------------------------------------------------------------- state shared between reruns


def flash(message: str, icon: str = "✅") -> None:
    """Queue a toast for the next run (callbacks run before the page, whose rerun would drop it)."""
    st.session_state["deploy_flash"] = (message, icon)


def show_flash() -> None:
    message = st.session_state.pop("deploy_flash", None)
    if message:
        st.toast(message[0], icon=message[1])


def saved_map() -> dict[str, tuple[int, int]]:
    """fingerprint of a drawing → (entry id, label) for drawings this session already stored."""
    return st.session_state.setdefault("deploy_saved", {})


def open_store() -> DrawingStore | None:
    try:
        return DrawingStore(ui.home() / "drawings.db")
    except CollectError as exc:
        st.error(f"Collecting drawings is off: {exc}")
        return None


# ---------------------------------------------------------------- no model yet: quick training


def quick_train_panel() -> None:
    """A demo never starts empty: one click trains a short version of the default preset."""
    manager = ui.job_manager()
    job = manager.job
    running = job is not None and job.running
    cfg = quick_config()
    st.info("No trained model yet. Train a quick one now (a few seconds on the offline sample), "
            "or a full one on the Train page.", icon="⚡")
    if not running:
        if st.button(f"⚡ Train a quick model ({cfg.summary()}, {cfg.epochs} epochs)", type="primary",
                     key="deploy_quick_train"):
            try:
                manager.start([cfg], ["quick demo model"], data=ui.data_spec())
            except JobBusy as exc:
                flash(str(exc), "⏳")
            st.rerun()  # start polling the job's progress
        ui.link("Train", "Train a model with your own settings")
    if job is not None and (running or job.snapshot().state != "finished"):
        job_progress(job, running)  # a finished job's model is already listed; only live or failed jobs show


def job_progress(job, running: bool) -> None:
    @st.fragment(run_every=0.5 if running else None)
    def live() -> None:
        snap = job.snapshot()
        batch = snap.latest("batch")
        done = 1.0 if snap.state == "finished" else float(batch["progress"]) if batch else 0.0
        epoch = snap.latest("epoch")
        text = f"Training “{snap.names[snap.current] or 'model'}”"
        if epoch:
            text += f": epoch {epoch['epoch']}/{epoch['epochs']}, validation accuracy {epoch['val_acc']:.1%}"
        st.progress(min(max(done, 0.0), 1.0), text=text)
        if snap.state == "failed":
            st.error(f"Training failed: {snap.error}")
        elif snap.state == "stopped" and not snap.saved:
            st.warning("Training was stopped before a model was saved.")
        if not job.running and st.session_state.get("deploy_job_shown") != job.id:
            st.session_state["deploy_job_shown"] = job.id
            st.rerun()  # a full rerun picks up the new run and stops the polling

    live()


# ---------------------------------------------------------------- the model


def pick_run(runs: list[storage.Run]) -> storage.Run:
    by_id = {r.id: r for r in runs}
    run_id = st.selectbox("Model", list(by_id), format_func=lambda i: by_id[i].label, key="deploy_run",
                          help="Every saved run; the newest is selected first.")
    return by_id[run_id]


def honesty_note(run: storage.Run) -> None:
    val, test = run.meta.get("val_accuracy"), run.meta.get("test_accuracy")
    parts = [f"validation accuracy **{val:.1%}**" if isinstance(val, (int, float)) else "no validation accuracy"]
    if isinstance(test, (int, float)):
        parts.append(f"test accuracy **{test:.1%}**")
    data = run.meta.get("data_name") or "MNIST"
    st.caption(f"This model: {', '.join(parts)} on images held out from its training data, {data}. "
               "It has seen only MNIST-style digits — one handwritten digit, white on black, centred. "
               "Anything else (letters, two digits, a doodle) still gets *some* digit, so read the confidence: "
               "it is the model's own score, not a guarantee.")
    if run.config.model == "baseline":
        st.warning("This is the majority-class baseline: it ignores the drawing and always answers the same.")


# ---------------------------------------------------------------- draw and predict


def clear_canvas() -> None:
    st.session_state["deploy_canvas_n"] = st.session_state.get("deploy_canvas_n", 0) + 1


def canvas_input() -> tuple[Any, bytes | None]:
    """The canvas: (RGBA array or None, its PNG bytes); the script reruns when a stroke ends."""
    pen = st.slider("Pen width", 8, 40, 20, key="deploy_pen", persist_state="session",
                    help="MNIST strokes are thick: about a tenth of the digit's height.")
    with st.container(border=True, width=CANVAS_PX + 40):
        result = st_canvas(stroke_width=pen, stroke_color="#1f2a37", background_color="",
                           height=CANVAS_PX, width=CANVAS_PX, drawing_mode="freedraw",
                           return_image_data=True, key=f"deploy_canvas_{st.session_state.get('deploy_canvas_n', 0)}")
    st.button("🧽 Clear", on_click=clear_canvas, key="deploy_clear")
    return result.image_data, result.image_bytes


def upload_input() -> tuple[Any, bytes | None]:
    """An uploaded photo or scan: (PreparedDigit or None, the file's bytes)."""
    file = st.file_uploader(f"A photo or scan of one digit (PNG, JPEG…, up to {UPLOAD_MB} MB)",
                            type=list(UPLOAD_TYPES), key="deploy_upload", max_upload_size=UPLOAD_MB)
    st.caption("Works best with one dark digit on plain light paper, filling most of the picture.")
    if file is None:
        return None, None
    data = file.getvalue()
    try:
        return prepare_upload(data, max_bytes=UPLOAD_MB * 1_000_000), data
    except ImageError as exc:
        st.error(str(exc))
        return None, None


def probability_chart(p: Prediction) -> alt.Chart:
    colour = UNSURE if p.is_unsure else SURE
    roles = ["answer" if d == p.digit else "runner-up" if p.is_unsure and d == p.runner_up else "other"
             for d in range(10)]
    df = pd.DataFrame({"digit": [str(d) for d in range(10)], "probability": p.probabilities, "role": roles,
                       "label": [percent(float(v)) if v >= 0.01 else "" for v in p.probabilities]})
    base = alt.Chart(df).encode(
        x=alt.X("digit:N", sort=None, title=None, axis=alt.Axis(labelAngle=0, labelFontSize=14)),
        y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), title=None, axis=alt.Axis(format="%")),
        tooltip=["digit", alt.Tooltip("probability:Q", format=".1%")],
    )
    bars = base.mark_bar(cornerRadiusTopLeft=4, cornerRadiusTopRight=4).encode(
        color=alt.Color("role:N", legend=None, scale=alt.Scale(
            domain=["answer", "runner-up", "other"], range=[colour, "#e8b04a", OTHER])))
    labels = base.mark_text(dy=-8, fontSize=12).encode(text="label:N")
    return (bars + labels).properties(height=230, title="Probability of each digit")


def show_answer(p: Prediction, prompt: str, hint: str) -> None:
    if p.is_blank:
        st.markdown("<div style='font-size:2.4rem;font-weight:700;opacity:.55;padding:2.5rem 0'>"
                    f"{prompt}</div>", unsafe_allow_html=True)
        st.caption(hint)
        return
    colour = UNSURE if p.is_unsure else SURE
    mark = "?" if p.is_unsure else ""
    answer, seen = st.columns([1, 1], vertical_alignment="center")
    answer.markdown(f"<div class='deploy-answer' style='font-size:7rem;font-weight:800;line-height:1;"
                    f"color:{colour}'>{p.digit}{mark}</div>", unsafe_allow_html=True)
    seen.image(enlarge(p.prepared.image, 112), caption="What the model saw (28×28)")
    (st.warning if p.is_unsure else st.success)(verdict(p))
    st.altair_chart(probability_chart(p), width="stretch")
    with st.expander("How your drawing became the model's input"):
        cols = st.columns(len(STAGE_HELP))
        for col, (stage, caption) in zip(cols, STAGE_HELP.items()):
            col.image(enlarge(p.prepared.stages[stage], 120), caption=caption)
        st.caption("The same steps built MNIST itself: crop the ink, scale it into 20×20 keeping its shape, "
                   "then place it in 28×28 so its centre of mass sits in the middle.")


def save_drawing(store_path: str, payload: dict, label: int) -> None:
    """Button callback: store one labelled drawing once, remember it, queue a toast."""
    key = payload["fingerprint"]
    if key in saved_map():
        return  # a double click, or a rerun replaying the click
    raw, source = payload["raw"], payload["source"]
    try:
        # the canvas PNG is already the original; an upload is re-encoded small (it may be a 5 MB photo)
        original = raw if source == "canvas" else png_bytes(load_image_file(raw))
        entry = DrawingStore(store_path).add(
            image28=payload["image28"], true_label=label, predicted=payload["predicted"],
            confidence=payload["confidence"], model=payload["model"], original_png=original, source=source)
    except (CollectError, ImageError) as exc:
        flash(f"Not saved: {exc}", "⚠️")
        return
    saved_map()[key] = (entry, label)
    right = "the model was right" if label == payload["predicted"] else f"the model said {payload['predicted']}"
    flash(f"Saved as a {label} ({right}). Draw the next one!")


def undo_save(store_path: str, key: str) -> None:
    entry, _ = saved_map().get(key, (None, None))
    if entry is None:
        return
    try:
        DrawingStore(store_path).delete(entry)
    except CollectError as exc:
        flash(f"Not removed: {exc}", "⚠️")
        return
    saved_map().pop(key, None)
    flash(f"Removed drawing #{entry}.", "🗑️")


def label_panel(store: DrawingStore, p: Prediction, run: storage.Run, source: str, raw: bytes) -> None:
    """“Correct” or “It was a …”: each label stores the drawing once, for field accuracy and training."""
    key = fingerprint(raw)
    done = saved_map().get(key)
    path = str(store.path)
    if done is not None:
        try:
            store.get(done[0])
        except CollectError:  # deleted in the Collected data tab meanwhile
            saved_map().pop(key, None)
            done = None
    if done is not None:
        st.success(f"Saved as a **{done[1]}** (drawing #{done[0]}). Clear the canvas and draw the next one.")
        st.button("↩️ Undo", on_click=undo_save, args=(path, key), key="deploy_undo")
        return
    payload = {"fingerprint": key, "image28": p.prepared.stages["centered"], "predicted": p.digit,
               "confidence": p.confidence, "model": run.id, "raw": raw, "source": source}
    st.markdown("**Was it right?** Your label measures the model in the field and can become training data.")
    st.button(f"✓ Correct, it is a {p.digit}", type="primary", key="deploy_correct",
              on_click=save_drawing, args=(path, payload, p.digit))
    st.caption("It was a …")
    for digit, col in enumerate(st.columns(10, gap="small")):
        col.button(str(digit), key=f"deploy_label_{digit}", on_click=save_drawing,
                   args=(path, payload, digit), width="stretch")


def draw_tab(run: storage.Run, store: DrawingStore | None) -> None:
    try:
        model = ui.load_model(run)
    except storage.StorageError as exc:
        st.error(f"{exc}")
        return
    left, right = st.columns([1, 1.35], gap="large")
    with left:
        mode = st.segmented_control("Input", ["Draw", "Upload"], default="Draw", required=True,
                                    key="deploy_mode", label_visibility="collapsed")
        if mode == "Upload":
            image, raw = upload_input()
        else:
            image, raw = canvas_input()
    with right:
        try:
            p = predict_digit(model, image)
        except ImageError as exc:
            st.error(str(exc))
            return
        if mode == "Upload":
            hint = "Choose a picture on the left." if image is None else p.prepared.message
            show_answer(p, "📷 Upload a digit", hint)
        else:
            show_answer(p, "✏️ Draw a digit", p.prepared.message)
        if not p.is_blank and store is not None and raw is not None:
            label_panel(store, p, run, "upload" if mode == "Upload" else "canvas", raw)


# ---------------------------------------------------------------- collected data


def counts_chart(counts: dict[int, int]) -> alt.Chart:
    df = pd.DataFrame({"digit": [str(d) for d in counts], "drawings": list(counts.values())})
    base = alt.Chart(df).encode(x=alt.X("digit:N", sort=None, title=None, axis=alt.Axis(labelAngle=0)),
                                y=alt.Y("drawings:Q", title="drawings", axis=alt.Axis(tickMinStep=1)))
    bars = base.mark_bar(color="#3b6ea8", cornerRadiusTopLeft=3, cornerRadiusTopRight=3)
    return (bars + base.mark_text(dy=-7).encode(text="drawings:Q")).properties(height=200,
                                                                             title="Drawings per digit")


def gap_chart(rows: list[dict]) -> alt.Chart:
    df = pd.DataFrame([
        {"digit": str(r["digit"]), "set": name, "accuracy": r[key]}
        for r in rows for name, key in (("validation (MNIST)", "val_accuracy"), ("field (your drawings)", "field_accuracy"))
        if r[key] is not None
    ])
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("digit:N", sort=None, title=None, axis=alt.Axis(labelAngle=0)),
        xOffset="set:N",
        y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title=None),
        color=alt.Color("set:N", title=None, scale=alt.Scale(range=["#9fb7d4", "#c77d0a"]),
                        legend=alt.Legend(orient="top")),
        tooltip=["digit", "set", alt.Tooltip("accuracy:Q", format=".0%")],
    ).properties(height=230)


def field_section(store: DrawingStore, runs: list[storage.Run], current: storage.Run) -> None:
    st.subheader("Field accuracy: MNIST versus your drawings")
    by_id = {r.id: r for r in runs}
    field = store.field_accuracy()
    if not field:
        st.info("No labelled predictions yet.")
        return
    rows = field_summary(field, by_id)
    st.dataframe(pd.DataFrame(rows).drop(columns=["run_id"]), hide_index=True, width="stretch", column_config={
        "field_accuracy": st.column_config.NumberColumn("field accuracy", format="percent"),
        "val_accuracy": st.column_config.NumberColumn("validation", format="percent"),
        "test_accuracy": st.column_config.NumberColumn("test", format="percent"),
        "gap": st.column_config.NumberColumn("field − validation", format="percent"),
    })
    st.markdown("A model scoring lower on your drawings than on MNIST is **data drift**: people draw on a screen "
                "with other strokes, sizes and styles than the scanned forms MNIST came from, and the model only "
                "knows MNIST — adding the collected drawings to training is how to close the gap.")
    ids = [e["model"] for e in field]
    chosen = st.selectbox("Per digit, for model", ids, key="deploy_gap_model",
                          index=ids.index(current.id) if current.id in ids else 0,
                          format_func=lambda i: by_id[i].label if i in by_id else f"{i} (deleted)")
    entry = next(e for e in field if e["model"] == chosen)
    run = by_id.get(chosen)
    val = run.evaluation("val") if run is not None else None
    gaps = digit_gaps(entry, val.per_class if val else None)
    st.altair_chart(gap_chart(gaps), width="stretch")
    if entry["n"] < 30:
        st.caption(f"Measured on {entry['n']} drawing(s): with so few, one drawing moves a digit's accuracy a lot. "
                   "Collect a few of every digit before drawing conclusions.")


def delete_drawing(store_path: str, entry: int) -> None:
    try:
        if DrawingStore(store_path).delete(entry):
            flash(f"Deleted drawing #{entry}.", "🗑️")
    except CollectError as exc:
        flash(f"Not deleted: {exc}", "⚠️")


def drawings_grid(store: DrawingStore) -> None:
    st.subheader("The drawings")
    only = st.selectbox("Show", ["all digits", *range(10)], key="deploy_grid_filter",
                        format_func=lambda v: v if isinstance(v, str) else f"only {v}s")
    label = None if isinstance(only, str) else only
    drawings = store.list(label=label, limit=GRID_LIMIT)
    if not drawings:
        st.caption("None of this digit yet.")
        return
    path = str(store.path)
    cols = st.columns(8)
    for i, d in enumerate(drawings):
        with cols[i % 8]:
            said = "—" if d.predicted is None else f"{d.predicted} {'✓' if d.predicted == d.true_label else '✗'}"
            st.image(enlarge(d.image28, 84), caption=f"#{d.id} · is {d.true_label} · said {said}")
            st.button("Delete", key=f"deploy_del_{d.id}", on_click=delete_drawing, args=(path, d.id),
                      type="tertiary", icon="🗑️")
    if len(drawings) == GRID_LIMIT:
        st.caption(f"The newest {GRID_LIMIT} are shown; the downloads hold all of them.")


def collected_tab(store: DrawingStore | None, runs: list[storage.Run], current: storage.Run) -> None:
    if store is None:
        return
    try:
        collected_view(store, runs, current)
    except CollectError as exc:  # e.g. another session holds the database for a moment
        st.error(str(exc))


def collected_view(store: DrawingStore, runs: list[storage.Run], current: storage.Run) -> None:
    n = store.count()
    if n == 0:
        st.info("No drawings collected yet: draw a digit in the first tab and tell the model whether it was right.")
        return
    chart, side = st.columns([2, 1], gap="large")
    chart.altair_chart(counts_chart(store.counts_per_label()), width="stretch")
    with side:
        st.metric("Drawings collected", n)
        st.download_button("⬇️ MNIST IDX files (.zip)", export.zip_bytes(store.export_idx()),
                           file_name="collected-idx.zip", mime="application/zip", key="deploy_dl_idx")
        st.download_button("⬇️ NumPy arrays (.npz)", store.export_npz(), file_name="collected.npz",
                           mime="application/octet-stream", key="deploy_dl_npz")
        st.caption("Add them to training with the checkbox on the Train page:")
        ui.link("Train", "Train with the collected drawings")
    field_section(store, runs, current)
    drawings_grid(store)


# ---------------------------------------------------------------- export


@st.cache_data(max_entries=8, show_spinner="Exporting to ONNX and checking it against PyTorch…")
def onnx_export(run_path: str, weights_mtime: float) -> tuple[bytes, float]:
    """ONNX bytes of a run and the max logit difference to PyTorch; cached per run and weights file."""
    model = storage.load_run(run_path).load_model()
    data = export.export_onnx(model)
    return data, export.check_onnx(data, model)


def export_tab(run: storage.Run) -> None:
    st.markdown(f"**{run.label}**")
    weights_col, config_col, onnx_col = st.columns(3)
    try:
        weights = storage.export_weights(run)
    except OSError as exc:
        st.error(f"The weights file cannot be read ({exc}). Train the run again.")
        return
    weights_col.download_button("⬇️ Weights (.safetensors)", weights, file_name=f"{run.id}.safetensors",
                                mime="application/octet-stream", key="deploy_dl_weights")
    config_col.download_button("⬇️ Config (.json)", json.dumps(run.config.to_dict(), indent=2),
                               file_name=f"{run.id}.config.json", mime="application/json", key="deploy_dl_config")
    built = st.session_state.setdefault("deploy_onnx_built", set())
    with onnx_col:
        if run.id not in built:
            if st.button("🔧 Build the ONNX file", key="deploy_build_onnx", help="Takes a few seconds."):
                built.add(run.id)
                st.rerun()
        else:
            try:
                data, diff = onnx_export(str(run.path), (run.path / storage.WEIGHTS).stat().st_mtime)
            except (export.ExportError, storage.StorageError, OSError) as exc:
                st.error(str(exc))
                built.discard(run.id)
                return
            st.download_button("⬇️ ONNX model (.onnx)", data, file_name=f"{run.id}.onnx",
                               mime="application/octet-stream", key="deploy_dl_onnx", type="primary")
            st.caption(f"Checked with onnxruntime: the logits match PyTorch within {diff:.1e}.")
    st.markdown("The weights load into the model that the config describes (`mnist_core.models.build_model`); "
                "the ONNX file runs anywhere onnxruntime does, without PyTorch.")
    st.code(
        "import numpy as np, onnxruntime as ort\n"
        f"session = ort.InferenceSession('{run.id}.onnx')\n"
        "# x: float32 (N, 1, 28, 28) in [0, 1], white digit on black, MNIST-centred\n"
        "# (mnist_core.drawing.prepare_digit does exactly this)\n"
        "logits = session.run(['logits'], {'image': x})[0]\n"
        "digits = logits.argmax(axis=1)",
        language="python")


# ---------------------------------------------------------------- the page


ui.page("Deploy", "Draw a digit and the model answers at once. Tell it whether it was right, "
        "watch how it does on real drawings, and take the model with you.")
show_flash()
all_runs = ui.runs()
if not all_runs:
    quick_train_panel()
    st.stop()
current = pick_run(all_runs)
honesty_note(current)
store = open_store()
draw, collected, exported = st.tabs(TABS, key="deploy_tab", on_change="rerun")
# lazy tabs: only the open one runs, so a stroke on the canvas reruns only the drawing code
if draw.open:
    with draw:
        draw_tab(current, store)
if collected.open:
    with collected:
        collected_tab(store, all_runs, current)
if exported.open:
    with exported:
        export_tab(current)
