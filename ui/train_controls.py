"""The Train page's controls: one session key per TrainConfig field ("train.<field>", which Plan
and Tune set too), presets, and the widgets, whose bounds, steps and grids come from
`config.field_info`."""

from __future__ import annotations

from typing import Any

import streamlit as st

import ui
from mnist_core.config import (
    ACTIVATIONS,
    DEFAULT_PRESET,
    MODEL_FAMILIES,
    MODEL_LABELS,
    OPTIMIZERS,
    PRESETS,
    ConfigError,
    TrainConfig,
    field_info,
    nearest_option,
)
from mnist_core.training.advice import describe_changes
from ui import state as keys

CONTROLS = (
    "model",
    "mlp_depth",
    "mlp_width",
    "activation",
    "cnn_blocks",
    "cnn_channels",
    "cnn_hidden",
    "batch_norm",
    "optimizer",
    "lr",
    "batch_size",
    "epochs",
    "weight_decay",
    "dropout",
    "augment",
    "patience",
    "seed",
    "max_train_samples",
)
ss = st.session_state


# ---------------------------------------------------------------- control state


def preset_values(name: str) -> dict[str, Any]:
    config = PRESETS[name]
    return {k: nearest_option(k, getattr(config, k)) for k in CONTROLS}


def current_values() -> dict[str, Any]:
    defaults = preset_values(DEFAULT_PRESET)
    return {k: ss.get(keys.train_control(k), defaults[k]) for k in CONTROLS}


def control(name: str) -> dict[str, Any]:
    """Widget kwargs of a control: its persistent key and its help text."""
    return {
        **ui.persistent(keys.train_control(name), preset_values(DEFAULT_PRESET)[name]),
        "help": field_info(name)["help"],
    }


def set_controls(changes: dict[str, Any]) -> None:
    """Set controls from code; only call from callbacks (before the widgets are drawn)."""
    for name, value in changes.items():
        if name in CONTROLS:
            ss[keys.train_control(name)] = nearest_option(name, value)


def on_preset() -> None:
    set_controls(preset_values(ss[keys.TRAIN_PRESET]))


def on_apply(changes: dict[str, Any], what: str) -> None:
    set_controls(changes)
    ui.flash("success", f"{what}: {describe_changes(changes)}. Press Start to train with them.")


def make_config() -> TrainConfig:
    return TrainConfig(**current_values(), **ui.split_settings())


def checked_config() -> TrainConfig | None:
    """The config the controls describe, or None when a value is out of range (shown by settings())."""
    try:
        return make_config()
    except ConfigError:
        return None


# ---------------------------------------------------------------- widgets


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
        slider("Dense units", "cnn_hidden")
    elif model == "logreg":
        st.caption("One linear layer: 784 pixels → 10 digit scores. Nothing else to choose.")
    else:
        st.caption(
            "Nothing to learn: it counts the training labels and always answers the most "
            "common digit. Every real model must beat it."
        )
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
    st.text_input(
        "Run name (optional)",
        **ui.persistent(keys.TRAIN_RUN_NAME, ""),
        max_chars=60,
        placeholder="e.g. big MLP, no dropout",
    )
    if n_drawings:
        st.checkbox(
            f"Train on the {n_drawings:,} collected drawings too",
            **ui.persistent(keys.TRAIN_USE_DRAWINGS, False),
            help="Your labelled drawings from the Deploy page are added to the training set "
            "(never to validation), so the model learns your handwriting.",
        )
