"""The Tune page's search-space editor: per family, a checkbox and a range slider or choices for
each parameter (prefilled from `default_space`, kept per family for the session), the limits
row (epochs cap, budget, images, pruner), and `space_from_state(model)`, the SearchSpace these
widgets describe (TuneError when they describe none)."""

from __future__ import annotations

from typing import Any

import streamlit as st

import ui
from mnist_core.config import field_info, nearest_option
from mnist_core.planning.tune.params import EPOCHS_HELP, Param
from mnist_core.planning.tune.space import SearchSpace, default_space, range_grid
from mnist_core.planning.tune.worker import PRUNERS
from ui import state as keys

LABELS = {
    "lr": "Learning rate",
    "dropout": "Dropout",
    "weight_decay": "Weight decay",
    "cnn_channels": "Channels (first block)",
    "mlp_width": "Units per layer",
    "batch_size": "Batch size",
    "augment": "Augmentation",
}
PRUNER_LABELS = {
    "median": "median (stop trials below the median)",
    "halving": "successive halving",
    "none": "none (every trial runs to the end)",
}
ss = st.session_state


def param_row(model: str, p: Param) -> None:
    """A checkbox (search it or keep the base value) and the range or choices to search."""
    spec, label, key = p.spec, LABELS[p.name], keys.tune_param(model, p.name)
    on = st.checkbox(
        f"Search {label.lower()}",
        **ui.persistent(keys.tune_param(model, p.name, "on"), p.enabled),
        help=spec.help,
    )
    if p.name == "augment":
        st.caption(
            "Each trial trains with augmentation on or off."
            if on
            else "Off: every trial keeps the base settings' augmentation."
        )
    elif spec.kind == "choice":
        st.multiselect(
            f"{label}s to try", list(spec.options), **ui.persistent(key, list(p.choices)), disabled=not on
        )
    elif spec.log:
        # a select_slider is a range only when `value` is one (st.slider also reads session state)
        st.select_slider(
            f"{label} (log-uniform)",
            range_grid(p.name),
            format_func=lambda v: f"{v:g}",
            value=_pair(ss[key]) if key in ss else (p.low, p.high),
            key=key,
            persist_state="session",
            disabled=not on,
        )
    else:
        lo, hi = spec.slider
        st.slider(
            f"{label} (uniform)",
            float(lo),
            float(hi),
            step=0.05,
            **ui.persistent(key, (p.low, p.high)),
            disabled=not on,
        )


def limits_row(model: str) -> None:
    """Epochs cap, budget (trials and/or minutes), training images per trial, pruner."""
    e, t, m, n, p = st.columns(5)
    e.select_slider(
        "Epochs per trial at most",
        field_info("epochs")["grid"],
        help=EPOCHS_HELP,
        **ui.persistent(keys.tune_epochs(model), nearest_option("epochs", default_space(model).epochs)),
    )
    t.number_input("Trials (0 = no limit)", 0, 10_000, step=1, **ui.persistent(keys.TUNE_TRIALS, 20))
    m.number_input(
        "Minutes (0 = no limit)",
        0.0,
        10_000.0,
        step=1.0,
        **ui.persistent(keys.TUNE_MINUTES, 0.0),
        help="No new trial starts after this long; the running one finishes.",
    )
    n.number_input(
        "Training images per trial (0 = all)",
        0,
        10_000_000,
        step=500,
        **ui.persistent(keys.TUNE_MAX_TRAIN, 0),
        help="Search on a subset for speed; validation always uses the whole validation set.",
    )
    p.selectbox(
        "Pruner",
        PRUNERS,
        format_func=PRUNER_LABELS.get,
        **ui.persistent(keys.TUNE_PRUNER, "median"),
        help="Stops hopeless trials early, from their validation score after each epoch.",
    )


def _pair(value: Any) -> tuple[Any, Any]:
    """A range widget's value as (low, high); one value (a collapsed range) as (v, v)."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return value[0], value[1]
    return value, value


def space_from_state(model: str) -> SearchSpace:
    """The search space the widgets describe (raises TuneError naming what is wrong)."""
    params, space = [], default_space(model)
    for p in space.params:
        on = bool(ss.get(keys.tune_param(model, p.name, "on"), p.enabled))
        value = ss.get(keys.tune_param(model, p.name))
        if p.spec.kind == "choice":
            choices = p.choices if p.name == "augment" or value is None else tuple(value)
            params.append(Param(p.name, on, choices=tuple(sorted(choices))))
        else:
            low, high = _pair(value) if value is not None else (p.low, p.high)
            params.append(Param(p.name, on, low, high))
    return SearchSpace(model, tuple(params), int(ss.get(keys.tune_epochs(model), space.epochs)))
