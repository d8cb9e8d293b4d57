"""Traits of a drawn digit that people understand: ink, stroke thickness, slant, size, position, shape.

The model's own features say *whether* the field differs; these say *how*, in words. Four are read
from the 28×28 model input (what the model sees after cropping and centring): ink amount, stroke
thickness, slant and width-to-height ratio. Three are read from the ink before it was cropped and
centred (the canvas or the photo), because centring erases them: the digit's size and its position
on the canvas. A stored drawing without its original image has no such "before" and gets NaN there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mnist_core.data.drawing import PreparedDigit

STROKE_LEVEL = 0.5  # a pixel at least this bright (0..1) is stroke, for thickness and box


@dataclass(frozen=True)
class Trait:
    """One interpretable trait: its key, how to say it, its unit, and words for more / less of it."""

    key: str
    label: str
    unit: str
    more: str
    less: str


TRAITS = (
    Trait("ink", "ink amount", "% of the 28×28 input", "more ink", "less ink"),
    Trait("thickness", "stroke thickness", "px of 28", "thicker strokes", "thinner strokes"),
    Trait("slant", "slant", "° (+ leans right)", "leaning more to the right", "leaning more to the left"),
    Trait("aspect", "width / height", "ratio", "wider digits", "narrower digits"),
    Trait("size", "size before centring", "% of the canvas side", "drawn bigger", "drawn smaller"),
    Trait(
        "x",
        "position before centring, across",
        "% of the side (0 = centre, + right)",
        "drawn further right",
        "drawn further left",
    ),
    Trait(
        "y",
        "position before centring, down",
        "% of the side (0 = centre, + lower)",
        "drawn lower",
        "drawn higher",
    ),
)
KEYS = tuple(t.key for t in TRAITS)


def _moments(image: np.ndarray) -> tuple[float, float, float]:
    """Central second moments (mu11, mu02 along y, mu20 along x) of an ink image."""
    h, w = image.shape
    total = float(image.sum())
    ys, xs = np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64)
    cy = float(image.sum(axis=1) @ ys) / total
    cx = float(image.sum(axis=0) @ xs) / total
    dy, dx = ys - cy, xs - cx
    mu02 = float(image.sum(axis=1) @ (dy * dy)) / total
    mu20 = float(image.sum(axis=0) @ (dx * dx)) / total
    mu11 = float(dy @ image @ dx) / total
    return mu11, mu02, mu20


def slant_degrees(image: np.ndarray) -> float:
    """How far the digit leans, in degrees from upright; positive when its top leans right.

    The shear that would make the ink's principal axis vertical (mu11 / mu02, as in the deskewing
    used on MNIST); image rows grow downwards, so a top leaning right has a negative mu11.
    """
    mu11, mu02, _ = _moments(image.astype(np.float64))
    return math.degrees(math.atan2(-mu11, mu02)) if mu02 > 0 else 0.0


def stroke_thickness(image: np.ndarray) -> float:
    """Mean stroke width in pixels: twice the stroke area over its outline length.

    A stroke of length L and width w has area L·w and an outline of about 2·L, so 2·area/outline ≈ w
    without finding the skeleton; the outline is counted as stroke/background pixel edges.
    """
    stroke = image >= STROKE_LEVEL
    area = int(stroke.sum())
    if area == 0:
        return 0.0
    padded = np.pad(stroke, 1)
    outline = int(np.count_nonzero(padded[1:, :] != padded[:-1, :])) + int(
        np.count_nonzero(padded[:, 1:] != padded[:, :-1])
    )
    return 2.0 * area / outline


def _aspect(image: np.ndarray) -> float:
    stroke = image >= STROKE_LEVEL
    if not stroke.any():
        return math.nan
    rows, cols = np.flatnonzero(stroke.any(axis=1)), np.flatnonzero(stroke.any(axis=0))
    return (cols[-1] - cols[0] + 1) / (rows[-1] - rows[0] + 1)


def _placement(ink: np.ndarray) -> tuple[float, float, float]:
    """(size, x, y) of canvas ink in % of the side: longer box side; centre of mass off the middle."""
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return math.nan, math.nan, math.nan
    h, w = ink.shape
    side = float(max(h, w))
    size = max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) / side
    mass = ink.astype(np.float64)
    total = mass.sum()
    cy = float(mass.sum(axis=1) @ np.arange(h)) / total
    cx = float(mass.sum(axis=0) @ np.arange(w)) / total
    return 100.0 * size, 100.0 * (cx - (w - 1) / 2) / side, 100.0 * (cy - (h - 1) / 2) / side


def digit_traits(image28: np.ndarray, ink: np.ndarray | None = None) -> np.ndarray:
    """The traits (order of `KEYS`) of one model input (28, 28) in [0, 1] or uint8, and optionally
    the ink it was cut from (the `"ink"` stage of `prepare_digit`); NaN where unknown."""
    image = np.asarray(image28, dtype=np.float64)
    if np.asarray(image28).dtype == np.uint8:
        image = image / 255.0
    if image.sum() <= 0:
        before = (math.nan,) * 3
        return np.array((0.0, 0.0, math.nan, math.nan, *before), dtype=np.float64)
    before = _placement(ink) if ink is not None else (math.nan,) * 3
    values = (100.0 * image.mean(), stroke_thickness(image), slant_degrees(image), _aspect(image), *before)
    return np.array(values, dtype=np.float64)


def prepared_traits(prepared: PreparedDigit) -> np.ndarray:
    """`digit_traits` of a non-blank `prepare_digit` result, with its canvas ink."""
    if prepared.is_blank or prepared.image is None:
        raise ValueError("A blank drawing has no traits.")
    return digit_traits(prepared.image, prepared.stages.get("ink"))
