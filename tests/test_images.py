"""images: whole-pixel enlargement, grid tiling, PNG encoding and file fingerprints."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_core.data import images


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def test_upscale_keeps_pixels_square():
    img = np.arange(4, dtype=np.uint8).reshape(2, 2)
    big = images.upscale(img, 3)
    assert big.shape == (6, 6) and (big[:3, :3] == 0).all() and (big[3:, 3:] == 3).all()
    assert np.array_equal(images.upscale(torch.from_numpy(img), 2), images.upscale(img, 2))
    with pytest.raises(ValueError, match="at least 1"):
        images.upscale(img, 0)
    with pytest.raises(ValueError, match="2-D"):
        images.upscale(np.zeros((2, 28, 28)), 2)  # a stack, not one picture
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    big_rgb = images.upscale(rgb, 2)
    assert big_rgb.shape == (4, 6, 3) and big_rgb[1, 1].tolist() == [255, 0, 0]


def test_upscale_to_fits_the_longer_side_with_hard_edges():
    small = np.zeros((28, 28), np.float32)
    small[10:18, 12:14] = 1.0  # a 0-1 float image becomes uint8 0/255
    big = images.upscale_to(small, 140)
    assert big.shape == (140, 140) and big.dtype == np.uint8
    assert set(np.unique(big)) == {0, 255}  # nearest neighbour: no grey blur
    wide = images.upscale_to(np.zeros((10, 20), np.uint8), 100)
    assert wide.shape == (50, 100)


def test_tile_lays_out_a_grid_with_gutters():
    imgs = torch.full((12, 28, 28), 200, dtype=torch.uint8)
    grid = images.tile(imgs, cols=5, gap=2, background=40)
    assert grid.shape == (3 * 30 + 2, 5 * 30 + 2) and grid.dtype == np.uint8
    assert grid[2, 2] == 200 and grid[0, 0] == 40
    assert grid[-3, -3] == 40  # the last row holds only 2 images: the rest stays background
    one = np.zeros((28, 28), np.uint8)
    one[0, 0] = 255
    scaled = images.tile(np.stack([one] * 5), cols=2, scale=2, gap=2, background=96)
    assert scaled.shape == (3 * 58 + 2, 2 * 58 + 2)
    assert scaled[2:4, 2:4].min() == 255 and scaled[4, 4] == 0 and scaled[0, 0] == 96


def test_tile_of_colour_images():
    rgb = np.zeros((3, 4, 4, 3), np.uint8)
    rgb[:, :, :, 2] = 200
    grid = images.tile(rgb, cols=3, gap=1, background=60)
    assert grid.shape == (4 + 2, 3 * 5 + 1, 3)
    assert grid[1, 1].tolist() == [0, 0, 200] and grid[0, 0].tolist() == [60, 60, 60]
    assert images.tile(np.zeros((0, 4, 4, 3), np.uint8)).shape == (4, 4, 3)


def test_tile_of_nothing_is_one_blank_cell():
    assert images.tile(np.zeros((0, 28, 28), np.uint8), background=7).tolist() == [[7] * 28] * 28
    assert images.tile(np.zeros((0, 28, 28), np.uint8), scale=2).shape == (56, 56)
    with pytest.raises(ValueError, match="stack"):
        images.tile(np.zeros((28, 28), np.uint8))


def test_png_round_trip_shrink_and_data_uri():
    img = (np.arange(28 * 28) % 256).astype(np.uint8).reshape(28, 28)
    assert np.array_equal(decode(images.png_bytes(img)), img)
    big = np.zeros((1200, 600, 4), np.uint8)
    assert max(Image.open(io.BytesIO(images.png_bytes(big))).size) == 1200  # no limit asked
    shrunk = images.png_bytes(big, max_side=images.ORIGINAL_MAX_SIDE)
    assert Image.open(io.BytesIO(shrunk)).size == (280, 560)
    for fast in (False, True):
        uri = images.png_data_uri(img, fast=fast)
        assert uri.startswith("data:image/png;base64,")
        assert np.array_equal(decode(base64.b64decode(uri.split(",", 1)[1])), img)


def test_png_of_an_unusual_mode_is_converted():
    pal = Image.new("P", (4, 4))
    assert Image.open(io.BytesIO(images.png_bytes(pal))).mode == "RGBA"


def test_as_uint8_reads_floats_as_intensities():
    out = images.as_uint8(np.array([[0.0, 0.5, 1.0, 2.0]], np.float32))
    assert out.dtype == np.uint8 and out.tolist() == [[0, 128, 255, 255]]
    same = np.array([[1, 2]], np.uint8)
    assert images.as_uint8(same) is same


def test_file_fingerprint():
    assert images.file_fingerprint(b"a") == images.file_fingerprint(b"a") != images.file_fingerprint(b"b")
    assert len(images.file_fingerprint(b"")) == 24
