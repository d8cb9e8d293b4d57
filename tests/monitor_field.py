"""A field of collected drawings for the Monitor tests: MNIST test digits drawn on the canvas as
users would, the first half on one day and drawn normally, the second half a day later with a
thick pen and tilted (a field that drifts in its second window)."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import numpy as np
from PIL import Image

from bench.monitor import thick_and_tilted
from mnist_core.data.sources import load_test
from mnist_core.deploy.collect import DrawingStore
from mnist_core.monitoring.canvas_render import as_drawn, prepare_as_drawn

DAYS = ("2026-12-01", "2026-12-02")


def _png(canvas: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(canvas).save(buf, "PNG")
    return buf.getvalue()


def collect_field(path: Path, per_day: int = 20, seed: int = 0) -> DrawingStore:
    """`2 * per_day` labelled drawings in the store at `path`: normal on day one, thick and tilted on day two."""
    test = load_test("sample")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(test), 2 * per_day, replace=False)
    digits, labels = test.images.numpy()[pick], test.labels.numpy()[pick]
    store = DrawingStore(path)
    for i, (digit, label) in enumerate(zip(digits, labels, strict=True)):
        shifted = i >= per_day
        prepared = thick_and_tilted(digit, rng.uniform(30, 40)) if shifted else prepare_as_drawn(digit)
        entry = store.add(
            image28=prepared.image,
            true_label=int(label),
            predicted=int(label),
            original_png=None if shifted else _png(as_drawn(digit)),
        )
        with sqlite3.connect(path) as conn:  # the store stamps "now"; the field spans two days
            conn.execute(
                "UPDATE drawings SET created = ? WHERE id = ?",
                (f"{DAYS[shifted]}T{10 + i % 8:02d}:00:00.000+00:00", entry),
            )
    return store
