"""What a search can vary: each searchable hyperparameter's sampling, help and practical
widget range (`PARAM_SPECS`), and one parameter of a search (`Param`: on or off, its range or
its choices)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ParamSpec:
    """What one searchable hyperparameter is: how it is sampled and where it applies."""

    name: str
    kind: str  # "float" | "int" (a low..high range) or "choice" (a list of values)
    log: bool  # sampled log-uniformly (learning rate, weight decay, widths)
    help: str
    families: tuple[str, ...]
    slider: tuple[float, float] | None = None  # a practical widget range inside TrainConfig's
    options: tuple[Any, ...] = ()  # values a widget can offer for a "choice"


_TRAINED = ("logreg", "mlp", "cnn")
PARAM_SPECS: dict[str, ParamSpec] = {
    s.name: s
    for s in (
        ParamSpec(
            "lr",
            "float",
            True,
            "Peak learning rate of the one-cycle schedule, sampled "
            "log-uniformly: 0.001 to 0.01 is as likely as 0.01 to 0.1.",
            _TRAINED,
            (1e-5, 1.0),
        ),
        ParamSpec(
            "dropout",
            "float",
            False,
            "Dropout probability (the CNN also drops a third as many "
            "whole feature maps): more fights overfitting, too much underfits.",
            ("mlp", "cnn"),
            (0.0, 0.9),
        ),
        ParamSpec(
            "weight_decay",
            "float",
            True,
            "L2 penalty on the weights, sampled log-uniformly "
            "(so it cannot be exactly 0: a tiny value is as good as none).",
            _TRAINED,
            (1e-7, 1.0),
        ),
        ParamSpec(
            "cnn_channels",
            "int",
            True,
            "CNN: channels of the first block (later blocks double them): wider is more capable and slower.",
            ("cnn",),
            (4, 128),
        ),
        ParamSpec(
            "mlp_width",
            "int",
            True,
            "MLP: units per hidden layer: wider is more capable and slower.",
            ("mlp",),
            (8, 4096),
        ),
        ParamSpec(
            "batch_size",
            "choice",
            False,
            "Images per gradient step: smaller steps are noisier (a mild regularizer) and slower per epoch.",
            _TRAINED,
            options=(16, 32, 64, 128, 256, 512, 1024, 2048),
        ),
        ParamSpec(
            "augment",
            "choice",
            False,
            "Data augmentation on or off (small random shifts, "
            "rotations and scaling of the training images).",
            _TRAINED,
            options=(False, True),
        ),
    )
}
EPOCHS_HELP = (
    "Epochs per trial at most: every trial trains this long unless the pruner stops "
    "it early (the one-cycle schedule is planned for this many)."
)


@dataclass(frozen=True)
class Param:
    """One parameter of a search: on or off, and its range (low..high) or its choices."""

    name: str
    enabled: bool = True
    low: float | int | None = None
    high: float | int | None = None
    choices: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))

    @property
    def spec(self) -> ParamSpec:
        return PARAM_SPECS[self.name]

    def to_dict(self) -> dict[str, Any]:
        if self.spec.kind == "choice":
            return {"name": self.name, "enabled": self.enabled, "choices": list(self.choices)}
        return {"name": self.name, "enabled": self.enabled, "low": self.low, "high": self.high}

    def describe(self) -> str:
        if self.spec.kind == "choice":
            return f"{self.name} in {{{', '.join(str(c) for c in self.choices)}}}"
        return f"{self.name} {fmt_number(self.low)}..{fmt_number(self.high)}" + (
            " (log)" if self.spec.log else ""
        )


def fmt_number(value: Any) -> str:
    """A number as messages write it: a float to six significant digits (`:g`), an int as is."""
    return f"{value:g}" if isinstance(value, float) else str(value)
