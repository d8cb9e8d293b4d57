"""The config changes a diagnosis proposes: which fields to change, to what, and in what words.

Each proposal stays inside TrainConfig's limits, so a one-click "try this" always builds a valid
config; learning rates snap to the 1-2-5 series (0.001, 0.002, 0.005, ...) that people type.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mnist_core.config import TrainConfig, field_info

# A training subset this small limits accuracy more than anything else once regularized.
SMALL_DATA = 10_000
# Regularization this strong can cause underfitting on MNIST.
HEAVY_DROPOUT = 0.5
HEAVY_WEIGHT_DECAY = 0.05


def regularize(config: TrainConfig | None) -> tuple[dict[str, Any], str]:
    """(changes, advice) against overfitting: more dropout, weight decay, augmentation or early
    stopping, whichever `config` lacks."""
    generic = "Add regularization: dropout, weight decay, data augmentation, early stopping, or more data."
    if config is None:
        return {}, generic
    changes: dict[str, Any] = {}
    words = []
    if config.model in ("mlp", "cnn") and config.dropout < 0.3:
        changes["dropout"] = 0.3 if config.model == "cnn" else 0.5
        words.append(f"dropout {changes['dropout']}")
    wd = 0.05 if config.optimizer == "adamw" else 5e-4
    if config.weight_decay < wd:
        changes["weight_decay"] = wd
        words.append(f"weight decay {wd:g}")
    if not config.augment:
        changes["augment"] = True
        words.append("augmentation (random shifts, rotations)")
    if config.patience == 0:
        changes["patience"] = 5
        words.append("early stopping after 5 epochs without improvement")
    if not changes and config.max_train_samples:
        changes["max_train_samples"] = 0
        words.append("all the training images instead of a subset")
    if not changes:
        return {}, (
            "Regularization is already on. Try a smaller model or more data (collected drawings, full MNIST)."
        )
    return changes, "Try " + ", ".join(words) + "."


def more_capacity(config: TrainConfig | None) -> tuple[dict[str, Any], str]:
    """(changes, advice) against underfitting: less regularization, more data or a bigger model."""
    if config is None:
        return {}, "Use a bigger model, train longer, or reduce regularization."
    heavy = config.dropout >= HEAVY_DROPOUT or config.weight_decay >= HEAVY_WEIGHT_DECAY
    if heavy and 0 < config.max_train_samples < SMALL_DATA:
        return (
            {"max_train_samples": 0},
            f"Regularization closed the gap, so the {config.max_train_samples:,} training images "
            "are now the limit: train on all of them.",
        )
    if heavy:
        return (
            {"dropout": 0.1, "weight_decay": 1e-4},
            "Regularization this strong holds the model back: try dropout 0.1 and weight decay 1e-4.",
        )
    if config.model == "logreg":
        return (
            {"model": "mlp", "mlp_depth": 2, "mlp_width": 256, "dropout": 0.1},
            "Logistic regression draws straight lines between digits; an MLP with hidden "
            "layers can bend them.",
        )
    if config.model == "mlp" and config.mlp_width < 1024:
        width = clamp("mlp_width", 2 * config.mlp_width)
        return {"mlp_width": width}, f"Give the MLP more units per layer ({width})."
    if config.model == "mlp":
        return (
            {"model": "cnn", "cnn_blocks": 2, "cnn_channels": 32},
            "A CNN sees strokes and shapes where an MLP sees separate pixels: try one.",
        )
    if config.cnn_channels < 64:
        return (
            {"cnn_channels": 2 * config.cnn_channels},
            f"Give the CNN more channels ({2 * config.cnn_channels}).",
        )
    return ({"epochs": clamp("epochs", 2 * config.epochs)}, "Train for more epochs.")


def nice_number(value: float) -> float:
    """The nearest value of the 1-2-5 series (…, 0.001, 0.002, 0.005, 0.01, …) in log space."""
    if value <= 0 or not math.isfinite(value):
        raise ValueError(f"nice_number needs a positive finite value, got {value!r}")
    decade = math.floor(math.log10(value))
    candidates = [m * 10.0**e for e in (decade - 1, decade, decade + 1) for m in (1, 2, 5)]
    best = min(candidates, key=lambda c: abs(math.log(c / value)))
    return float(f"{best:.3g}")  # 0.30000000000000004 -> 0.3


def clamp(name: str, value: float) -> Any:
    """`value` kept within the TrainConfig field's limits, as the field's type."""
    info = field_info(name)
    if info["max"] is not None:
        value = min(value, info["max"])
    if info["min"] is not None:
        value = max(value, info["min"])
    return type(info["default"])(value)


def describe_changes(changes: Mapping[str, Any]) -> str:
    """ "lr 0.01 → 0.001"-style words for a button label or caption."""
    return ", ".join(f"{k.replace('_', ' ')} = {_fmt(v)}" for k, v in changes.items())


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
