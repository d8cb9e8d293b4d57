"""The labels under an answer on the Deploy page: "Correct" or "It was a …" stores the input
once in the drawings database (field accuracy, and training data later), with Undo; "Label
later" stores it unlabelled, for the labelling queue of the Collected data tab.

Each input is known by the fingerprint of its bytes, so the same drawing labelled twice (a
double click, a rerun replaying the click) is stored once. Saving happens in button callbacks,
whose message shows as a toast on the next run (`ui.flash`).
"""

from __future__ import annotations

import streamlit as st

import ui
from mnist_core.data import images
from mnist_core.data.drawing import ImageError, load_image_file
from mnist_core.deploy.collect import CollectError, DrawingStore
from mnist_core.deploy.predict import Prediction
from mnist_core.runs import storage
from ui import state as keys


def saved_map() -> dict[str, tuple[int, int | None]]:
    return st.session_state.setdefault(keys.DEPLOY_SAVED, {})


def save_drawing(store_path: str, payload: dict, label: int | None) -> None:
    """Button callback: store one drawing once (`label` None: to label later), remember it, queue a toast."""
    key = payload["fingerprint"]
    if key in saved_map():
        return  # a double click, or a rerun replaying the click
    raw, source = payload["raw"], payload["source"]
    try:
        # the canvas PNG is already the original; an upload is re-encoded small (it may be a 5 MB photo)
        original = (
            raw
            if source == "canvas"
            else images.png_bytes(load_image_file(raw), max_side=images.ORIGINAL_MAX_SIDE)
        )
        entry = DrawingStore(store_path).add(
            image28=payload["image28"],
            true_label=label,
            predicted=payload["predicted"],
            confidence=payload["confidence"],
            model=payload["model"],
            original_png=original,
            source=source,
        )
    except (CollectError, ImageError) as exc:
        ui.flash("toast", f"⚠️ Not saved: {exc}")
        return
    saved_map()[key] = (entry, label)
    if label is None:
        ui.flash("toast", f"🕓 Saved drawing #{entry} to label later, in the Collected data tab's queue.")
        return
    right = (
        "the model was right" if label == payload["predicted"] else f"the model said {payload['predicted']}"
    )
    ui.flash("toast", f"✅ Saved as a {label} ({right}). Draw the next one!")


def undo_save(store_path: str, key: str) -> None:
    entry, _ = saved_map().get(key, (None, None))
    if entry is None:
        return
    try:
        DrawingStore(store_path).delete(entry)
    except CollectError as exc:
        ui.flash("toast", f"⚠️ Not removed: {exc}")
        return
    saved_map().pop(key, None)
    ui.flash("toast", f"🗑️ Removed drawing #{entry}.")


def label_panel(store: DrawingStore, p: Prediction, run: storage.Run, source: str, raw: bytes) -> None:
    """“Correct” or “It was a …”: each label stores the input once, for field accuracy and training."""
    key = images.file_fingerprint(raw)
    done = saved_map().get(key)
    path = str(store.path)
    if done is not None:
        try:
            store.get(done[0])
        except CollectError:  # deleted in the Collected data tab meanwhile
            saved_map().pop(key, None)
            done = None
    if done is not None:
        saved_as = "to label later" if done[1] is None else f"as a **{done[1]}**"
        st.success(
            f"Saved {saved_as} (drawing #{done[0]}). Reset the canvas (🗑 in its toolbar) and draw the next one."
        )
        st.button("↩️ Undo", on_click=undo_save, args=(path, key), key=keys.DEPLOY_UNDO)
        return
    payload = {
        "fingerprint": key,
        "image28": p.prepared.stages["centered"],
        "predicted": p.digit,
        "confidence": p.confidence,
        "model": run.id,
        "raw": raw,
        "source": source,
    }
    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        st.markdown(
            "**Was it right?**",
            help="Your label measures the model in the field (Collected data) and can become training data.",
        )
        st.button(
            f"✓ Correct, it is a {p.digit}",
            type="primary",
            key=keys.DEPLOY_CORRECT,
            on_click=save_drawing,
            args=(path, payload, p.digit),
        )
        st.button(
            "🕓 Label later",
            key=keys.DEPLOY_LATER,
            on_click=save_drawing,
            args=(path, payload, None),
            help="Save the drawing without a label: the Collected data tab lists it for labelling, "
            "the drawings the model is least sure about first. Until labelled it counts nowhere.",
        )
    st.markdown(":small[It was a …]")
    for digit, col in enumerate(st.columns(10, gap="small")):
        col.button(
            str(digit),
            key=keys.deploy_label(digit),
            on_click=save_drawing,
            args=(path, payload, digit),
            width="stretch",
        )
