"""Tests for drawn-digit preprocessing and safe image upload loading (mnist_core.data.drawing)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_core.data.drawing import (
    ImageError,
    PreparedDigit,
    load_image_file,
    prepare_digit,
    to_model_input,
)

SIZE = 280


def ring(box: tuple[int, int, int, int], width: int, size: int = SIZE) -> np.ndarray:
    """A "0": white ink on black, uint8 (size, size)."""
    img = Image.new("L", (size, size), 0)
    ImageDraw.Draw(img).ellipse(box, outline=255, width=width)
    return np.asarray(img).copy()


def one(x: int, top: int, height: int, width: int, size: int = SIZE) -> np.ndarray:
    """A "1": a thick vertical stroke with a short flag, white on black."""
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    draw.line((x, top, x, top + height), fill=255, width=width)
    draw.line((x, top, x - height // 4, top + height // 4), fill=255, width=width)
    return np.asarray(img).copy()


def as_canvas_rgba(ink: np.ndarray) -> np.ndarray:
    """Exactly what the transparent drawable canvas sends: RGB all zero, ink only in alpha."""
    rgba = np.zeros(ink.shape + (4,), dtype=np.uint8)
    rgba[..., 3] = ink
    return rgba


def as_paper_rgb(ink: np.ndarray) -> np.ndarray:
    """Dark ink on light paper, RGB, as in a photo."""
    gray = 255 - ink
    return np.stack([gray, gray, gray], axis=-1)


def centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    total = img.sum()
    ys, xs = np.indices(img.shape)
    return float((ys * img).sum() / total), float((xs * img).sum() / total)


def ink_box_sides(img: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(img.any(axis=1))
    cols = np.flatnonzero(img.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def assert_mnist_like(prepared: PreparedDigit) -> None:
    assert not prepared.is_blank and prepared.message == ""
    img = prepared.image
    assert img is not None and img.shape == (28, 28) and img.dtype == np.float32
    assert 0.0 <= img.min() and img.max() <= 1.0 and img.max() > 0.5
    h, w = ink_box_sides(prepared.stages["fitted"])
    assert max(h, w) in (19, 20, 21)
    cy, cx = centre_of_mass(img)
    assert abs(cy - 14) <= 1.0 and abs(cx - 14) <= 1.0
    np.testing.assert_array_equal(img, prepared.stages["centered"].astype(np.float32) / 255)


RING = ring((60, 40, 200, 240), 18)

CASES = {
    "grayscale 2-D, centred": RING,
    "off-centre": ring((0, 150, 90, 279), 12),
    "huge, fills canvas": ring((0, 0, 279, 279), 30),
    "inverted RGB paper": as_paper_rgb(RING),
    "transparent canvas RGBA": as_canvas_rgba(RING),
    "PIL L image": Image.fromarray(RING),
    "PIL RGBA image": Image.fromarray(as_canvas_rgba(RING)),
    "opaque white RGBA": np.dstack([as_paper_rgb(RING), np.full(RING.shape, 255, np.uint8)]),
    "float 0..1": RING.astype(np.float32) / 255,
    "one, thick stroke": one(140, 40, 200, 24),
}


@pytest.mark.parametrize("image", CASES.values(), ids=list(CASES))
def test_prepare_digit_is_mnist_like(image) -> None:
    assert_mnist_like(prepare_digit(image))


def test_stages_are_ordered_uint8_2d() -> None:
    prepared = prepare_digit(as_canvas_rgba(RING))
    assert list(prepared.stages) == ["ink", "cropped", "fitted", "centered"]
    assert all(s.dtype == np.uint8 and s.ndim == 2 for s in prepared.stages.values())
    assert prepared.stages["ink"].shape == (SIZE, SIZE)
    assert prepared.stages["centered"].shape == (28, 28)


def test_same_digit_at_other_position_and_size_gives_same_result() -> None:
    a = prepare_digit(RING).image
    b = prepare_digit(ring((150, 10, 220, 110), 9)).image  # half the size, elsewhere; stroke scaled too
    c = prepare_digit(as_paper_rgb(ring((20, 100, 90, 200), 9))).image
    assert np.linalg.norm(a - b) < 0.15 * np.linalg.norm(a)
    assert np.linalg.norm(a - c) < 0.15 * np.linalg.norm(a)


def test_polarity_variants_agree() -> None:
    reference = prepare_digit(RING).image
    for variant in (as_canvas_rgba(RING), as_paper_rgb(RING), Image.fromarray(as_paper_rgb(RING))):
        np.testing.assert_allclose(prepare_digit(variant).image, reference, atol=2 / 255)


def test_aspect_ratio_is_kept() -> None:
    fitted = prepare_digit(one(140, 40, 200, 24)).stages["fitted"]
    h, w = fitted.shape
    assert h == 20 and w < 12  # a tall "1" stays tall and thin


def test_tiny_digit_is_scaled_up_when_threshold_allows() -> None:
    tiny = one(140, 135, 10, 3)  # 10 px tall in a 280 canvas: ~0.05 % of the pixels
    assert prepare_digit(tiny).is_blank  # below the default 0.2 % ink threshold
    assert_mnist_like(prepare_digit(tiny, min_ink_fraction=0.0002))


def test_small_but_clear_digit_passes_default_threshold() -> None:
    assert_mnist_like(prepare_digit(ring((120, 110, 150, 150), 6)))


def test_photo_with_grey_paper_and_noise() -> None:
    rng = np.random.default_rng(0)
    paper = 190 - (RING.astype(np.int32) * 150 // 255) + rng.integers(-12, 13, RING.shape)
    rgb = np.repeat(np.clip(paper, 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
    prepared = prepare_digit(rgb)
    assert_mnist_like(prepared)
    assert np.linalg.norm(prepared.image - prepare_digit(RING).image) < 0.2 * np.linalg.norm(prepared.image)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((SIZE, SIZE, 4), np.uint8),  # transparent blank canvas
        np.full((SIZE, SIZE, 3), 255, np.uint8),  # white paper
        np.zeros((SIZE, SIZE), np.uint8),
        Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0)),
        np.full((SIZE, SIZE), 5, np.uint8) + np.eye(SIZE, dtype=np.uint8) * 10,  # faint noise only
    ],
    ids=["rgba", "white", "black", "pil", "faint"],
)
def test_blank_is_no_digit(image) -> None:
    prepared = prepare_digit(image)
    assert prepared.is_blank and prepared.image is None
    assert prepared.message.startswith("No digit found")
    assert list(prepared.stages) == ["ink"]


def test_single_speck_is_no_digit() -> None:
    speck = np.zeros((SIZE, SIZE, 4), np.uint8)
    speck[100:104, 200:204, 3] = 255
    prepared = prepare_digit(speck)
    assert prepared.is_blank and "No digit found" in prepared.message


def test_bad_arrays_raise_image_error() -> None:
    for bad in (np.zeros((5, 5, 7), np.uint8), np.zeros((0, 10), np.uint8), np.zeros(10, np.uint8)):
        with pytest.raises(ImageError):
            prepare_digit(bad)


def test_to_model_input() -> None:
    tensor = to_model_input(prepare_digit(RING))
    assert tuple(tensor.shape) == (1, 1, 28, 28) and str(tensor.dtype) == "torch.float32"
    with pytest.raises(ValueError, match="No digit"):
        to_model_input(prepare_digit(np.zeros((SIZE, SIZE), np.uint8)))


# ---------------------------------------------------------------- load_image_file


def encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_load_valid_image(fmt: str) -> None:
    img = load_image_file(encode(Image.fromarray(as_paper_rgb(RING)), fmt))
    assert img.size == (SIZE, SIZE)
    assert_mnist_like(prepare_digit(img))


def test_load_applies_exif_rotation() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    buf = io.BytesIO()
    Image.new("L", (40, 20), 255).save(buf, format="JPEG", exif=exif)
    assert load_image_file(buf.getvalue()).size == (20, 40)


def test_truncated_png() -> None:
    data = encode(Image.fromarray(RING), "PNG")
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_image_file(data[: len(data) // 2])


def test_random_bytes() -> None:
    with pytest.raises(ImageError, match="not a readable image"):
        load_image_file(np.random.default_rng(1).bytes(5000))


def test_empty_and_non_bytes() -> None:
    with pytest.raises(ImageError):
        load_image_file(b"")
    with pytest.raises(ImageError):
        load_image_file("not bytes")  # type: ignore[arg-type]


def test_file_over_max_bytes() -> None:
    data = encode(Image.fromarray(RING), "PNG")
    with pytest.raises(ImageError, match="MB") as info:
        load_image_file(data, max_bytes=len(data) - 1)
    assert isinstance(info.value, ValueError)


def test_decompression_bomb() -> None:
    bomb = encode(Image.new("1", (6000, 6000), 0), "PNG")  # 36 megapixels, a few kB on disk
    assert len(bomb) < 50_000
    with pytest.raises(ImageError, match="megapixels"):
        load_image_file(bomb, max_pixels=1_000_000)
    with pytest.raises(ImageError, match="megapixels"):
        load_image_file(bomb)  # default 25 MP limit
    assert load_image_file(bomb, max_pixels=40_000_000).size == (6000, 6000)


def test_pillow_global_limit_untouched() -> None:
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageError):
        load_image_file(encode(Image.fromarray(RING), "PNG"), max_pixels=10)
    assert Image.MAX_IMAGE_PIXELS == before
