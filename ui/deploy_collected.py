"""The Deploy page's "Collected data" tab: the labelling queue (drawings saved to label later,
the current model's least certain first, one click each), the labelled drawings users gave the
model, their downloads, field accuracy against MNIST accuracy (data drift), and the drawings.

The numbers come from `mnist_core.deploy.collect` (the drawings store, `field_summary`, `digit_gaps`),
the charts from `mnist_core.charts.prediction`.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from mnist_core.charts import prediction as predict_charts
from mnist_core.data import images
from mnist_core.deploy import export
from mnist_core.deploy.collect import CollectError, DrawingStore
from mnist_core.deploy.collect_queue import labelling_queue
from mnist_core.deploy.field_accuracy import digit_gaps, field_summary
from mnist_core.runs import storage
from ui import state as keys

GRID_LIMIT = 48  # drawings shown in the grid; the downloads hold all of them
QUEUE_LIMIT = 8  # queued drawings shown at once; labelling one brings up the next
GRID_COLS = 8
FEW_DRAWINGS = 30  # below this, per-digit field accuracy is mostly noise


def collected_tab(store: DrawingStore | None, runs: list[storage.Run], current: storage.Run) -> None:
    if store is None:
        return  # ui.drawing_store() has said why
    try:
        collected_view(store, runs, current)
    except CollectError as exc:  # e.g. another session holds the database for a moment
        st.error(str(exc))


def collected_view(store: DrawingStore, runs: list[storage.Run], current: storage.Run) -> None:
    n = store.count()
    if n == 0:
        st.info(
            "No drawings collected yet: draw a digit in the first tab and tell the model whether it was right."
        )
        return
    queue_section(store, current)
    chart, side = st.columns([2, 1], gap="large")
    chart.altair_chart(predict_charts.drawings_chart(store.counts_per_label()), width="stretch")
    with side:
        st.metric("Drawings labelled", store.count(labelled=True))
        st.download_button(
            "⬇️ MNIST IDX files (.zip)",
            export.zip_bytes(store.export_idx()),
            file_name="collected-idx.zip",
            mime="application/zip",
            key=keys.DEPLOY_DL_IDX,
        )
        st.download_button(
            "⬇️ NumPy arrays (.npz)",
            store.export_npz(),
            file_name="collected.npz",
            mime="application/octet-stream",
            key=keys.DEPLOY_DL_NPZ,
        )
        st.caption("Add them to training with the checkbox on the Train page:")
        ui.link("Train", "Train with the collected drawings")
    field_section(store, runs, current)
    drawings_grid(store)


def set_label(store_path: str, entry: int, digit: int) -> None:
    try:
        DrawingStore(store_path).set_label(entry, digit)
    except CollectError as exc:
        ui.flash("toast", f"⚠️ Not labelled: {exc}")
        return
    ui.flash("toast", f"✅ Drawing #{entry} labelled a {digit}.")


def queue_section(store: DrawingStore, current: storage.Run) -> None:
    """The drawings saved to label later, the current model's least certain first, one click each."""
    waiting = store.count(labelled=False)
    if not waiting:
        return
    st.subheader(f"Label these: {waiting} drawing(s) waiting")
    st.caption(
        f"Ordered by how unsure {current.label} is about them (smallest margin between its top two "
        "digits first): a label teaches most where the model hesitates. Until labelled, a drawing "
        "counts in neither field accuracy nor training."
    )
    path = str(store.path)
    for q in labelling_queue(store, ui.load_model(current))[:QUEUE_LIMIT]:
        picture, buttons = st.columns([1, 5], vertical_alignment="center")
        picture.image(images.upscale_to(q.drawing.image28, 56), caption=f"#{q.drawing.id}")
        with buttons:
            st.caption(f"The model guesses {q.guess} · uncertainty {q.uncertainty:.2f}")
            for digit, col in enumerate(st.columns(10, gap="small")):
                col.button(
                    str(digit),
                    key=keys.deploy_queue(q.drawing.id, digit),
                    on_click=set_label,
                    args=(path, q.drawing.id, digit),
                    width="stretch",
                )
    if waiting > QUEUE_LIMIT:
        st.caption(f"The {QUEUE_LIMIT} most uncertain are shown; labelling one brings up the next.")


def field_section(store: DrawingStore, runs: list[storage.Run], current: storage.Run) -> None:
    st.subheader("Field accuracy: MNIST versus your drawings")
    by_id = {r.id: r for r in runs}
    field = store.field_accuracy()
    if not field:
        st.info("No labelled predictions yet.")
        return
    rows = field_summary(field, by_id)
    st.dataframe(
        pd.DataFrame(rows).drop(columns=["run_id"]),
        hide_index=True,
        width="stretch",
        column_config={
            "field_accuracy": st.column_config.NumberColumn("field accuracy", format="percent"),
            "val_accuracy": st.column_config.NumberColumn("validation", format="percent"),
            "test_accuracy": st.column_config.NumberColumn("test", format="percent"),
            "gap": st.column_config.NumberColumn("field − validation", format="percent"),
        },
    )
    st.markdown(
        "A model scoring lower on your drawings than on MNIST is **data drift**: people draw on a screen "
        "with other strokes, sizes and styles than the scanned forms MNIST came from, and the model only "
        "knows MNIST — adding the collected drawings to training is how to close the gap."
    )
    ids = [e["model"] for e in field]
    chosen = st.selectbox(
        "Per digit, for model",
        ids,
        key=keys.DEPLOY_GAP_MODEL,
        index=ids.index(current.id) if current.id in ids else 0,
        format_func=lambda i: by_id[i].label if i in by_id else f"{i} (deleted)",
    )
    entry = next(e for e in field if e["model"] == chosen)
    run = by_id.get(chosen)
    val = run.evaluation("val") if run is not None else None
    st.altair_chart(
        predict_charts.field_gap_chart(digit_gaps(entry, val.per_class if val else None)), width="stretch"
    )
    if entry["n"] < FEW_DRAWINGS:
        st.caption(
            f"Measured on {entry['n']} drawing(s): with so few, one drawing moves a digit's accuracy a lot. "
            "Collect a few of every digit before drawing conclusions."
        )


def delete_drawing(store_path: str, entry: int) -> None:
    try:
        if DrawingStore(store_path).delete(entry):
            ui.flash("toast", f"🗑️ Deleted drawing #{entry}.")
    except CollectError as exc:
        ui.flash("toast", f"⚠️ Not deleted: {exc}")


def drawings_grid(store: DrawingStore) -> None:
    st.subheader("The drawings")
    only = st.selectbox(
        "Show",
        ["all digits", *range(10)],
        key=keys.DEPLOY_GRID_FILTER,
        format_func=lambda v: v if isinstance(v, str) else f"only {v}s",
    )
    label = None if isinstance(only, str) else only
    drawings = store.list(label=label, limit=GRID_LIMIT)
    if not drawings:
        st.caption("None of this digit yet.")
        return
    path = str(store.path)
    cols = st.columns(GRID_COLS)
    for i, d in enumerate(drawings):
        with cols[i % GRID_COLS]:
            if d.predicted is None:
                said = "—"
            elif d.true_label is None:
                said = str(d.predicted)
            else:
                said = f"{d.predicted} {'✓' if d.predicted == d.true_label else '✗'}"
            truth = "not labelled yet" if d.true_label is None else f"is {d.true_label}"
            st.image(images.upscale_to(d.image28, 84), caption=f"#{d.id} · {truth} · said {said}")
            st.button(
                "Delete",
                key=keys.deploy_delete(d.id),
                on_click=delete_drawing,
                args=(path, d.id),
                type="tertiary",
                icon="🗑️",
            )
    if len(drawings) == GRID_LIMIT:
        st.caption(f"The newest {GRID_LIMIT} are shown; the downloads hold all of them.")
