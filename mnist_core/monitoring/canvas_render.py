"""An MNIST digit as if someone had drawn it on the Deploy canvas, then prepared like a drawing.

Drawings reach the model through `prepare_digit` (crop, fit to 20×20, centre of mass to (14, 14),
noise floor), which changes a digit a little: strokes are re-sampled and faint edges dropped. A
monitor that compared prepared drawings with raw MNIST images would see that change as drift in
every field, so the reference takes the same road: each 28×28 digit is enlarged to the canvas
(280×280, the Deploy page's size, where MNIST's 20-pixel box becomes a 200-pixel drawing in the
middle), its grey ramps steepened into the hard, opaque edge of a pen, stored in the alpha channel of
an otherwise transparent image as the canvas sends it, and handed to `prepare_digit`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PIL import Image

from mnist_core.data.drawing import PreparedDigit, prepare_digit

CANVAS_SIDE = 280  # ui/deploy.py CANVAS_PX: 10× MNIST
# A pen paints full ink with an anti-aliased rim of a pixel or two; MNIST's scanned strokes fade
# over a whole pixel (10 canvas pixels). Mapping intensities 0.35..0.65 onto 0..1 keeps MNIST's
# stroke outline (its half-intensity contour) and gives it a pen's rim of about 3 canvas pixels.
PEN_EDGE = (0.35, 0.65)
_PEN_LUT = [
    round(255 * min(max((v / 255 - PEN_EDGE[0]) / (PEN_EDGE[1] - PEN_EDGE[0]), 0.0), 1.0)) for v in range(256)
]


def as_drawn(digit: np.ndarray, side: int = CANVAS_SIDE) -> np.ndarray:
    """A (28, 28) uint8 digit → (side, side, 4) uint8 RGBA canvas image: black ink, strokes in alpha."""
    arr = np.asarray(digit)
    if arr.shape != (28, 28):
        raise ValueError(f"Expected a 28×28 digit, got shape {arr.shape}.")
    if arr.dtype != np.uint8:
        arr = np.clip(
            np.rint(np.asarray(arr, dtype=np.float32) * (255.0 if arr.max() <= 1.0 else 1.0)), 0, 255
        )
        arr = arr.astype(np.uint8)
    # bicubic: a smooth outline at 10×, so the pen edge below follows curves instead of pixel steps
    big = Image.fromarray(arr).resize((side, side), Image.Resampling.BICUBIC)
    canvas = np.zeros((side, side, 4), dtype=np.uint8)
    canvas[..., 3] = np.asarray(big.point(_PEN_LUT))  # a lookup table: 10× faster than float maths
    return canvas


def prepare_as_drawn(digit: np.ndarray, side: int = CANVAS_SIDE) -> PreparedDigit:
    """`as_drawn` followed by exactly the preprocessing a drawing gets."""
    return prepare_digit(as_drawn(digit, side))


def prepare_all_as_drawn(digits: Iterable[np.ndarray], side: int = CANVAS_SIDE) -> list[PreparedDigit]:
    """`prepare_as_drawn` for each digit (a blank result stays in the list, for the caller to drop)."""
    return [prepare_as_drawn(d, side) for d in digits]
