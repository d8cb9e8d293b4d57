"""What a fitted learning curve means, in numbers and in words: the target accuracy checked, how
many labelled images reach it (rounded up, with a range), whether the images at hand suffice,
and, when the target lies below the curve's floor, which more capable model to try instead.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from mnist_core.config import DEFAULT_PRESET, PRESETS, TrainConfig
from mnist_core.planning.curve.errors import CurveError
from mnist_core.planning.curve.fit import Fit, pct

if TYPE_CHECKING:
    from mnist_core.planning.curve.store import Curve

CHANCE_ACCURACY = 0.1  # ten digits: guessing gets 10 %
DEFAULT_TARGET = 0.985
MODEL_RANK = {"baseline": 0, "logreg": 1, "mlp": 2, "cnn": 3}
# a family with no bigger preset grows by doubling one width, up to a cap: (field, cap, wording)
_WIDER = {"cnn": ("cnn_channels", 256, "CNN"), "mlp": ("mlp_width", 4096, "MLP")}


def check_target(target_accuracy: float) -> float:
    """The target as a float in (chance, 1), or a CurveError that says how to give it."""
    if (
        isinstance(target_accuracy, bool)
        or not isinstance(target_accuracy, (int, float))
        or not math.isfinite(target_accuracy)
    ):
        raise CurveError(f"The target accuracy must be a number, got {target_accuracy!r}.")
    if target_accuracy >= 1:
        raise CurveError(
            f"A target accuracy of {target_accuracy:g} is not below 100 %: give it as a "
            "fraction below 1, e.g. 0.985 for 98.5 %."
        )
    if target_accuracy <= CHANCE_ACCURACY:
        raise CurveError(
            f"A target accuracy of {pct(target_accuracy, 1)} is no better than guessing one of "
            "ten digits (10 %): give a target above 0.1, e.g. 0.985."
        )
    return float(target_accuracy)


def _round_up(n: float) -> int:
    """Round a size up to two significant digits: 2,134 → 2,200; 87 → 87."""
    n = math.ceil(n)
    if n < 100:
        return int(n)
    step = 10 ** (len(str(n)) - 2)
    return int(math.ceil(n / step) * step)


def target_estimate(fit: Fit, target_accuracy: float, have: int) -> dict[str, Any]:
    """The numbers behind the sentence: size needed (rounded up), its range, and whether `have` suffices.

    "low"/"high" are None when that end is out of reach / unbounded.
    """
    target = check_target(target_accuracy)
    error = 1.0 - target
    size = fit.size_for(error)
    lo, hi = fit.size_range_for(error)
    return {
        "target_accuracy": target,
        "target_error": error,
        "reachable": size is not None,
        "size": _round_up(size) if size is not None else None,
        "low": _round_up(lo) if lo is not None else None,
        "high": _round_up(hi) if hi is not None else None,
        "have": int(have),
        "enough": (size <= have) if size is not None else False,
        "floor_accuracy": fit.floor_accuracy,
        "extrapolation": (size / fit.max_size) if size is not None and fit.max_size else None,
    }


def curve_estimate(curve: Curve, target_accuracy: float) -> dict[str, Any]:
    """A saved curve's answer at `target_accuracy`, with what was measured: the Plan answer that
    Define's cost calculator reads. Raises CurveError for a target it cannot take."""
    est = target_estimate(curve.fit, target_accuracy, curve.n_train)
    return {
        "curve_id": curve.id,
        "label": curve.label,
        "strategy": curve.strategy,
        "model": curve.config.summary(),
        "size": est["size"],
        "low": est["low"],
        "high": est["high"],
        "have": est["have"],
        "target": est["target_accuracy"],
        "reachable": est["reachable"],
        "floor_accuracy": est["floor_accuracy"],
        "enough": est["enough"],
    }


def bigger_model(config: TrainConfig | None) -> dict[str, Any]:
    """A more capable model to suggest when the curve levels off above the target.

    The next model family up (as a preset, the page can link to Train with it), or for a CNN
    with no bigger preset, the same CNN with twice the channels. Presets that cap the training
    images (the over/under-fitting demos) are never suggested.
    """
    from mnist_core.training.models import parameter_count

    if config is None:
        return _suggestion(None, {}, "a bigger model")
    mine = (MODEL_RANK[config.model], parameter_count(config))
    better = sorted(
        (MODEL_RANK[c.model], parameter_count(c), name)
        for name, c in PRESETS.items()
        if not c.max_train_samples and (MODEL_RANK[c.model], parameter_count(c)) > mine
    )
    if better:
        # a stronger family: the default preset when it is one, else the smallest step up
        names = [b[2] for b in better if b[0] > mine[0]]
        name = DEFAULT_PRESET if DEFAULT_PRESET in names else better[0][2]
        return _suggestion(name, PRESETS[name].to_dict(), f"the “{name}” preset ({PRESETS[name].summary()})")
    if config.model in _WIDER:
        knob, cap, label = _WIDER[config.model]
        now = getattr(config, knob)
        if now < cap:
            wider = min(now * 2, cap)
            return _suggestion(None, {knob: wider}, f"a wider {label} ({knob} {wider} instead of {now})")
    return _suggestion(None, {}, "a bigger model")


def _suggestion(preset: str | None, changes: dict[str, Any], text: str) -> dict[str, Any]:
    """A `bigger_model` answer: the preset to start from (or None), the changes to it, the wording."""
    return {"preset": preset, "changes": changes, "text": text}


def estimate_sentence(fit: Fit, target_accuracy: float, have: int, config: TrainConfig | None = None) -> str:
    """'To reach 98.5 % you need about N labelled images (range N1–N2). You have M.' — or, when the
    target lies below the fitted floor, that more data of this kind will not get there."""
    est = target_estimate(fit, target_accuracy, have)
    target = pct(est["target_accuracy"])
    if not est["reachable"]:
        return (
            f"{target} is out of reach for this model: its learning curve levels off at about "
            f"{pct(fit.c, 1)} error ({pct(fit.floor_accuracy, 1)} accuracy), so more data of this "
            f"kind will not get there with this model. Try {bigger_model(config)['text']}."
        )
    lo, hi = est["low"], est["high"]
    if lo is not None and hi is not None:
        rng = f"range {lo:,}–{hi:,}"
    elif lo is not None:
        rng = f"range {lo:,} or more: some refits never get there"
    else:
        rng = "the range is unknown"
    text = f"To reach {target} you need about {est['size']:,} labelled images ({rng}). You have {have:,}"
    if est["enough"]:
        text += ": enough."
    else:
        text += f": label about {_round_up(est['size'] - have):,} more."
    if est["extrapolation"] and est["extrapolation"] > 4:
        text += (
            f" That is {est['extrapolation']:.0f}× the largest measured size ({fit.max_size:,}), "
            "so treat it as a rough guess."
        )
    return text
