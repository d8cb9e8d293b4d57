"""What a robustness sweep measured (`Curve`, `Sweep`) and how it reads in words.

`weakest` names the perturbation that breaks the model earliest ("accuracy falls below 90 %
at 25° of rotation"); `compare` sets two runs' sweeps side by side.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mnist_core.text import percent


@dataclass(frozen=True)
class Curve:
    """Accuracy at each strength of one perturbation."""

    name: str
    label: str
    unit: str
    values: list[float]
    accuracy: list[float]
    blank: list[float]  # share of inputs the app found blank (counted as wrong)
    through_app: bool
    identity: float


@dataclass(frozen=True)
class Sweep:
    """All curves of one model on one set of validation images."""

    label: str  # the run's label (or what the caller named it)
    run_id: str | None
    n: int
    accuracy: float  # plain validation accuracy on these n images (the model alone)
    app_accuracy: float  # the same images through the app's preprocessing
    curves: list[Curve]
    seconds: float
    images: str = ""  # fingerprint of the images used: two sweeps compare only on the same ones
    summary: str = ""  # the weakest-direction sentence

    def curve(self, name: str) -> Curve:
        for c in self.curves:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Sweep:
        return cls(**{**d, "curves": [Curve(**c) for c in d["curves"]]})


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v - round(v)) < 0.05 or abs(v) >= 10 else f"{v:.1f}"


def pct(x: float, digits: int = 0) -> str:
    """0.9 → "90 %" (the studio's spacing)."""
    return percent(x, digits, spaced=True)


def describe(name: str, value: float) -> str:
    """A strength in words: "at 25° of rotation", "when strokes are 1 px thinner per side"."""
    v = _fmt(abs(value))
    return {
        "rotate": f"at {v}° of rotation",
        "scale": f"at {v} % of the original size",
        "shift_before": f"at a {v} px shift before the app's centring",
        "shift_after": f"at a {v} px shift after the app's centring",
        "thickness": f"when strokes are {v} px {'thinner' if value < 0 else 'thicker'} per side",
        "noise": f"at Gaussian noise of σ = {v} % of full ink",
        "blur": f"at a blur of σ = {v} px",
        "invert": "with inverted colours",
    }[name]


def _sides(curve: Curve) -> list[tuple[list[float], list[float]]]:
    """(values from the identity outwards, accuracies) for each side of a curve: scale and
    thickness go two ways (smaller/bigger, thinner/thicker), the others one."""
    vals, accs = curve.values, curve.accuracy
    if curve.identity not in vals:
        return [(vals, accs)]
    i = vals.index(curve.identity)
    sides = []
    if i > 0:
        sides.append((vals[i::-1], accs[i::-1]))
    if i < len(vals) - 1:
        sides.append((vals[i:], accs[i:]))
    return sides


def default_bar(sweep_: Sweep) -> float:
    """90 %, or 5 points under the model's own unperturbed accuracy when that is below 95 %."""
    base = min(sweep_.accuracy, sweep_.app_accuracy)
    return 0.9 if base >= 0.95 else max(0.0, math.floor((base - 0.05) * 100) / 100)


def weakest(sweep_: Sweep, below: float | None = None) -> dict[str, Any]:
    """The direction that falls below `below` (default `default_bar`) earliest: the first
    measured strength under the bar, as a share of its range (ties: the lower accuracy); if none
    does, the one that loses most. Keys: perturbation, value, accuracy, crossed, below, sentence.

    Measured strengths, not interpolated ones: between two measured points the curve is unknown.
    """
    bar = default_bar(sweep_) if below is None else below
    first: tuple | None = None  # (share of the range, accuracy, name, strength)
    worst: tuple | None = None  # (drop, name, strength, accuracy)
    for curve in sweep_.curves:
        for vals, accs in _sides(curve):
            span = abs(vals[-1] - vals[0]) or 1.0
            j = next((j for j in range(1, len(vals)) if accs[j] < bar), None)
            if j is not None and accs[0] >= bar:
                key = (abs(vals[j] - vals[0]) / span, accs[j], curve.name, vals[j])
                first = key if first is None or key[:2] < first[:2] else first
            k = int(np.argmin(accs))
            if worst is None or accs[0] - accs[k] > worst[0]:
                worst = (accs[0] - accs[k], curve.name, vals[k], accs[k])
    if worst is None:
        return _weakness(bar, None, None, None, False, "No perturbation was measured.")
    if first is not None:
        _, acc, name, v = first
        sentence = f"Accuracy falls below {pct(bar)} {describe(name, v)} ({pct(acc, 1)})."
        return _weakness(bar, name, v, acc, True, sentence)
    _, name, v, acc = worst
    sentence = (
        f"Accuracy stays at or above {pct(bar)} under every perturbation tested; "
        f"it drops most {describe(name, v)} (to {pct(acc, 1)})."
    )
    return _weakness(bar, name, v, acc, False, sentence)


def _weakness(
    bar: float, name: str | None, value: float | None, accuracy: float | None, crossed: bool, sentence: str
) -> dict[str, Any]:
    """The answer of `weakest`, in its documented key order."""
    return {
        "perturbation": name,
        "value": None if value is None else float(value),
        "accuracy": accuracy,
        "crossed": crossed,
        "below": bar,
        "sentence": sentence,
    }


def compare(a: Sweep, b: Sweep) -> dict[str, Any]:
    """Two sweeps side by side: rows (perturbation, label, value, a, b, difference) and a sentence
    naming where they differ most; `same_images` False when measured on different images."""
    rows = []
    biggest: tuple | None = None
    names_b = {c.name for c in b.curves}
    for ca in a.curves:
        if ca.name not in names_b:
            continue
        cb = b.curve(ca.name)
        for v, acc_a, acc_b in zip(ca.values, ca.accuracy, cb.accuracy):
            rows.append(
                {
                    "perturbation": ca.name,
                    "label": ca.label,
                    "value": v,
                    "a": acc_a,
                    "b": acc_b,
                    "difference": acc_b - acc_a,
                }
            )
            if v != ca.identity and (biggest is None or abs(acc_b - acc_a) > abs(biggest[0])):
                biggest = (acc_b - acc_a, ca.name, v, acc_a, acc_b)
    same = bool(a.images) and a.images == b.images
    if biggest is None:
        sentence = "The two sweeps share no perturbation."
    elif abs(biggest[0]) < 0.005:
        sentence = "The two models are equally robust: within half a point at every strength."
    else:
        diff, name, v, acc_a, acc_b = biggest
        better, worse = (b.label, a.label) if diff > 0 else (a.label, b.label)
        sentence = (
            f"{better} holds up better than {worse} {describe(name, v)}: "
            f"{pct(max(acc_a, acc_b), 1)} against {pct(min(acc_a, acc_b), 1)}."
        )
    if not same:
        sentence += " They were measured on different validation images: compare with care."
    return {"rows": rows, "same_images": same, "sentence": sentence}
