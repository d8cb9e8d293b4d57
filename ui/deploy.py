"""The drawing view of the Deploy page (and of the demo's last step): the canvas or an uploaded
photo on the left; on the right the model's answer, its ten probabilities and the buttons that
label the answer (`ui.deploy_labels`).

`draw_view(run, store)` is one fragment: a stroke on the canvas (streamlit-drawable-canvas), a
label click or the canvas' reset reruns only this view, never the page heading, the sidebar or
the other tabs. Per input, the work is cached: the model (`ui.load_model`), the preprocessing
and prediction of each input's bytes (`_predicted`), run on one single-threaded worker
(`_predictor`); the probability bars reuse one Vega-Lite spec per answer colour and swap only
their data, so no chart is rebuilt per stroke.
The answer and the picture the model saw arrive as one element, first.

The answer applies the run's own calibration (`calibration.predict_options`: its temperature and
"not sure" threshold). Explanations of an answer are in `answer_details`, below the labels: the
preprocessing steps, and "why did it say that?" (`ui.deploy_explain`, computed only while open).
The last prepared input is kept in session state (`keys.DEPLOY_LAST_INPUT`) for the Evaluate page's map.
"""

from __future__ import annotations

import copy
import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas
from torch import nn

import ui
from mnist_core.charts import palette
from mnist_core.charts import prediction as predict_charts
from mnist_core.data import images
from mnist_core.data.drawing import UPLOAD_TYPES, ImageError, PreparedDigit
from mnist_core.deploy.collect import DrawingStore
from mnist_core.deploy.predict import (
    Prediction,
    answer_text,
    answering_thread,
    percent,
    predict_digit,
    prepare_upload,
)
from mnist_core.evaluation import calibration
from mnist_core.runs import storage
from mnist_core.runs.files import StorageError
from ui import state as keys
from ui.deploy_explain import explain_view, warm_up
from ui.deploy_labels import label_panel
from ui.deploy_widgets import refused_uploads

CANVAS_PX = 280  # 10× MNIST: big enough to draw comfortably, small enough to prepare in a blink
UPLOAD_MB = 5
BARS_HEIGHT = 200  # the answer row, these bars and the canvas fit a 1280×720 screen together
SEEN_PX = 84  # "what the model saw", 3× its 28×28
DRAW, PHOTO = "Draw", "Upload"
STAGES = {
    "ink": "Your ink",
    "cropped": "Cropped to the ink",
    "fitted": "Fitted into 20×20",
    "centered": "28×28, centre of mass in the middle",
}


# ---------------------------------------------------------------- prediction, cached


@st.cache_resource(show_spinner=False)
def _predictor() -> ThreadPoolExecutor:
    """The one thread every drawing's prediction runs on (`predict.answering_thread`)."""
    return answering_thread()


@st.cache_resource(max_entries=32, show_spinner=False)
def _predicted(
    _model: nn.Module,
    run_path: str,
    version: float,
    options: tuple[tuple[str, float], ...],
    source: str,
    data: bytes,
) -> Prediction | str:
    """The prediction for one input's bytes (a canvas PNG or an uploaded file) by the run's
    model with its calibration `options` (`predict_digit`'s keywords), or why the input cannot be
    read; cached, so a label click repeats no work."""
    try:
        if source == "canvas":  # a transparent canvas: `prepare_digit` reads the ink from alpha
            image = np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))
        else:
            image = prepare_upload(data, max_bytes=UPLOAD_MB * 1_000_000)
        return _predictor().submit(predict_digit, _model, image, **dict(options)).result()
    except ImageError as exc:
        return str(exc)
    except OSError as exc:  # a canvas PNG that does not decode
        return f"The drawing cannot be read ({exc})."


# ---------------------------------------------------------------- the inputs


def canvas_input() -> bytes | None:
    """The canvas (streamlit-drawable-canvas); the PNG bytes of the drawing, None while it has no
    strokes. A stroke, an undo or a move in its edit mode reruns this fragment once the canvas has
    sent (200 ms after the last change, its own debounce). Its toolbar's reset sends no strokes
    and an all-transparent picture, not None: blank, like a picture with no ink in it."""
    result = st_canvas(
        stroke_width=st.session_state.get(keys.DEPLOY_PEN, 20),
        stroke_color=palette.PEN,
        background_color="",  # transparent: the ink is the alpha channel
        height=CANVAS_PX,
        width=CANVAS_PX,
        drawing_mode="freedraw",
        return_image_data=True,
        key=keys.DEPLOY_CANVAS,
    )
    if not (result.json_data or {}).get("objects"):
        return None
    return result.image_bytes


def upload_input() -> bytes | None:
    """An uploaded photo or scan: its bytes, or None (nothing chosen, or the latest choice was
    refused: then the previous file's answer must not stay on screen as if it were the new one)."""
    file = st.file_uploader(
        f"A photo or scan of one digit (PNG, JPEG…, up to {UPLOAD_MB} MB)",
        type=list(UPLOAD_TYPES),
        key=keys.DEPLOY_UPLOAD,
        max_upload_size=UPLOAD_MB,
        help="Works best with one dark digit on plain light paper, filling most of the picture.",
    )
    stale = stale_upload(None if file is None else file.file_id)
    if file is not None and file.file_id == stale:
        st.warning(
            "That file was refused (the reason is next to it), so the answer for the "
            f"previous picture is hidden. Choose a picture of up to {UPLOAD_MB} MB."
        )
        return None
    return None if file is None else file.getvalue()


def stale_upload(current: str | None) -> str | None:
    """The id of the uploaded file whose answer a refusal made stale, if any: the uploader keeps
    its previous file after refusing a new one (`refused_uploads`)."""
    refused = refused_uploads(keys.DEPLOY_UPLOAD, key=keys.DEPLOY_UPLOAD_WATCH)
    seen, stale = st.session_state.get(keys.DEPLOY_REFUSED, (0, None))
    if refused == 0:
        stale = None  # no refusal on screen (removed, or none yet)
    elif refused > seen:
        stale = current  # a new refusal: the file still held is not the one the user chose
    st.session_state[keys.DEPLOY_REFUSED] = (refused, stale)
    return stale


def input_controls(mode: str) -> None:
    """Under the input: draw or upload, the pen, and how to move, scale or rotate the digit."""
    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        st.segmented_control(
            "Input",
            [DRAW, PHOTO],
            **ui.persistent(keys.DEPLOY_MODE, DRAW),
            required=True,
            label_visibility="collapsed",
        )
        if mode == DRAW:
            with st.popover("✒️ Pen", help="The pen's width"):
                st.slider(
                    "Pen width",
                    8,
                    40,
                    **ui.persistent(keys.DEPLOY_PEN, 20),
                    help="MNIST strokes are thick: about a tenth of the digit's height.",
                )
    if mode == DRAW:
        # markdown, not a caption: presenter mode hides captions, and this is the live demo's cue
        st.markdown(
            ":small[Hover over the canvas for its toolbar. Its **✏️ Edit** lets you move, scale or "
            "rotate your digit: the answer follows.]"
        )


# ---------------------------------------------------------------- the answer


def bars_frame(p: Prediction) -> pd.DataFrame:
    """The rows `predict_charts.probability_chart` draws, for its cached spec."""
    roles = [
        "answer" if d == p.digit else "runner-up" if p.is_unsure and d == p.runner_up else "other"
        for d in range(10)
    ]
    return pd.DataFrame(
        {
            "digit": [str(d) for d in range(10)],
            "probability": p.probabilities,
            "role": roles,
            "label": [percent(float(v)) if v >= 0.01 else "" for v in p.probabilities],
        }
    )


@st.cache_resource(show_spinner=False)
def _bars_spec(unsure: bool) -> dict:
    """`predict_charts.probability_chart`'s Vega-Lite spec without its data, once per colour."""
    sample = Prediction(
        PreparedDigit(False, None, {}, ""), 0, np.full(10, 0.1, np.float32), 0.1, 1, 0.1, unsure
    )
    spec = predict_charts.probability_chart(sample, height=BARS_HEIGHT).to_dict()
    spec.pop("datasets", None)
    spec.pop("data", None)
    return spec


def show_answer(p: Prediction, prompt: str, hint: str) -> None:
    if p.is_blank:
        st.markdown(
            f"<div style='font-size:2.4rem;font-weight:700;opacity:.55;padding:2.5rem 0 1rem'>{prompt}</div>",
            unsafe_allow_html=True,
        )
        st.caption(hint)
        return
    seen = images.png_data_uri(p.prepared.stages["centered"], fast=True)
    digit, verdict = st.columns([1, 1.15], vertical_alignment="center")
    digit.markdown(
        "<div style='display:flex;align-items:center;gap:1.2rem'>"
        f"<div class='deploy-answer' style='font-size:7rem;font-weight:800;line-height:1;"
        f"color:{predict_charts.answer_colour(p)}'>{p.digit}{'?' if p.is_unsure else ''}</div>"
        f"<figure style='margin:0;text-align:center'><img src='{seen}' "
        f"style='width:{SEEN_PX}px;height:{SEEN_PX}px;image-rendering:pixelated;border-radius:4px' "
        "alt='What the model saw'>"
        "<figcaption style='font-size:.75rem;opacity:.7'>What the model saw</figcaption></figure>"
        "</div>",
        unsafe_allow_html=True,
    )
    (verdict.warning if p.is_unsure else verdict.success)(answer_text(p))
    st.vega_lite_chart(
        bars_frame(p), copy.deepcopy(_bars_spec(p.is_unsure)), width="stretch", key=keys.DEPLOY_BARS
    )


def answer_details(p: Prediction, run: storage.Run, model: nn.Module) -> None:
    """On demand, what stands behind the answer: why the model said it (computed only while
    open) and how the input became the model's input."""
    explain_view(run, model, p, _predictor())
    with st.expander("How your drawing became the model's input"):
        st.image(
            [images.upscale_to(p.prepared.stages[s], 120) for s in STAGES], caption=list(STAGES.values())
        )
        st.caption(
            "The same steps built MNIST itself: crop the ink, scale it into 20×20 keeping its "
            "shape, then place it in 28×28 so its centre of mass sits in the middle."
        )


# ---------------------------------------------------------------- the view


@st.fragment
def draw_view(run: storage.Run, store: DrawingStore | None) -> None:
    """Input on the left, answer on the right; reruns by itself on every stroke."""
    ui.show_flash()  # a label's toast: its click reruns only this fragment
    warm_up()  # Captum's import, once per process, in the background (from the page's first run)
    mode = st.session_state.get(keys.DEPLOY_MODE, DRAW)
    row = st.container(horizontal=True, gap="large")
    left, right = row.container(width=CANVAS_PX + 40), row.container()
    with left:
        raw = upload_input() if mode == PHOTO else canvas_input()
        input_controls(mode)
    source = "upload" if mode == PHOTO else "canvas"
    with right:
        try:
            model = ui.load_model(run)
        except StorageError as exc:
            st.error(str(exc))
            return
        options = tuple(sorted(calibration.predict_options(run).items()))
        result = (
            predict_digit(model, None)
            if raw is None
            else _predicted(  # None: blank, no model call
                ui.answering_model(run), str(run.path), ui.run_version(run), options, source, raw
            )
        )
        if isinstance(result, str):  # an unreadable file
            st.error(result)
            return
        if mode == PHOTO:
            show_answer(
                result,
                "📷 Upload a digit",
                "Choose a picture on the left." if raw is None else result.prepared.message,
            )
        else:
            show_answer(result, "✏️ Draw a digit", result.prepared.message)
        if not result.is_blank:
            st.session_state[keys.DEPLOY_LAST_INPUT] = result.prepared.stages["centered"]
            if store is not None:
                label_panel(store, result, run, source, raw)
            answer_details(result, run, model)
