"""Hyperparameters: one frozen, validated dataclass shared by the UI, the CLI and saved runs.

Every field carries its help text and its allowed range in `dataclasses.field(metadata=...)`,
so the Train page can build sliders, the CLI can build flags and a saved run can be
re-validated on load from the same single source of truth.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODEL_FAMILIES = ("baseline", "logreg", "mlp", "cnn")
MODEL_LABELS = {
    "baseline": "Majority-class baseline",
    "logreg": "Logistic regression",
    "mlp": "MLP (fully connected)",
    "cnn": "CNN (convolutional)",
}
OPTIMIZERS = ("sgd", "adam", "adamw")
ACTIVATIONS = ("relu", "gelu", "tanh")
DEVICES = ("auto", "cpu", "cuda", "mps")


class ConfigError(ValueError):
    """A hyperparameter value that makes no sense; the message says which and why."""


def _f(
    default: Any,
    help: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple[str, ...] | None = None,
    group: str = "training",
) -> Any:
    meta = {"help": help, "min": lo, "max": hi, "choices": choices, "group": group}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides how a model is built and trained (not which data)."""

    model: str = _f(
        "cnn",
        "Model family: majority-class baseline, logistic regression, MLP or CNN.",
        choices=MODEL_FAMILIES,
        group="model",
    )
    mlp_depth: int = _f(2, "MLP: number of hidden layers.", lo=1, hi=8, group="model")
    mlp_width: int = _f(256, "MLP: units per hidden layer.", lo=8, hi=4096, group="model")
    activation: str = _f(
        "relu", "MLP: activation function between layers.", choices=ACTIVATIONS, group="model"
    )
    cnn_blocks: int = _f(
        3, "CNN: number of conv blocks; each halves the image size (28→14→7→4).", lo=1, hi=4, group="model"
    )
    cnn_channels: int = _f(
        16, "CNN: channels of the first block; each later block doubles them.", lo=4, hi=256, group="model"
    )
    cnn_hidden: int = _f(
        64,
        "CNN: units of the fully connected layer between the last conv block and the output.",
        lo=8,
        hi=4096,
        group="model",
    )
    batch_norm: bool = _f(
        True,
        "Batch normalisation after each hidden layer of an MLP and each conv block of a CNN after the first.",
        group="model",
    )
    dropout: float = _f(
        0.3,
        "Dropout probability before the output layer (and between MLP layers; "
        "the CNN also drops a third as many whole feature maps after its convolutions).",
        lo=0.0,
        hi=0.9,
        group="regularization",
    )
    optimizer: str = _f("adamw", "Optimizer: SGD with momentum 0.9, Adam or AdamW.", choices=OPTIMIZERS)
    lr: float = _f(0.01, "Peak learning rate of the one-cycle schedule.", lo=1e-6, hi=10.0)
    batch_size: int = _f(512, "Images per gradient step.", lo=1, hi=8192)
    epochs: int = _f(60, "Passes over the training set.", lo=1, hi=500)
    weight_decay: float = _f(
        1e-4, "L2 penalty on the weights (decoupled for AdamW).", lo=0.0, hi=1.0, group="regularization"
    )
    patience: int = _f(
        0,
        "Early stopping: stop after this many epochs without a better validation loss (0 = off).",
        lo=0,
        hi=500,
        group="regularization",
    )
    augment: bool = _f(
        True,
        "Data augmentation: small random shifts (±2 px), rotations (±10°) and "
        "scaling (±10 %) of three in four training images (none in the last twelfth of the "
        "epochs), and label smoothing (a tenth of each target spread over all ten digits; "
        "the losses shown are then the smoothed ones).",
        group="regularization",
    )
    max_train_samples: int = _f(
        0,
        "Use only this many training images (0 = all); small data makes overfitting easy to see.",
        lo=0,
        hi=10_000_000,
        group="data",
    )
    val_fraction: float = _f(
        0.2, "Share of the training pool held out for validation.", lo=0.05, hi=0.5, group="data"
    )
    split_seed: int = _f(
        0,
        "Seed of the train/validation split (kept apart from the training "
        "seed so runs are compared on the same validation set).",
        lo=0,
        hi=2**31 - 1,
        group="data",
    )
    seed: int = _f(0, "Seed for weight initialisation, shuffling and augmentation.", lo=0, hi=2**31 - 1)
    mixed_precision: bool = _f(
        True,
        "bfloat16 autocast while training, where the hardware does bf16 natively (CPUs with AVX-512 BF16 "
        "or AMX, GPUs from Ampere on: up to 2x faster, same accuracy); elsewhere training stays in float32.",
        group="system",
    )
    device: str = _f(
        "auto", "Where to train: auto picks CUDA, then MPS, then the CPU.", choices=DEVICES, group="system"
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check_field(f, getattr(self, f.name))

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a stored dict (a saved run, a study, a curve); unknown keys are an error. A
        missing key takes the value things were built with before the field existed
        (ADDED_FIELDS), so an older run's weights still fit its model; otherwise the default."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            # repr for a name with a newline or control character: the message stays one line
            shown = (name if name.isprintable() else repr(name) for name in unknown)
            raise ConfigError(f"Unknown setting(s): {', '.join(shown)}.")
        return cls(**{**ADDED_FIELDS, **values})

    def summary(self) -> str:
        """A one-line human description of the model, for tables and titles."""
        if self.model == "mlp":
            return f"MLP {self.mlp_depth}×{self.mlp_width} {self.activation}"
        if self.model == "cnn":
            chans = "-".join(str(self.cnn_channels * 2**i) for i in range(self.cnn_blocks))
            return f"CNN {self.cnn_blocks} blocks ({chans})"
        return MODEL_LABELS[self.model]


# Fields added after runs were first saved, with the value every run saved before implied.
ADDED_FIELDS: dict[str, Any] = {"cnn_hidden": 128}


def finite_number(value: Any) -> float | None:
    """`value` as a float when it is a real, finite number (not a bool, NaN or infinity), else None:
    the one check for numbers read from files, records and user input."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _check_field(f: dataclasses.Field, value: Any) -> None:
    meta, name = f.metadata, f.name
    expected = {"int": int, "float": float, "bool": bool, "str": str}[str(f.type)]
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if expected is not bool and isinstance(value, bool) or not isinstance(value, expected):
        raise ConfigError(f"{name} must be a {expected.__name__}, got {value!r}.")
    if expected is float and finite_number(value) is None:
        raise ConfigError(f"{name} must be a finite number, got {value!r}.")
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"{name} must be one of {', '.join(meta['choices'])}; got {value!r}.")
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and value < lo:
        raise ConfigError(f"{name} = {value!r} is too small: the minimum is {lo}. ({meta['help']})")
    if hi is not None and value > hi:
        raise ConfigError(f"{name} = {value!r} is too large: the maximum is {hi}. ({meta['help']})")


# The values a slider offers for the wide-ranged fields: roughly log-spaced, so the useful low end
# gets fine steps while the field's whole range (min..max) stays reachable.
WIDGET_GRIDS: dict[str, tuple] = {
    "lr": (
        1e-6,
        1e-5,
        1e-4,
        2e-4,
        5e-4,
        0.001,
        0.002,
        0.003,
        0.004,
        0.005,
        0.01,
        0.02,
        0.05,
        0.1,
        0.2,
        0.5,
        1.0,
        2.0,
        5.0,
        10.0,
    ),
    "mlp_width": (8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096),
    "cnn_channels": (4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256),
    "cnn_hidden": (16, 32, 64, 128, 256, 512, 1024),
    "batch_size": (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192),
    "weight_decay": (0.0, 1e-5, 1e-4, 5e-4, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0),
    "epochs": (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 150, 200, 300, 500),
    "patience": (0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100, 500),
}
# Sliders with even steps: (step,) — their bounds are the field's min and max.
WIDGET_STEPS: dict[str, float] = {"dropout": 0.05, "mlp_depth": 1, "cnn_blocks": 1}


def field_info(name: str) -> dict[str, Any]:
    """Help text, range, choices and widget grid/step of one config field (sliders, CLI help)."""
    for f in dataclasses.fields(TrainConfig):
        if f.name == name:
            return {
                "name": name,
                "type": str(f.type),
                "default": f.default,
                **f.metadata,
                "grid": _grid(name),
                "step": WIDGET_STEPS.get(name),
            }
    raise KeyError(name)


def _grid(name: str) -> list | None:
    """The slider options of a field, including every preset's and ladder rung's value, so a
    preset always sits exactly on its slider."""
    if name not in WIDGET_GRIDS:
        return None
    used = {getattr(c, name) for c in (*PRESETS.values(), *(c for _, c in LADDER), TrainConfig())}
    return sorted(set(WIDGET_GRIDS[name]) | used)


def nearest_option(name: str, value: Any) -> Any:
    """Fit a value (from a preset, a diagnosis or a saved run) onto its widget's grid or range."""
    info = field_info(name)
    if info["grid"] and isinstance(value, (int, float)) and not isinstance(value, bool):

        def distance(option: float) -> float:
            return abs(math.log10(option + 1e-7) - math.log10(max(value, 0) + 1e-7))

        return min(info["grid"], key=distance)
    if info["min"] is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        kind = int if info["type"] == "int" else float
        return kind(min(max(value, info["min"]), info["max"] if info["max"] is not None else value))
    return value


def all_fields() -> list[dict[str, Any]]:
    return [field_info(f.name) for f in dataclasses.fields(TrainConfig)]


PRESETS: dict[str, TrainConfig] = {
    "baseline": TrainConfig(model="baseline", epochs=1, augment=False),
    "fast CNN": TrainConfig(),
    "overfit on purpose": TrainConfig(
        model="mlp",
        mlp_depth=3,
        mlp_width=1024,
        batch_norm=False,
        dropout=0.0,
        weight_decay=0.0,
        augment=False,
        optimizer="adam",
        lr=0.002,
        batch_size=256,
        epochs=40,
        max_train_samples=1000,
    ),
    "regularized": TrainConfig(
        model="mlp",
        mlp_depth=3,
        mlp_width=1024,
        batch_norm=True,
        dropout=0.5,
        weight_decay=0.05,
        augment=True,
        optimizer="adamw",
        lr=0.002,
        batch_size=256,
        epochs=40,
        max_train_samples=1000,
        patience=8,
    ),
}
PRESET_HELP = {
    "baseline": "Always predicts the most common digit: the bar every real model must clear.",
    "fast CNN": "The default: a small convolutional network tuned for speed on a CPU.",
    "overfit on purpose": "A big MLP on 1,000 images with no regularization: watch validation "
    "loss turn up while training loss keeps falling.",
    "regularized": "The same big MLP and data, with dropout, weight decay, augmentation and "
    "early stopping: the gap between the curves closes.",
}
DEFAULT_PRESET = "fast CNN"

# The demo model the Deploy page trains when there is none yet.
QUICK_EPOCHS = 10  # 70 steps of 512 on the offline sample: a few seconds with 2 CPU cores
QUICK_MAX_TRAIN = 12_000  # caps full MNIST so the demo model still trains in seconds


def quick_config() -> TrainConfig:
    """The default preset, shortened so a demo that starts with no model has one within seconds."""
    preset = PRESETS[DEFAULT_PRESET]
    cap = preset.max_train_samples or QUICK_MAX_TRAIN
    return preset.replace(
        epochs=min(preset.epochs, QUICK_EPOCHS), max_train_samples=min(cap, QUICK_MAX_TRAIN)
    )


# The baseline ladder: the same split, ever more capable models.
LADDER: list[tuple[str, TrainConfig]] = [
    ("Majority class", TrainConfig(model="baseline", epochs=1, augment=False)),
    (
        "Logistic regression",
        TrainConfig(
            model="logreg",
            optimizer="adam",
            lr=0.01,
            batch_size=256,
            epochs=10,
            dropout=0.0,
            augment=False,
            weight_decay=0.0,
        ),
    ),
    ("MLP", TrainConfig(model="mlp", optimizer="adamw", lr=0.005, batch_size=256, epochs=10, augment=False)),
    ("CNN", TrainConfig()),
]


def studio_home() -> Path:
    """Where runs and collected drawings live: $MNIST_STUDIO_HOME, else ./studio_data."""
    return Path(os.environ.get("MNIST_STUDIO_HOME", "studio_data")).expanduser()


def cache_dir() -> Path:
    """Where downloaded data is cached: $MNIST_STUDIO_CACHE, else the user's cache folder."""
    env = os.environ.get("MNIST_STUDIO_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mnist-workflow-studio"
