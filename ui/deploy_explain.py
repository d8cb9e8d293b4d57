"""Under a Deploy answer, "why did it say that?": where the model looked in the drawing and what
happened inside the network, for the current input and the current model.

`explain_view(run, model, p, worker)` is one expander that tracks its state (`on_change`), so a
stroke computes nothing here while it is closed. Open, it has two lazy tabs:
- *Where it looked*: the attribution map over the 28×28 input (`mnist_core.evaluation.explain.attribution`,
  Captum, the module's default method) as a red/blue overlay, for the answer or, picked below
  it, any other digit ("why not a 7?").
- *Inside the network*: the feature maps of each convolutional block (strongest channels
  first), the first-layer filters, and each hidden dense layer as a bar strip (an MLP's hidden
  units); logistic regression shows its ten pixel templates, the baseline says why there is
  nothing to show.

Everything is computed with hooks on the saved model (nothing retrains), on the Deploy page's
prediction worker, and cached per drawing fingerprint and `ui.run_version(run)`; `warm_up`
imports Captum in the background when the page first shows, not when the view first opens. The expander,
its tab and the picked digit are remembered in plain session keys, because a Clear (a blank
canvas) draws none of them and Streamlit would forget their widget state.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
import streamlit as st
from torch import nn

import ui
from mnist_core.charts import explain as inspect_charts
from mnist_core.data import images
from mnist_core.deploy.predict import Prediction, percent
from mnist_core.evaluation import explain
from mnist_core.runs import storage
from ui import state as keys

TABS = ("🎯 Where it looked", "🧠 Inside the network")
OVERLAY_SCALE = 9  # 28 px → 252 px: the colours stay readable next to the digit picker
MAPS_PER_BLOCK = 16
MAP_TILE_PX = 56  # every block's maps drawn at about this size, whatever their resolution
HIDDEN_STRIP_PX = 170  # the whole chart: Streamlit fits title and axis into it, the bars get ~100
METHOD_WHY = {
    "integrated_gradients": "it colours the drawn strokes pixel by pixel and its values add up to "
    "how far the drawing moved log p(digit) from a blank canvas; in a deletion "
    "test it found the ink that matters better than Occlusion",
    "occlusion": "it hides 4×4 patches one at a time and measures how log p(digit) changes",
}


@dataclass(frozen=True)
class WhereItLooked:
    """One attribution, ready to show: the overlay picture and its figures."""

    overlay: np.ndarray  # (H, W, 3) uint8
    target: int
    method: str
    total: float  # sum of the map (Integrated Gradients: log p(target) − log p(target | blank))


@dataclass(frozen=True)
class Inside:
    """One input's pass through the network, ready to show."""

    blocks: list[tuple[str, int, np.ndarray]]  # (name, maps shown, tiled feature maps) per conv block
    hidden: list[explain.HiddenLayer]
    filters: np.ndarray | None  # tiled first-layer filters / templates (RGB), None for the baseline
    filter_count: int  # how many filters the first layer has


# ---------------------------------------------------------------- the work (plain, then cached)


def where_it_looked(
    model: nn.Module, image: np.ndarray, target: int, method: str = explain.DEFAULT_METHOD
) -> WhereItLooked:
    """The attribution of log p(target) for one 28×28 input as an overlay; ExplainError for the baseline."""
    attr = explain.attribution(model, image, target, method=method)
    return WhereItLooked(
        explain.overlay_image(image, attr, scale=OVERLAY_SCALE), attr.target, attr.method, attr.total
    )


def inside(model: nn.Module, image: np.ndarray) -> Inside:
    """Feature maps of every conv block, the hidden dense layers and the first-layer filters."""
    acts = explain.activations(model, image)
    blocks = []
    for fm in acts.conv:
        scale = max(2, MAP_TILE_PX // max(fm.maps.shape[1:]))
        grid = explain.feature_maps_image(fm, max_channels=MAPS_PER_BLOCK, scale=scale)
        blocks.append((fm.name, min(len(fm.maps), MAPS_PER_BLOCK), grid))
    filters = explain.first_layer_filters(model)
    cols = 10 if filters is not None and len(filters) == 10 else 8  # logistic regression: one row, 0-9
    picture = None if filters is None else explain.filters_image(filters, max_filters=32, cols=cols)
    return Inside(blocks, acts.hidden, picture, 0 if filters is None else len(filters))


@st.cache_data(max_entries=64, show_spinner=False)
def _where_it_looked(
    _model: nn.Module,
    _worker: Executor,
    run_path: str,
    version: float,
    fingerprint: str,
    _image: np.ndarray,
    target: int,
) -> WhereItLooked | str:
    """Cached per run version, drawing and digit; a message instead for a model it cannot explain."""
    try:
        return _worker.submit(where_it_looked, _model, _image, target).result()
    except explain.ExplainError as exc:
        return str(exc)


@st.cache_data(max_entries=32, show_spinner=False)
def _inside(
    _model: nn.Module, _worker: Executor, run_path: str, version: float, fingerprint: str, _image: np.ndarray
) -> Inside:
    return _worker.submit(inside, _model, _image).result()


def warm_up() -> None:
    """Import Captum (~0.4 s, once per server process) in the background as the page first shows,
    so the first opening of the view does not pay for it."""
    ui.warm_up(("captum.attr",))


# ---------------------------------------------------------------- the view


def fingerprint(p: Prediction) -> str:
    """The input the model saw, as a cache key (the same 28×28 input explains the same way)."""
    return images.file_fingerprint(np.ascontiguousarray(p.prepared.image).tobytes())


def explain_view(run: storage.Run, model: nn.Module, p: Prediction, worker: Executor) -> None:
    """The expander; its tabs compute only while open."""
    box = st.expander(
        "🔍 Why did it say that?",
        expanded=bool(st.session_state.get(keys.DEPLOY_EXPLAIN_OPEN)),
        key=keys.DEPLOY_EXPLAIN,
        on_change="rerun",
    )
    st.session_state[keys.DEPLOY_EXPLAIN_OPEN] = bool(box.open)
    if not box.open:
        return
    with box:
        if run.config.model == "baseline":
            st.info(
                "The majority-class baseline ignores the drawing and always gives the same answer: "
                "there is nothing in the drawing it looked at, and no network inside."
            )
            return
        where, inner = st.tabs(
            TABS,
            default=st.session_state.get(keys.DEPLOY_EXPLAIN_TAB_SHOWN) or TABS[0],
            key=keys.DEPLOY_EXPLAIN_TAB,
            on_change="rerun",
        )
        st.session_state[keys.DEPLOY_EXPLAIN_TAB_SHOWN] = TABS[1] if inner.open else TABS[0]
        key = (str(run.path), ui.run_version(run), fingerprint(p))
        if where.open:
            with where:
                where_tab(model, worker, key, p)
        if inner.open:
            with inner:
                inside_tab(run, _inside(model, worker, *key, p.prepared.image))


def picked_digit(p: Prediction, drawing: str) -> int:
    """The digit to explain: the answer for a new drawing, else the one picked for this drawing."""
    if (
        st.session_state.get(keys.DEPLOY_EXPLAIN_DIGIT_FOR) != drawing
        or st.session_state.get(keys.DEPLOY_EXPLAIN_DIGIT) is None
    ):
        st.session_state[keys.DEPLOY_EXPLAIN_DIGIT] = (
            p.digit
        )  # before the picker is drawn: its value for this run
        st.session_state[keys.DEPLOY_EXPLAIN_DIGIT_FOR] = drawing
    return int(st.session_state[keys.DEPLOY_EXPLAIN_DIGIT])


def where_tab(model: nn.Module, worker: Executor, key: tuple[str, float, str], p: Prediction) -> None:
    target = picked_digit(p, key[2])
    st.segmented_control(
        "Explain the digit",
        list(range(10)),
        key=keys.DEPLOY_EXPLAIN_DIGIT,
        required=True,
        format_func=lambda d: f"{d} ✓" if d == p.digit else str(d),
        help="The answer is ticked; pick another digit to ask “why not a …?”",
    )
    result = _where_it_looked(model, worker, *key, p.prepared.image, target)
    if isinstance(result, str):
        st.info(result)
        return
    picture, words = st.columns([1, 1.25], gap="medium")
    with picture.container(key=keys.DEPLOY_EXPLAIN_OVERLAY):
        title = f"Why a {target}?" if target == p.digit else f"Why not a {target}?"
        st.image(result.overlay, caption=title, width=result.overlay.shape[1])
    with words:
        st.markdown(reading(p, target))
        st.caption(method_caption(result, why=not ui.presenting()))  # the name stays when presenting


def reading(p: Prediction, target: int) -> str:
    """The overlay in words, with the probability the answer's bars show."""
    prob = percent(float(p.probabilities[target]))
    if target == p.digit:
        return (
            f"**Why a {target}** ({prob}): :red[red] ink made the model surer of a {target}, "
            f":blue[blue] ink spoke against it. Grey pixels hardly mattered."
        )
    return (
        f"**Why not a {target}** ({prob}): :red[red] ink looks like part of a {target}, "
        f":blue[blue] ink is what makes this drawing *not* a {target} for the model."
    )


def method_caption(result: WhereItLooked, *, why: bool = True) -> str:
    """The attribution method by name; with `why`, its sum and why it is the default."""
    name = explain.METHOD_LABELS.get(result.method, result.method)
    text = f"Method: **{name}** (Captum), on log p({result.target})"
    if not why:
        return text + "."
    if result.method == "integrated_gradients":
        text += f"; the colours add up to {result.total:+.2f} against a blank canvas"
    return text + f". Why this method: {METHOD_WHY.get(result.method, '')}."


def inside_tab(run: storage.Run, view: Inside) -> None:
    kind = run.config.model
    for name, shown, grid in view.blocks:
        st.image(
            grid,
            caption=f"Feature maps, {name}: the {shown} strongest for this drawing, "
            "strongest first (brighter = stronger)",
        )
    for layer in view.hidden:
        st.altair_chart(inspect_charts.hidden_units_chart(layer, height=HIDDEN_STRIP_PX), width="stretch")
        which = "The dense layer before the answer" if view.blocks else "Each hidden unit, in order"
        ui.teach(f"{which}: a tall bar is a unit this drawing switches on.")
    if view.filters is not None:
        st.image(view.filters, caption=filters_caption(kind, view.filter_count, bool(view.blocks)))
    if kind == "logreg":
        st.info(
            "Logistic regression has no hidden layers: it scores each digit by one 28×28 "
            "template (above: red pixels vote for the digit, blue against) and answers the best match."
        )


def filters_caption(kind: str, count: int, conv: bool) -> str:
    shown = min(count, 32)
    if conv:
        return f"First-layer filters ({shown} of {count}): the strokes each channel looks for (red +, blue −)"
    if kind == "logreg":
        return "The ten digit templates, 0 to 9 (red +, blue −)"
    return f"First-layer weights of {shown} of {count} hidden units: the pixel pattern each looks for"
