"""Reading a training run in plain words: what its curves say, and what to try next.

`diagnose(history, config, status)` looks at the epoch records of one run (the dicts of
`EpochRecord.to_dict()`, as a job snapshot or a saved run's history.json holds them) and
names the situation a learner should recognise:

    diverged      the loss became NaN/inf            -> lower the learning rate
    stuck         barely better than guessing        -> fix the learning rate
    underfitting  even the training data is not fit  -> more capacity, epochs or less regularization
    overfitting   validation gets worse while train gets better, or a big accuracy gap
                                                     -> dropout, weight decay, augmentation, early stopping
    good          both curves low and close together

Every diagnosis carries `changes`: a dict of TrainConfig fields that implements its advice,
so the page can offer a one-click "try this" (the changes themselves are built in `advice`). Thresholds are module constants; they are
rules of thumb for MNIST, explained next to each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mnist_core.config import TrainConfig, finite_number
from mnist_core.training.advice import clamp, more_capacity, nice_number, regularize

# Fewer epochs than this and the trend is noise; we only say "too early to tell".
MIN_EPOCHS = 3
# Validation accuracy below this after MIN_EPOCHS: the model has hardly learned (chance is 10 %).
STUCK_ACC = 0.5
# Training accuracy below this: the model cannot even fit the data it sees (MNIST models reach
# 97 %+ easily; logistic regression tops out around 92-93 %).
UNDERFIT_TRAIN_ACC = 0.97
# Train accuracy this much above validation accuracy (5 points) is memorisation, not learning.
OVERFIT_GAP = 0.05
# Validation loss LOSS_RATIO times the training loss and at least LOSS_GAP above it: the model
# is far more sure on images it has seen (a 100 %-train MLP: 0.008 vs 0.19).
LOSS_RATIO = 3.0
LOSS_GAP = 0.1
# Validation loss this much above its best (10 % and 0.03: a few hundred validation images make
# smaller wiggles noise), at least RISE_EPOCHS epochs after the best, while training loss kept
# falling: the classic overfitting curve.
OVERFIT_RISE = 0.10
OVERFIT_RISE_ABS = 0.03
RISE_EPOCHS = 2
# Validation loss still falling by more than this share over the last 3 epochs: not converged.
STILL_IMPROVING = 0.05


@dataclass(frozen=True)
class Diagnosis:
    """What the curves say, why, and a concrete change to try."""

    kind: str  # "waiting", "too_early", "baseline", "diverged", "stuck", "underfitting",
    # "still_learning", "overfitting" or "good"
    title: str  # one short headline
    detail: str  # the evidence, with numbers
    advice: str  # what to try, in words ("" when nothing needs fixing)
    changes: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields implementing the advice
    level: str = "info"  # how to show it: info, success, warning or error
    preliminary: bool = False  # judged while the run is still training


# ---------------------------------------------------------------- diagnosis


def diagnose(
    history: Sequence[Mapping[str, Any]], config: TrainConfig | None = None, status: str | None = None
) -> Diagnosis:
    """Diagnose one run from its epoch records; `status` is the EndRecord status, None while running."""
    preliminary = status is None
    epochs = [h for h in history if not h.get("partial")] or list(history)
    if status == "diverged" or any(not _finite(h) for h in epochs):
        return _diverged(config, preliminary)
    if config is not None and config.model == "baseline":
        return _baseline(epochs)
    if not epochs:
        return Diagnosis(
            "waiting",
            "Waiting for the first epoch",
            "The curves and a diagnosis appear when the first epoch ends.",
            "",
            preliminary=preliminary,
        )
    last = epochs[-1]
    if len(epochs) < MIN_EPOCHS:
        return _too_early(last, len(epochs), config, preliminary)
    if last["val_acc"] < STUCK_ACC:
        return _stuck(last, config, preliminary)
    over = _overfitting(epochs, config, status)
    if over is not None:
        return _with(over, preliminary)
    if last["train_acc"] < UNDERFIT_TRAIN_ACC and last["val_acc"] < UNDERFIT_TRAIN_ACC:
        return _with(_underfitting(epochs, config, status), preliminary)
    return _good(epochs, status, preliminary)


def _finite(record: Mapping[str, Any]) -> bool:
    return all(finite_number(record.get(k)) is not None for k in ("train_loss", "val_loss"))


def _with(d: Diagnosis, preliminary: bool) -> Diagnosis:
    return Diagnosis(d.kind, d.title, d.detail, d.advice, d.changes, d.level, preliminary)


def best_record(epochs: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The epoch record whose weights a run keeps: the last one the trainer flagged `is_best`
    (the lowest validation loss so far). Records that carry no flag at all (hand-made ones)
    fall back to the lowest validation loss; None when there is no record."""
    if not epochs:
        return None
    if not any("is_best" in e for e in epochs):
        return min(epochs, key=lambda h: h["val_loss"])
    flagged = [e for e in epochs if e.get("is_best")]
    return flagged[-1] if flagged else None


def _best(epochs: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    # the diagnoses run on finite, non-empty histories, where the trainer always flagged one
    return best_record(epochs) or epochs[-1]


def _diverged(config: TrainConfig | None, preliminary: bool) -> Diagnosis:
    lr = config.lr if config else None
    changes = {"lr": nice_number(lr / 10)} if lr else {}
    lr_text = f" ({lr:g})" if lr else ""
    return Diagnosis(
        "diverged",
        "Training diverged",
        f"The loss became infinite or NaN: the learning rate{lr_text} made the weights jump so far "
        "that the numbers overflowed.",
        "Lower the learning rate, about ten times smaller." if changes else "Lower the learning rate.",
        changes,
        "error",
        preliminary,
    )


def _baseline(epochs: Sequence[Mapping[str, Any]]) -> Diagnosis:
    acc = f"{epochs[-1]['val_acc']:.1%}" if epochs else "about 10 %"
    return Diagnosis(
        "baseline",
        "A baseline, not a model",
        f"The majority-class baseline always predicts the most common digit: validation accuracy "
        f"{acc}. It learns nothing from the pixels; it is the bar every real model must clear.",
        "Train a real model: logistic regression is the simplest one that looks at the pixels.",
        {"model": "logreg", "epochs": 10, "optimizer": "adam", "lr": 0.01, "augment": False},
        "info",
    )


def _too_early(last: Mapping[str, Any], n: int, config: TrainConfig | None, preliminary: bool) -> Diagnosis:
    acc = f"validation accuracy {last['val_acc']:.1%} after {n} epoch{'s' * (n > 1)}"
    if preliminary:
        return Diagnosis(
            "too_early",
            "Too early to tell",
            f"So far: {acc}. Trends show after {MIN_EPOCHS} epochs.",
            "",
            preliminary=True,
        )
    changes = {"epochs": max(10, 2 * config.epochs)} if config else {}
    good = last["val_acc"] >= UNDERFIT_TRAIN_ACC
    return Diagnosis(
        "too_early",
        "Good start, but too short to judge" if good else "Too short to judge",
        f"Only {n} epoch{'s' * (n > 1)}: {acc}. With fewer than {MIN_EPOCHS} epochs the curves "
        "cannot show a trend (is it still improving? overfitting?).",
        "Train for more epochs to see the curves' shape.",
        changes,
        "success" if good else "info",
    )


def _stuck(last: Mapping[str, Any], config: TrainConfig | None, preliminary: bool) -> Diagnosis:
    detail = (
        f"Validation accuracy is only {last['val_acc']:.1%} (guessing gives 10 %) and the "
        f"training loss is {last['train_loss']:.2f} (guessing gives 2.30)."
    )
    changes: dict[str, Any] = {}
    advice = "Check the learning rate: it decides whether the model learns at all."
    if config is not None:
        high = 0.5 if config.optimizer == "sgd" else 0.05
        if config.lr >= high:
            changes = {"lr": nice_number(config.lr / 10)}
            advice = (
                f"The learning rate {config.lr:g} is high for {config.optimizer}: steps overshoot "
                "and the model bounces around. Try ten times smaller."
            )
        elif config.lr <= 1e-3:
            changes = {"lr": nice_number(config.lr * 10)}
            advice = (
                f"The learning rate {config.lr:g} is so small that the weights hardly move. "
                "Try ten times larger."
            )
        else:
            changes = {"epochs": clamp("epochs", 2 * config.epochs)}
            advice = "The model is learning slowly: train for more epochs."
    return Diagnosis("stuck", "The model is barely learning", detail, advice, changes, "error", preliminary)


def _overfitting(
    epochs: Sequence[Mapping[str, Any]], config: TrainConfig | None, status: str | None
) -> Diagnosis | None:
    last, best = epochs[-1], _best(epochs)
    gap = last["train_acc"] - last["val_acc"]
    rise = last["val_loss"] / max(best["val_loss"], 1e-12) - 1
    rising = (
        last["epoch"] - best["epoch"] >= RISE_EPOCHS
        and rise >= OVERFIT_RISE
        and last["val_loss"] - best["val_loss"] >= OVERFIT_RISE_ABS
        and last["train_loss"] < best["train_loss"]
    )
    confident = (
        last["val_loss"] >= LOSS_RATIO * last["train_loss"]
        and last["val_loss"] - last["train_loss"] >= LOSS_GAP
    )
    if not (rising or confident or gap >= OVERFIT_GAP):
        return None
    evidence = []
    if rising:
        evidence.append(
            f"validation loss rose {rise:.0%} above its best (epoch {best['epoch']}, "
            f"{fmt_loss(best['val_loss'])} → {fmt_loss(last['val_loss'])}) while training "
            f"loss kept falling ({fmt_loss(best['train_loss'])} → {fmt_loss(last['train_loss'])})"
        )
    if gap >= OVERFIT_GAP:
        evidence.append(
            f"training accuracy {last['train_acc']:.1%} is {gap * 100:.1f} points above "
            f"validation accuracy {last['val_acc']:.1%}"
        )
    if confident:
        ratio = last["val_loss"] / max(last["train_loss"], 1e-12)
        times = "more than 100×" if ratio > 100 else f"{ratio:.0f}×"
        evidence.append(
            f"validation loss {fmt_loss(last['val_loss'])} is {times} the training loss "
            f"{fmt_loss(last['train_loss'])}"
        )
    detail = (
        "The model memorises the training images instead of learning digits: "
        + "; ".join(evidence)
        + f". The saved model keeps the weights of epoch {best['epoch']}, "
        "the best validation loss."
    )
    if status == "early_stopped":
        detail += " Early stopping ended the run when it stopped improving, as it should."
    changes, advice = regularize(config)
    return Diagnosis("overfitting", "Overfitting", detail, advice, changes, "warning")


def _underfitting(
    epochs: Sequence[Mapping[str, Any]], config: TrainConfig | None, status: str | None
) -> Diagnosis:
    last = epochs[-1]
    detail = (
        f"Training accuracy is only {last['train_acc']:.1%} (validation {last['val_acc']:.1%}): "
        "the model cannot even fit the images it trains on."
    )
    earlier = epochs[-3]["val_loss"]
    improving = (earlier - last["val_loss"]) / max(earlier, 1e-12) > STILL_IMPROVING
    if improving and status not in ("early_stopped",):
        changes = {"epochs": clamp("epochs", 2 * config.epochs)} if config else {}
        return Diagnosis(
            "still_learning",
            "Still learning",
            detail + f" But validation loss is still falling ({earlier:.3f} → "
            f"{last['val_loss']:.3f} over the last 3 epochs).",
            "Train for more epochs.",
            changes,
            "info",
        )
    changes, advice = more_capacity(config)
    return Diagnosis(
        "underfitting",
        "Underfitting",
        detail + " Both losses are high and have flattened out.",
        advice,
        changes,
        "warning",
    )


def _good(epochs: Sequence[Mapping[str, Any]], status: str | None, preliminary: bool) -> Diagnosis:
    last, best = epochs[-1], _best(epochs)
    detail = (
        f"Validation accuracy {best['val_acc']:.1%} at the best epoch ({best['epoch']}), "
        f"training accuracy {last['train_acc']:.1%}: the curves are low and close together, "
        "so what the model learned carries over to images it has not seen."
    )
    if status == "stopped":
        detail += " The run was stopped early; the best weights so far are kept."
    return Diagnosis(
        "good",
        "Good fit" + (" so far" if preliminary else ""),
        detail,
        "Check it on the test set (Evaluate page) — once, at the end.",
        {},
        "success",
        preliminary,
    )


def fmt_loss(value: float) -> str:
    """Three significant digits: 0.619, 0.0123, 1.2e-05 (a fixed 0.000 would hide memorisation)."""
    return f"{value:.3g}"
