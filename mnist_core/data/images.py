"""Pictures for people: enlarging digits, tiling them into one image, encoding PNGs.

Browsers blur a 28×28 image stretched to a thumbnail into grey mush, so every enlargement
here keeps hard pixel edges: `upscale` repeats each pixel a whole number of times,
`upscale_to` fits the longer side to a size in pixels (nearest neighbour). `tile` lays a
stack of images out in a grid with gutters; `png_bytes` / `png_data_uri` encode the result,
the second for an HTML page that must open with no file and no network. `file_fingerprint`
names a file's bytes, so the same drawing is recognised when it comes again.
"""

from __future__ import annotations

import base64
import hashlib
import io

import numpy as np
import torch
from PIL import Image

ORIGINAL_MAX_SIDE = 560  # stored originals of uploads are shrunk to this; canvases are 280 px


def as_uint8(image: np.ndarray | torch.Tensor) -> np.ndarray:
    """A uint8 array of an image; floats are read as 0-1 intensities."""
    arr = image.numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if arr.dtype == np.uint8:
        return arr
    return np.clip(np.rint(arr.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)


def _is_picture(shape: tuple[int, ...]) -> bool:
    """(H, W) greyscale or (H, W, 3|4) colour."""
    return len(shape) == 2 or (len(shape) == 3 and shape[2] in (3, 4))


def upscale(image: np.ndarray | torch.Tensor, factor: int) -> np.ndarray:
    """Each pixel of a picture ((H, W) or (H, W, 3|4)) as a `factor`×`factor` block (whole pixels)."""
    if factor < 1:
        raise ValueError(f"factor must be at least 1, got {factor!r}.")
    arr = image.numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if not _is_picture(arr.shape):
        raise ValueError(f"expected one 2-D image (greyscale or RGB), got shape {arr.shape}")
    return np.repeat(np.repeat(arr, factor, axis=0), factor, axis=1)


def upscale_to(image: np.ndarray | torch.Tensor, side: int) -> np.ndarray:
    """A uint8 or 0-1 float image resized so its longer side is `side` pixels, hard pixel edges kept."""
    arr = as_uint8(image)
    h, w = arr.shape[:2]
    scale = side / max(h, w, 1)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(arr).resize(size, Image.Resampling.NEAREST))


def tile(
    images: np.ndarray | torch.Tensor, cols: int = 10, *, scale: int = 1, gap: int = 2, background: int = 40
) -> np.ndarray:
    """Tile a stack of uint8 images ((N, H, W) or RGB (N, H, W, 3)) into one picture, `cols` per row.

    Each image is upscaled `scale` times; `gap` pixels of `background` grey separate and
    frame them. An empty stack gives one blank cell, so a page can always show something.
    """
    arr = np.asarray(images.numpy() if isinstance(images, torch.Tensor) else images, dtype=np.uint8)
    if arr.ndim < 3 or not _is_picture(arr.shape[1:]):
        raise ValueError(f"expected a stack of 2-D images, got shape {arr.shape}")
    n, h, w = arr.shape[:3]
    channels = arr.shape[3:]
    if n == 0:
        return np.full((h * scale, w * scale, *channels), background, dtype=np.uint8)
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    cell_h, cell_w = h * scale + gap, w * scale + gap
    out = np.full((rows * cell_h + gap, cols * cell_w + gap, *channels), background, dtype=np.uint8)
    for k, img in enumerate(arr):
        r, c = divmod(k, cols)
        y, x = gap + r * cell_h, gap + c * cell_w
        out[y : y + h * scale, x : x + w * scale] = upscale(img, scale) if scale > 1 else img
    return out


def png_bytes(image: np.ndarray | Image.Image, *, max_side: int | None = None, fast: bool = False) -> bytes:
    """PNG bytes of an image array or PIL image; shrunk (aspect kept) to `max_side` if given.

    `fast` trades size for speed (light compression instead of the smallest file): for
    thousands of tooltip thumbnails rather than one stored picture.
    """
    img = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    if max_side is not None and max(img.size) > max_side:
        img = img.copy()
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    if img.mode not in {"L", "LA", "RGB", "RGBA"}:
        img = img.convert("RGBA")
    buf = io.BytesIO()
    img.save(buf, format="PNG", **({"compress_level": 1} if fast else {"optimize": True}))
    return buf.getvalue()


def png_data_uri(image: np.ndarray | Image.Image, *, fast: bool = False) -> str:
    """A `data:` URI of the image as PNG, for an HTML page with no file and no network."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image, fast=fast)).decode("ascii")


def file_fingerprint(data: bytes) -> str:
    """A short content hash: the same file gives the same value, so it is stored only once."""
    return hashlib.blake2b(data, digest_size=12).hexdigest()
