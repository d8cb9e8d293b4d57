"""Statistics for the Data and Preprocess pages, on small hand-made sets and the real sample."""

import pytest
import torch

from mnist_core.data import explore
from mnist_core.data.sources import Images, load_train_pool


def tiny() -> Images:
    """12 images, three 0s, two 1s, one each of 2-8, no 9; digit d has d+1 full rows of ink."""
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8], dtype=torch.int64)
    images = torch.zeros(len(labels), 28, 28, dtype=torch.uint8)
    for i, d in enumerate(labels.tolist()):
        images[i, : d + 1, :] = 255  # digit d: (d+1) full rows of ink
    return Images(images, labels)


def test_class_counts_and_majority_baseline():
    data = tiny()
    assert explore.class_counts(data.labels) == [3, 2, 1, 1, 1, 1, 1, 1, 1, 0]
    digit, acc = explore.majority_baseline(data.labels)
    assert digit == 0 and acc == pytest.approx(3 / 12)
    assert explore.imbalance(explore.class_counts(data.labels)) == float("inf")  # no 9s
    with pytest.raises(ValueError):
        explore.majority_baseline(torch.tensor([], dtype=torch.int64))


def test_count_rows_are_long_format_with_shares():
    rows = explore.count_rows({"train": [2] * 10, "test": [1] * 10})
    assert len(rows) == 20
    assert {r["split"] for r in rows} == {"train", "test"}
    assert all(r["share"] == pytest.approx(0.1) for r in rows)


def test_split_counts_follow_the_seeded_split():
    pool = load_train_pool("sample")
    a = explore.split_counts(pool, 0.2, 0)
    assert sum(a["train"]) + sum(a["validation"]) == len(pool)
    assert sum(a["validation"]) == round(len(pool) * 0.2)
    assert a == explore.split_counts(pool, 0.2, 0)
    assert a != explore.split_counts(pool, 0.2, 1)


def test_digit_samples_only_that_digit_seeded():
    pool = load_train_pool("sample")
    picks = explore.digit_samples(pool, 7, 40, seed=3)
    assert picks.shape == (40, 28, 28)
    sevens = pool.images[pool.labels == 7]
    assert all(any(torch.equal(p, s) for s in sevens) for p in picks[:5])
    assert torch.equal(picks, explore.digit_samples(pool, 7, 40, seed=3))
    assert not torch.equal(picks, explore.digit_samples(pool, 7, 40, seed=4))
    with pytest.raises(ValueError):
        explore.digit_samples(pool, 10)


def test_digit_columns_tile_to_one_column_per_digit():
    pool = load_train_pool("sample")
    grid = explore.digit_columns(pool, per_digit=3, seed=0)
    assert grid.shape == (30, 28, 28)
    for d in range(10):  # image r * 10 + d is the r-th pick of digit d
        assert torch.equal(grid[d::10], explore.digit_samples(pool, d, 3, seed=0))


def test_mean_images_and_strip():
    means = explore.mean_images(tiny())
    assert means.shape == (10, 28, 28)
    assert means[2, :3].min() == 255 and means[2, 3:].max() == 0
    assert means[9].max() == 0  # missing digit: zeros
    strip = explore.mean_image_strip(tiny())
    assert strip.shape == (32, 10 * 30 + 2)


def test_intensity_histogram_skips_background_by_default():
    imgs = torch.zeros(1, 28, 28, dtype=torch.uint8)
    imgs[0, 0, :10] = 255
    imgs[0, 1, :5] = 8
    rows = explore.intensity_histogram(imgs, bins=32)
    assert len(rows) == 32 and rows[0]["start"] == 0 and rows[-1]["end"] == 256
    assert sum(r["count"] for r in rows) == 15
    assert rows[1]["count"] == 5 and rows[-1]["count"] == 10  # 8 falls in [8, 16)
    with_zero = explore.intensity_histogram(imgs, bins=32, skip_zero=False)
    assert sum(r["count"] for r in with_zero) == 784
    assert explore.zero_fraction(imgs) == pytest.approx(769 / 784)


def test_ink_rows_per_digit():
    rows = explore.ink_rows(tiny())
    assert [r["digit"] for r in rows] == [str(d) for d in range(10)]
    assert rows[0]["ink_fraction"] == pytest.approx(1 / 28)
    assert rows[8]["ink_fraction"] == pytest.approx(9 / 28)
    assert rows[9]["images"] == 0 and rows[9]["ink_fraction"] == 0.0


def test_real_ink_one_uses_least_ink():
    rows = explore.ink_rows(load_train_pool("sample"))
    assert min(rows, key=lambda r: r["ink_fraction"])["digit"] == "1"


def test_scaling_summary_and_pixel_rows():
    img = torch.zeros(28, 28, dtype=torch.uint8)
    img[5, 5], img[6, 6] = 255, 51
    s = explore.scaling_summary(img)
    assert s["raw"] == {"min": 0.0, "max": 255.0, "mean": pytest.approx(306 / 784)}
    assert s["scaled"]["max"] == pytest.approx(1.0) and s["scaled"]["min"] == 0.0
    rows = explore.pixel_rows(img)
    assert len(rows) == 784
    assert {"row": 6, "col": 6, "raw": 51, "scaled": 0.2} in rows
    with pytest.raises(ValueError):
        explore.scaling_summary(img.float())


def test_ink_window_finds_the_stroke():
    img = torch.zeros(28, 28, dtype=torch.uint8)
    img[20:26, 3:9] = 200
    top, left = explore.ink_window(img, 7)
    assert top <= 20 and top + 7 >= 26 and left <= 3 and left + 7 >= 9
