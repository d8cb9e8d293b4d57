"""Tests for the SQLite store of user-labelled drawings (mnist_core.deploy.collect)."""

from __future__ import annotations

import gzip
import io
import sqlite3
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from mnist_core.config import TrainConfig
from mnist_core.deploy.collect import CollectError, Drawing, DrawingStore
from mnist_core.deploy.field_accuracy import digit_gaps, field_summary
from mnist_core.evaluation.evaluate import ClassMetrics
from mnist_core.runs.storage import Run


def digit_image(value: int) -> np.ndarray:
    img = np.zeros((28, 28), np.uint8)
    img[4:24, 10 + value % 8 : 14 + value % 8] = 200 + value
    return img


@pytest.fixture
def store(tmp_path: Path) -> DrawingStore:
    return DrawingStore(tmp_path / "nested" / "folder" / "drawings.sqlite")


def test_creates_folder_schema_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "drawings.sqlite"
    store = DrawingStore(path)
    assert path.is_file() and store.count() == 0
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert DrawingStore(path).count() == 0  # reopening an existing store works


def test_round_trip_every_field(store: DrawingStore) -> None:
    img = digit_image(7)
    png = b"\x89PNG fake bytes"
    new_id = store.add(
        image28=img,
        true_label=7,
        predicted=1,
        confidence=0.875,
        model="run-42",
        original_png=png,
        source="upload",
    )
    got = store.get(new_id)
    assert isinstance(got, Drawing)
    assert (got.id, got.true_label, got.predicted, got.confidence, got.model, got.source) == (
        new_id,
        7,
        1,
        0.875,
        "run-42",
        "upload",
    )
    assert got.image28.dtype == np.uint8 and got.image28.shape == (28, 28)
    np.testing.assert_array_equal(got.image28, img)
    assert got.created.endswith("+00:00") and got.created[:4].isdigit()
    assert store.original_png(new_id) == png


def test_optional_fields_default_to_none(store: DrawingStore) -> None:
    got = store.get(store.add(image28=digit_image(3), true_label=3))
    assert (got.predicted, got.confidence, got.model, got.source) == (None, None, None, "canvas")
    assert store.original_png(got.id) is None


def test_float_image_is_scaled_and_rounded(store: DrawingStore) -> None:
    img = np.zeros((28, 28), np.float32)
    img[0, 0], img[1, 1], img[2, 2] = 1.0, 0.5, 0.1
    got = store.get(store.add(image28=img, true_label=0)).image28
    assert (got[0, 0], got[1, 1], got[2, 2]) == (255, 128, 26)


def test_list_filter_delete_count(store: DrawingStore) -> None:
    ids = [store.add(image28=digit_image(label), true_label=label) for label in (1, 2, 1, 5, 1)]
    assert store.count() == 5
    assert [d.id for d in store.list()] == ids[::-1]  # newest first
    assert [d.id for d in store.list(label=1)] == [ids[4], ids[2], ids[0]]
    assert [d.id for d in store.list(label=1, limit=2)] == [ids[4], ids[2]]
    assert store.list(label=9) == []
    assert store.counts_per_label() == {0: 0, 1: 3, 2: 1, 3: 0, 4: 0, 5: 1, 6: 0, 7: 0, 8: 0, 9: 0}
    assert store.delete(ids[2]) is True
    assert store.delete(ids[2]) is False
    assert store.count() == 4 and store.counts_per_label()[1] == 2
    with pytest.raises(CollectError, match="no drawing"):
        store.get(ids[2])


def test_arrays(store: DrawingStore) -> None:
    images, labels = store.arrays()
    assert images.shape == (0, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (0,) and labels.dtype == np.int64
    for label in (4, 8, 0):
        store.add(image28=digit_image(label), true_label=label)
    images, labels = store.arrays()
    assert images.shape == (3, 28, 28) and images.dtype == np.uint8
    assert labels.tolist() == [4, 8, 0] and labels.dtype == np.int64  # oldest first
    np.testing.assert_array_equal(images[1], digit_image(8))


def test_export_npz(store: DrawingStore) -> None:
    for label in (2, 6):
        store.add(image28=digit_image(label), true_label=label)
    with np.load(io.BytesIO(store.export_npz())) as data:
        assert data["images"].shape == (2, 28, 28) and data["images"].dtype == np.uint8
        assert data["labels"].tolist() == [2, 6]
        np.testing.assert_array_equal(data["images"][1], digit_image(6))


def test_export_idx(store: DrawingStore) -> None:
    for label in (3, 9, 1):
        store.add(image28=digit_image(label), true_label=label)
    files = store.export_idx()
    assert set(files) == {"collected-images-idx3-ubyte.gz", "collected-labels-idx1-ubyte.gz"}
    images = gzip.decompress(files["collected-images-idx3-ubyte.gz"])
    labels = gzip.decompress(files["collected-labels-idx1-ubyte.gz"])
    assert struct.unpack(">iiii", images[:16]) == (2051, 3, 28, 28)
    assert struct.unpack(">ii", labels[:8]) == (2049, 3)
    pixels = np.frombuffer(images[16:], np.uint8).reshape(3, 28, 28)
    np.testing.assert_array_equal(pixels[1], digit_image(9))
    assert list(labels[8:]) == [3, 9, 1]


def test_field_accuracy(store: DrawingStore) -> None:
    img = digit_image(0)
    for true, pred, model in [(1, 1, "a"), (1, 7, "a"), (2, 2, "a"), (3, 3, "b"), (5, None, "a")]:
        store.add(
            image28=img,
            true_label=true,
            predicted=pred,
            confidence=None if pred is None else 0.9,
            model=model,
        )
    report = store.field_accuracy()
    assert [r["model"] for r in report] == ["a", "b"]  # most-tested first; the unpredicted entry is ignored
    a, b = report
    assert a["n"] == 3 and a["accuracy"] == pytest.approx(2 / 3)
    assert a["per_digit"][1] == {"n": 2, "accuracy": 0.5}
    assert a["per_digit"][2] == {"n": 1, "accuracy": 1.0}
    assert a["per_digit"][5] == {"n": 0, "accuracy": None}
    assert set(a["per_digit"]) == set(range(10))
    assert b["n"] == 1 and b["accuracy"] == 1.0


def test_field_accuracy_empty(store: DrawingStore) -> None:
    assert store.field_accuracy() == []


def test_concurrent_writers(tmp_path: Path) -> None:
    path = tmp_path / "drawings.sqlite"
    DrawingStore(path)
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        store = DrawingStore(path)  # each thread its own store object, as separate sessions would
        try:
            for i in range(25):
                store.add(image28=digit_image(i), true_label=(worker + i) % 10, model=f"w{worker}")
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = DrawingStore(path)
    assert store.count() == 100
    assert sum(store.counts_per_label().values()) == 100


def test_locked_database_is_busy_error(tmp_path: Path) -> None:
    path = tmp_path / "drawings.sqlite"
    store = DrawingStore(path, timeout=0.2)
    store.add(image28=digit_image(1), true_label=1)
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        with pytest.raises(CollectError, match="busy"):
            store.add(image28=digit_image(2), true_label=2)
        assert store.count() == 1  # WAL: reading still works while someone writes
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    store.add(image28=digit_image(2), true_label=2)
    assert store.count() == 2


def test_corrupt_file_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "drawings.sqlite"
    junk = b"this is definitely not a database\x00\xff" * 100
    path.write_bytes(junk)
    with pytest.raises(CollectError, match="not a readable drawings database.*Move it aside"):
        DrawingStore(path)
    assert path.read_bytes() == junk
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drawings.sqlite"]  # no -wal/-shm left behind


def test_damaged_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "drawings.sqlite"
    DrawingStore(path).add(image28=digit_image(1), true_label=1)
    data = bytearray(path.read_bytes())
    data[16:100] = b"\xee" * 84  # keep the magic, break the header
    path.write_bytes(bytes(data))
    with pytest.raises(CollectError, match="not a readable drawings database"):
        DrawingStore(path).count()


def test_other_programs_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    before = path.read_bytes()
    with pytest.raises(CollectError, match="some other program"):
        DrawingStore(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"true_label": 10}, "digit 0-9"),
        ({"true_label": -1}, "digit 0-9"),
        ({"true_label": 3.0}, "digit 0-9"),
        ({"true_label": True}, "digit 0-9"),
        ({"true_label": 1, "predicted": 12}, "prediction"),
        ({"true_label": 1, "confidence": 1.5}, "confidence"),
        ({"true_label": 1, "source": "camera"}, "source"),
        ({"true_label": 1, "image28": np.zeros((28, 27), np.uint8)}, "28×28"),
        ({"true_label": 1, "image28": np.zeros((1, 28, 28), np.uint8)}, "28×28"),
        ({"true_label": 1, "image28": np.full((28, 28), 2.0)}, "between 0 and 1"),
        ({"true_label": 1, "image28": np.full((28, 28), 300)}, "between 0 and 255"),
    ],
)
def test_invalid_input_rejected(store: DrawingStore, kwargs: dict, message: str) -> None:
    kwargs.setdefault("image28", digit_image(1))
    with pytest.raises(CollectError, match=message):
        store.add(**kwargs)
    assert store.count() == 0


def test_numpy_integer_labels_accepted(store: DrawingStore) -> None:
    got = store.get(store.add(image28=digit_image(4), true_label=np.int64(4), predicted=np.uint8(4)))
    assert (got.true_label, got.predicted) == (4, 4)
    assert isinstance(CollectError("x"), ValueError)


def test_training_images_are_uint8_tensors_or_none(store: DrawingStore) -> None:
    assert store.training_images() is None
    store.add(image28=digit_image(4), true_label=4)
    store.add(image28=digit_image(9), true_label=9)
    extra = store.training_images()
    assert extra is not None and len(extra) == 2
    assert extra.images.dtype.is_floating_point is False and tuple(extra.images.shape) == (2, 28, 28)
    assert extra.labels.tolist() == [4, 9]
    np.testing.assert_array_equal(extra.images[1].numpy(), digit_image(9))


# ---------------------------------------------------------------- field accuracy vs MNIST accuracy


def test_field_summary_and_digit_gaps(store: DrawingStore) -> None:
    run = Run(
        Path("runs/r1"),
        TrainConfig(model="logreg"),
        {"name": "mine", "val_accuracy": 0.9, "test_accuracy": 0.88},
        [],
    )
    img = np.zeros((28, 28), np.uint8)
    store.add(image28=img, true_label=1, predicted=1, model=run.id)
    store.add(image28=img, true_label=1, predicted=7, model=run.id)
    store.add(image28=img, true_label=2, predicted=2, model="gone")
    field = store.field_accuracy()
    rows = field_summary(field, {run.id: run})
    mine = next(r for r in rows if r["run_id"] == run.id)
    assert mine["model"] == run.label and mine["drawings"] == 2 and mine["field_accuracy"] == 0.5
    assert mine["val_accuracy"] == 0.9 and mine["test_accuracy"] == 0.88
    assert mine["gap"] == pytest.approx(0.5 - 0.9)
    gone = next(r for r in rows if r["run_id"] == "gone")
    assert "deleted" in gone["model"] and gone["val_accuracy"] is None and gone["gap"] is None
    per_class = [ClassMetrics(d, 0.9, 0.8 + d / 100, 0.85, 10) for d in range(10)]
    gaps = digit_gaps(next(e for e in field if e["model"] == run.id), per_class)
    assert gaps[1] == {
        "digit": 1,
        "drawings": 2,
        "field_accuracy": 0.5,
        "val_accuracy": 0.81,
        "gap": pytest.approx(0.5 - 0.81),
    }
    assert gaps[3]["field_accuracy"] is None and gaps[3]["gap"] is None
    unknown = digit_gaps(next(e for e in field if e["model"] == run.id), None)
    assert unknown[1]["val_accuracy"] is None and unknown[1]["gap"] is None


def _open_fresh_databases(paths: list[Path], barrier, errors) -> None:
    """One of four racers: open each fresh database the moment the others do, and write to it."""
    for path in paths:
        barrier.wait(timeout=60)
        try:
            DrawingStore(path).add(image28=digit_image(1), true_label=1)
        except Exception as exc:  # noqa: BLE001 - reported to the test process
            errors.put(f"{path.parent.name}: {type(exc).__name__}: {exc}")


def test_fresh_database_opened_by_four_processes_at_once(tmp_path: Path) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("fork")  # the racers start in milliseconds, not seconds
    paths = [tmp_path / f"round{i:02d}" / "drawings.db" for i in range(20)]
    barrier, errors = ctx.Barrier(4), ctx.Queue()
    racers = [ctx.Process(target=_open_fresh_databases, args=(paths, barrier, errors)) for _ in range(4)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=120)
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert failures == [] and [r.exitcode for r in racers] == [0] * 4
    assert [DrawingStore(path).count() for path in paths] == [4] * 20
