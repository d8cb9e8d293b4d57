"""Drawings saved to "label later": the schema migration that allows them, their absence from
training, downloads and field accuracy until labelled, and the queue ordered by uncertainty."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from mnist_core.deploy.collect import CollectError, DrawingStore
from mnist_core.deploy.collect_queue import labelling_queue
from mnist_core.deploy.collect_schema import APPLICATION_ID, SCHEMA_VERSION
from tests.test_active import split_ink_pool, two_way_model

V1 = """
CREATE TABLE drawings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    true_label INTEGER NOT NULL CHECK (true_label BETWEEN 0 AND 9),
    predicted INTEGER CHECK (predicted BETWEEN 0 AND 9),
    confidence REAL,
    model TEXT,
    source TEXT NOT NULL,
    image28 BLOB NOT NULL CHECK (length(image28) = 784),
    original_png BLOB
);
CREATE INDEX drawings_by_label ON drawings (true_label);
"""


def image(value: int) -> np.ndarray:
    return np.full((28, 28), value, np.uint8)


def test_a_version_1_database_is_migrated_with_its_rows_and_ids(tmp_path):
    path = tmp_path / "drawings.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(V1)
    for i, label in ((3, 7), (9, 1)):  # ids with a gap, as after a deletion
        conn.execute(
            "INSERT INTO drawings VALUES (?, '2026-01-01T00:00:00', ?, ?, 0.9, 'run-a', 'canvas', ?, NULL)",
            (i, label, label, image(i).tobytes()),
        )
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    store = DrawingStore(path)
    assert [(d.id, d.true_label) for d in store.list()] == [(9, 1), (3, 7)]
    assert store.get(3).image28[0, 0] == 3
    later = store.add(image28=image(5), true_label=None, predicted=2, confidence=0.4, model="run-a")
    assert later == 10 and store.get(later).true_label is None  # AUTOINCREMENT carried on
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert check.execute(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'drawings_by_label'"
        ).fetchone()[0]
    assert DrawingStore(path).count() == 3  # opening again migrates nothing


def test_unlabelled_drawings_never_enter_training_downloads_or_field_accuracy(tmp_path):
    store = DrawingStore(tmp_path / "d.sqlite")
    store.add(image28=image(1), true_label=4, predicted=4, confidence=0.9, model="m")
    waiting = store.add(image28=image(2), true_label=None, predicted=4, confidence=0.5, model="m")
    assert store.count() == 2 and store.count(labelled=True) == 1 and store.count(labelled=False) == 1
    images, labels = store.arrays()
    assert labels.tolist() == [4] and images[0, 0, 0] == 1
    assert len(store.training_images()) == 1
    assert store.counts_per_label()[4] == 1 and sum(store.counts_per_label().values()) == 1
    [entry] = store.field_accuracy()
    assert entry["n"] == 1 and entry["accuracy"] == 1.0
    assert [d.id for d in store.unlabelled()] == [waiting]
    store.set_label(waiting, 7)  # the model said 4: now a mistake in the field
    assert store.unlabelled() == [] and store.arrays()[1].tolist() == [4, 7]
    [entry] = store.field_accuracy()
    assert entry["n"] == 2 and entry["accuracy"] == 0.5
    with pytest.raises(CollectError, match="digit 0-9"):
        store.set_label(waiting, 10)
    with pytest.raises(CollectError, match="no drawing with id 999"):
        store.set_label(999, 1)


def test_the_queue_puts_the_drawings_the_model_is_least_sure_about_first(tmp_path):
    store = DrawingStore(tmp_path / "d.sqlite")
    pool, evenness = split_ink_pool(12, seed=5)
    for img in pool.images.numpy():
        store.add(image28=img, true_label=None)
    store.add(image28=pool.images[0].numpy(), true_label=3)  # labelled: not queued
    queue = labelling_queue(store, two_way_model())
    assert len(queue) == 12
    assert [q.drawing.id - 1 for q in queue] == np.argsort(-evenness, kind="stable").tolist()
    assert all(a.uncertainty >= b.uncertainty for a, b in zip(queue, queue[1:]))
    assert {q.guess for q in queue} <= {0, 1}
