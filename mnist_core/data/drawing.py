"""Turn a drawn or photographed digit into an MNIST-style 28×28 model input.

Every prediction path (canvas, upload, collected drawings) goes through
`prepare_digit`, so a digit is always seen the way MNIST itself was built:
ink cropped to its bounding box, scaled to fit 20×20 with the aspect ratio kept
and anti-aliasing, then pasted into 28×28 with its centre of mass at (14, 14),
and finally scaled uint8/255 exactly like the training images.
Uploads are opened with `load_image_file`, which refuses oversized, truncated,
corrupt and decompression-bomb files with a human-readable `ImageError`.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps

if TYPE_CHECKING:
    import torch

CANVAS_SIZE = 28
FIT_SIZE = 20
CENTRE = 14.0  # MNIST puts the centre of mass at pixel (14, 14), not 13.5
MIN_CONTRAST = 24  # brightest ink above the background, out of 255; below this it is noise
NOISE_FLOOR = 0.2  # fraction of the brightest ink; fainter pixels are paper texture or blur
MAX_WORK_SIDE = (
    1024  # bigger inputs (phone photos) are shrunk first: detail beyond this is lost at 20×20 anyway
)
ACCEPTED_FORMATS = (
    "PNG",
    "JPEG",
    "BMP",
    "GIF",
    "WEBP",
)  # "JPEG" also opens phones' multi-picture (MPO) files
UPLOAD_TYPES = ("png", "jpg", "jpeg", "bmp", "gif", "webp")  # for a file uploader's `type=`
BLANK_MESSAGE = "No digit found: draw something first."
TOO_SMALL_MESSAGE = "No digit found: the drawing is too small or faint, draw a bigger digit."

_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_WIDE_INT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}


class ImageError(ValueError):
    """An input image that cannot be used; the message is meant for the user."""


@dataclass(frozen=True)
class PreparedDigit:
    """The preprocessed digit plus the intermediate stages, for display."""

    is_blank: bool  # True = "no digit": do not predict
    image: np.ndarray | None  # (28, 28) float32 in [0, 1]; None when blank
    stages: dict[str, np.ndarray] = field(default_factory=dict)  # ink, cropped, fitted, centered (uint8 2-D)
    message: str = ""


# ---------------------------------------------------------------- input → ink


def _as_uint8(arr: np.ndarray) -> np.ndarray:
    """Any numeric array → uint8 0..255; floats with max ≤ 1 are taken as 0..1 intensities."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ImageError(f"Cannot read an image stored as {arr.dtype} values.")
    values = np.nan_to_num(arr.astype(np.float32, copy=False))
    if np.issubdtype(arr.dtype, np.floating) and values.max(initial=0.0) <= 1.0:
        values = values * 255.0
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _pil_to_array(img: Image.Image) -> np.ndarray:
    """A PIL image of any mode → uint8 array (H, W), (H, W, 3) or (H, W, 4)."""
    if img.mode in _ALPHA_MODES or "transparency" in img.info:
        return np.asarray(img.convert("RGBA"))
    if img.mode in _WIDE_INT_MODES:
        return (np.asarray(img, dtype=np.uint32) // 257).astype(np.uint8)  # 16-bit grey PNGs
    if img.mode in {"I", "F"}:
        return _as_uint8(_normalise_wide(np.asarray(img, dtype=np.float32)))
    if img.mode == "L":
        return np.asarray(img)
    return np.asarray(img.convert("RGB"))  # 1, P, CMYK, YCbCr, HSV, RGBX...


def _normalise_wide(values: np.ndarray) -> np.ndarray:
    # 32-bit modes have no fixed range: scale the brightest pixel to white unless already 0..255
    top = float(values.max(initial=0.0))
    return values * (255.0 / top) if top > 255.0 else values


def _to_gray(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 → luminance uint8 (ITU-R 601 weights), via PIL because it is ~10× faster than numpy."""
    return np.array(Image.fromarray(np.ascontiguousarray(rgb), "RGB").convert("L"))


def _border(gray: np.ndarray) -> np.ndarray:
    return np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])


def _ink_from_array(arr: np.ndarray) -> np.ndarray:
    """Image array → ink as uint8 (H, W), white ink on black, background brought to 0."""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)):
        raise ImageError(f"Expected a 2-D greyscale or an RGB/RGBA image, got an array of shape {arr.shape}.")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ImageError("The image is empty (zero width or height).")
    arr = _as_uint8(arr)
    if arr.ndim == 3 and arr.shape[2] in (2, 4):
        alpha = arr[..., -1]
        # A transparent canvas sends its strokes only in alpha (RGB may be all zero)
        if alpha.min() < 255:
            return alpha.copy()
        arr = arr[..., :-1] if arr.shape[2] == 4 else arr[..., 0]
    gray = _to_gray(arr) if arr.ndim == 3 else arr.copy()
    background = int(np.median(_border(gray)))
    if background > 127:  # dark ink on light paper: flip to MNIST polarity
        gray = np.subtract(255, gray, dtype=np.uint8)
        background = 255 - background
    if background > 0:  # grey paper or a lit scene: make the background exactly 0
        gray = np.where(gray > background, gray - np.uint8(background), np.uint8(0))
    return gray


def _shrink_large(ink: np.ndarray) -> np.ndarray:
    factor = -(-max(ink.shape) // MAX_WORK_SIDE)
    if factor <= 1:
        return ink
    return np.array(Image.fromarray(ink).reduce(factor))  # a writable copy: _clean edits in place


def _clean(ink: np.ndarray) -> tuple[np.ndarray, int]:
    """Stretch ink so its brightest pixel is 255 and drop faint noise; returns (ink, brightest before)."""
    top = int(ink.max())
    if top < MIN_CONTRAST:
        return np.zeros_like(ink), top
    if top < 255:
        ink = (ink.astype(np.uint16) * 255 // top).astype(np.uint8)
    ink[ink < int(NOISE_FLOOR * 255)] = 0
    return ink, top


# ---------------------------------------------------------------- geometry


def _bounding_box(ink: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right), bottom/right exclusive, of the non-zero pixels."""
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _fit(cropped: np.ndarray, size: int = FIT_SIZE) -> np.ndarray:
    """Scale so the longer side is `size`, aspect kept, anti-aliased (LANCZOS)."""
    h, w = cropped.shape
    scale = size / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    # reducing_gap box-averages first, so big canvases stay fast without aliasing
    fitted = Image.fromarray(cropped).resize((new_w, new_h), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.asarray(fitted)


def _centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    mass = img.astype(np.float64)
    total = mass.sum()
    h, w = img.shape
    if total <= 0:
        return (h - 1) / 2, (w - 1) / 2
    cy = float(mass.sum(axis=1) @ np.arange(h)) / total
    cx = float(mass.sum(axis=0) @ np.arange(w)) / total
    return cy, cx


def _centre(fitted: np.ndarray, size: int = CANVAS_SIZE) -> np.ndarray:
    """Paste into size×size with the centre of mass at (14, 14), clamped so nothing is cut off.

    The shift is subpixel (bilinear): rounding to whole pixels would make two
    almost identical drawings land a pixel apart whenever the offset is near .5.
    """
    h, w = fitted.shape
    cy, cx = _centre_of_mass(fitted)
    top = min(max(CENTRE - cy, 0.0), float(size - h))
    left = min(max(CENTRE - cx, 0.0), float(size - w))
    iy, ix = int(top), int(left)  # both ≥ 0, so int() floors
    fy, fx = top - iy, left - ix
    source = fitted.astype(np.float32)
    out = np.zeros((size, size), dtype=np.float32)
    # a fractional part spills into the next row/column; the clamp above leaves room for it
    for dy, wy in ((0, 1.0 - fy), (1, fy)):
        for dx, wx in ((0, 1.0 - fx), (1, fx)):
            if wy * wx > 0:
                out[iy + dy : iy + dy + h, ix + dx : ix + dx + w] += (wy * wx) * source
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- public API


def prepare_digit(image: np.ndarray | Image.Image, *, min_ink_fraction: float = 0.002) -> PreparedDigit:
    """Canvas drawing or photo → MNIST-style 28×28, or a blank result when there is no digit.

    Ink is the alpha channel when the image has a non-opaque one (transparent
    canvas); otherwise greyscale, inverted when the border is bright.
    A drawing counts as blank when its ink covers fewer than
    `min_ink_fraction` of the pixels or is barely brighter than the background.
    """
    arr = _pil_to_array(image) if isinstance(image, Image.Image) else np.asarray(image)
    ink, top = _clean(_shrink_large(_ink_from_array(arr)))
    stages: dict[str, np.ndarray] = {"ink": ink}
    if top < MIN_CONTRAST:
        return PreparedDigit(True, None, stages, BLANK_MESSAGE)
    if np.count_nonzero(ink) < min_ink_fraction * ink.size:
        return PreparedDigit(True, None, stages, TOO_SMALL_MESSAGE)
    top_row, bottom, left, right = _bounding_box(ink)
    stages["cropped"] = ink[top_row:bottom, left:right]
    stages["fitted"] = _fit(stages["cropped"])
    stages["centered"] = _centre(stages["fitted"])
    model_input = stages["centered"].astype(np.float32) / np.float32(255.0)
    return PreparedDigit(False, model_input, stages, "")


def to_model_input(prepared: PreparedDigit) -> torch.Tensor:
    """(1, 1, 28, 28) float32 tensor for a model; ValueError when there is no digit."""
    if prepared.is_blank or prepared.image is None:
        raise ValueError(prepared.message or BLANK_MESSAGE)
    import torch  # deferred: preprocessing and its tests should not pay torch's import time

    return torch.from_numpy(np.array(prepared.image, dtype=np.float32)).reshape(
        1, 1, CANVAS_SIZE, CANVAS_SIZE
    )


def load_image_file(data: bytes, *, max_bytes: int = 5_000_000, max_pixels: int = 25_000_000) -> Image.Image:
    """Open uploaded image bytes safely, fully decoded and upright (EXIF rotation applied).

    Raises ImageError for files over `max_bytes`, images over `max_pixels`
    (decompression bombs), truncated or corrupt files and non-images.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageError("Expected the uploaded file's bytes.")
    size = len(data)
    if size == 0:
        raise ImageError("The file is empty.")
    if size > max_bytes:
        raise ImageError(
            f"The file is {size / 1e6:.1f} MB; images up to {max_bytes / 1e6:g} MB are accepted."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
            _check_pixels(img.size, max_pixels)  # header only: refuse before decoding anything
            img.load()
            return ImageOps.exif_transpose(img)
        except ImageError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageError(f"The image is too large to open safely ({exc}).") from exc
        except Image.UnidentifiedImageError as exc:
            raise ImageError(
                f"This is not a readable image; upload a {', '.join(UPLOAD_TYPES[:3])} file."
            ) from exc
        except (
            Exception
        ) as exc:  # decoders raise OSError, SyntaxError, EOFError, zlib.error...: all mean "broken file"
            raise ImageError(f"The image file is damaged or truncated and cannot be read ({exc}).") from exc


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    # a local limit instead of Image.MAX_IMAGE_PIXELS, which is global to every thread and caller
    w, h = size
    if w * h > max_pixels:
        raise ImageError(
            f"The image is {w}×{h} pixels ({w * h / 1e6:.0f} megapixels); "
            f"at most {max_pixels / 1e6:g} megapixels are accepted."
        )
