"""SQLite store of digits that users drew and labelled: collect, label, measure.

Each entry keeps the true label (None for a drawing saved to "label later"), what a model
predicted (if anything), the 28×28 model input and optionally the original drawing as PNG. The
labelled entries feed three things: field accuracy per model (set against each run's MNIST
accuracy in `field_accuracy.py`), extra training data (`arrays`), and downloads (.npz or MNIST
IDX); unlabelled ones wait in `unlabelled()` until `set_label`. The schema: `collect_schema`.
Every call opens its own short-lived connection (WAL mode, busy timeout), so
concurrent Streamlit sessions and threads can share one database file. Creating the schema
is one write transaction, retried while another process holds the lock, so sessions that
open a fresh file at the same moment take turns instead of failing.
"""

from __future__ import annotations

import io
import operator
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mnist_core.config import finite_number
from mnist_core.data.idx import idx_bytes
from mnist_core.deploy.collect_schema import ensure_schema
from mnist_core.deploy.field_accuracy import accuracy_entry

if TYPE_CHECKING:
    from mnist_core.data.sources import Images

SOURCES = ("canvas", "upload")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SIDE = 28
_BUSY_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_COLUMNS = "id, created, true_label, predicted, confidence, model, source, image28"


class CollectError(ValueError):
    """A problem with the drawings store, explained in a sentence meant for the user."""


@dataclass(frozen=True)
class Drawing:
    """One labelled drawing as stored (without the original PNG; see DrawingStore.original_png)."""

    id: int
    created: str  # UTC, ISO 8601
    true_label: int | None  # None: saved to be labelled later
    predicted: int | None
    confidence: float | None
    model: str | None
    source: str
    image28: np.ndarray  # (28, 28) uint8


# ---------------------------------------------------------------- validation


def _digit(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise CollectError(f"The {what} must be a digit 0-9, not {value!r}.")
    try:
        digit = operator.index(value)  # accepts numpy integers, refuses 3.0 and "3"
    except TypeError:
        raise CollectError(f"The {what} must be a digit 0-9, not {value!r}.") from None
    if not 0 <= digit <= 9:
        raise CollectError(f"The {what} must be a digit 0-9, not {digit}.")
    return digit


def _image_bytes(image28: Any) -> bytes:
    """(28, 28) uint8, or floats in [0, 1] (×255, rounded) → 784 raw bytes."""
    arr = np.asarray(image28)
    if arr.shape != (_SIDE, _SIDE):
        raise CollectError(f"The drawing must be a 28×28 image, got shape {arr.shape}.")
    if arr.dtype == np.uint8:
        return arr.tobytes()
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or arr.min() < 0.0 or arr.max() > 1.0:
            raise CollectError("A float drawing must hold values between 0 and 1.")
        return np.rint(arr * 255.0).astype(np.uint8).tobytes()
    if np.issubdtype(arr.dtype, np.integer) and not np.issubdtype(arr.dtype, np.bool_):
        if arr.min() < 0 or arr.max() > 255:
            raise CollectError("An integer drawing must hold values between 0 and 255.")
        return arr.astype(np.uint8).tobytes()
    raise CollectError(f"A drawing must be uint8 or float, not {arr.dtype}.")


def _confidence(value: Any) -> float | None:
    if value is None:
        return None
    try:
        conf = float(value)
    except (TypeError, ValueError):
        raise CollectError(f"The confidence must be a number between 0 and 1, not {value!r}.") from None
    if finite_number(conf) is None or not 0.0 <= conf <= 1.0:
        raise CollectError(f"The confidence must be a number between 0 and 1, not {conf}.")
    return conf


def _optional_text(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise CollectError(f"The {what} must be text, not {type(value).__name__}.")


def _row_to_drawing(row: tuple) -> Drawing:
    image = np.frombuffer(row[7], dtype=np.uint8).reshape(_SIDE, _SIDE).copy()
    return Drawing(row[0], row[1], row[2], row[3], row[4], row[5], row[6], image)


# ---------------------------------------------------------------- the store


class DrawingStore:
    """Labelled drawings in one SQLite file; safe to share between threads and processes."""

    def __init__(self, path: str | PathLike[str], *, timeout: float = 5.0) -> None:
        self.path = Path(path)
        self._timeout = timeout
        self._refuse_foreign_file()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CollectError(
                f"Cannot create the folder for the drawings database {self.path} ({exc})."
            ) from exc
        self._init_schema()

    # -- connections and errors

    def _refuse_foreign_file(self) -> None:
        # checked before SQLite touches the file, so a misplaced file is never modified
        try:
            if not self.path.is_file() or self.path.stat().st_size == 0:
                return
            with self.path.open("rb") as f:
                header = f.read(len(_SQLITE_MAGIC))
        except OSError as exc:
            raise CollectError(
                f"Cannot read the drawings database {self.path} ({exc.strerror or exc})."
            ) from exc
        if header != _SQLITE_MAGIC:
            raise self._unreadable("it is not an SQLite file")

    def _unreadable(self, reason: str) -> CollectError:
        return CollectError(
            f"{self.path} is not a readable drawings database ({reason}). Move it aside to start a new one."
        )

    def _translate(self, exc: sqlite3.Error) -> CollectError:
        text = str(exc)
        if _is_busy(exc):
            return CollectError(
                "The drawings database is busy (another session is writing to it); try again in a moment."
            )
        if isinstance(exc, sqlite3.OperationalError) and "unable to open" in text:
            return CollectError(f"Cannot open the drawings database {self.path} ({text}).")
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            return self._unreadable(text)  # "file is not a database", "database disk image is malformed"
        return CollectError(f"The drawings database {self.path} failed: {text}.")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One short-lived connection per call; sqlite3 errors become CollectError."""
        conn = None
        try:
            # autocommit (isolation_level=None): single statements are atomic; multi-step work uses BEGIN
            conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
            yield conn
        except sqlite3.Error as exc:
            raise self._translate(exc) from exc
        finally:
            if conn is not None:
                conn.close()

    def _init_schema(self) -> None:
        """Create the schema (once per file) and switch to WAL, retrying while others hold locks.

        SQLite answers "busy" at once, without waiting, when waiting could deadlock (e.g. while
        another connection switches the file to WAL), so the busy timeout alone is not enough:
        attempts repeat, with jitter, for up to the store's timeout.
        """
        deadline = time.monotonic() + self._timeout
        attempt = 0
        while True:
            conn = None
            try:
                conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
                self._ensure_schema(conn)
                return
            except sqlite3.Error as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise self._translate(exc) from exc
            finally:
                if conn is not None:
                    conn.close()
            attempt += 1
            time.sleep(random.uniform(0, min(0.005 * 2**attempt, 0.1)))  # jitter: racers spread out

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        ensure_schema(conn, lambda: self._unreadable("it is an SQLite database of some other program"))

    # -- writing

    def add(
        self,
        *,
        image28: np.ndarray,
        true_label: int | None,
        predicted: int | None = None,
        confidence: float | None = None,
        model: str | None = None,
        original_png: bytes | None = None,
        source: str = "canvas",
    ) -> int:
        """Store one drawing (`true_label` None: to be labelled later); returns its id."""
        if source not in SOURCES:
            raise CollectError(f"The source must be one of {', '.join(SOURCES)}, not {source!r}.")
        if original_png is not None and not isinstance(original_png, (bytes, bytearray, memoryview)):
            raise CollectError("The original drawing must be PNG bytes.")
        values = (
            datetime.now(UTC).isoformat(timespec="milliseconds"),
            None if true_label is None else _digit(true_label, "true label"),
            None if predicted is None else _digit(predicted, "prediction"),
            _confidence(confidence),
            _optional_text(model, "model"),
            source,
            _image_bytes(image28),
            None if original_png is None else bytes(original_png),
        )
        with self._connect() as conn:
            cursor = conn.execute(
                "INSERT INTO drawings (created, true_label, predicted, confidence, model, source, image28, original_png)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            return int(cursor.lastrowid)

    def set_label(self, id: int, true_label: int) -> None:
        """Label a drawing (one saved to label later, or relabel one)."""
        digit = _digit(true_label, "true label")
        with self._connect() as conn:
            if (
                conn.execute("UPDATE drawings SET true_label = ? WHERE id = ?", (digit, int(id))).rowcount
                == 0
            ):
                raise CollectError(f"There is no drawing with id {id}.")

    def delete(self, id: int) -> bool:
        """Remove one drawing; False when there was none with that id."""
        with self._connect() as conn:
            return conn.execute("DELETE FROM drawings WHERE id = ?", (int(id),)).rowcount > 0

    # -- reading

    def get(self, id: int) -> Drawing:
        with self._connect() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM drawings WHERE id = ?", (int(id),)).fetchone()
        if row is None:
            raise CollectError(f"There is no drawing with id {id}.")
        return _row_to_drawing(row)

    def original_png(self, id: int) -> bytes | None:
        with self._connect() as conn:
            row = conn.execute("SELECT original_png FROM drawings WHERE id = ?", (int(id),)).fetchone()
        if row is None:
            raise CollectError(f"There is no drawing with id {id}.")
        return row[0]

    def list(self, *, label: int | None = None, limit: int | None = None) -> list[Drawing]:
        """Drawings newest first, optionally only one true label and at most `limit` of them."""
        sql, params = f"SELECT {_COLUMNS} FROM drawings", []
        if label is not None:
            sql += " WHERE true_label = ?"
            params.append(_digit(label, "label filter"))
        sql += " ORDER BY id DESC"
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                raise CollectError(f"The limit must be a whole number ≥ 0, not {limit!r}.")
            sql += " LIMIT ?"
            params.append(limit)
        with self._connect() as conn:
            return [_row_to_drawing(row) for row in conn.execute(sql, params)]

    def unlabelled(self) -> list[Drawing]:
        """The drawings saved to label later, oldest first."""
        sql = f"SELECT {_COLUMNS} FROM drawings WHERE true_label IS NULL ORDER BY id"
        with self._connect() as conn:
            return [_row_to_drawing(row) for row in conn.execute(sql)]

    def count(self, *, labelled: bool | None = None) -> int:
        """Drawings stored: all of them, or only the labelled (True) or unlabelled (False) ones."""
        where = {None: "", True: " WHERE true_label IS NOT NULL", False: " WHERE true_label IS NULL"}
        with self._connect() as conn:
            return int(conn.execute("SELECT count(*) FROM drawings" + where[labelled]).fetchone()[0])

    def counts_per_label(self) -> dict[int, int]:
        """Labelled drawings per true label, all ten digits present (zeros included)."""
        counts = dict.fromkeys(range(10), 0)
        sql = "SELECT true_label, count(*) FROM drawings WHERE true_label IS NOT NULL GROUP BY true_label"
        with self._connect() as conn:
            for label, n in conn.execute(sql):
                counts[int(label)] = int(n)
        return counts

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The labelled drawings, oldest first, as MNIST-like arrays: images (N, 28, 28) uint8, labels
        (N,) int64. Unlabelled drawings are left out: they never enter training or a download."""
        images, labels, _ = self._labelled()
        return images, labels

    def _labelled(self) -> tuple[np.ndarray, np.ndarray, list[int]]:
        sql = "SELECT image28, true_label, id FROM drawings WHERE true_label IS NOT NULL ORDER BY id"
        with self._connect() as conn:
            rows = conn.execute(sql).fetchall()
        images = np.frombuffer(b"".join(r[0] for r in rows), dtype=np.uint8).reshape(-1, _SIDE, _SIDE).copy()
        labels = np.array([r[1] for r in rows], dtype=np.int64)
        return images, labels, [int(r[2]) for r in rows]

    def training_images(self) -> Images | None:
        """The labelled drawings as extra training data (uint8 tensors), or None when there are none."""
        found = self.training_data()
        return found[0] if found is not None else None

    def training_data(self) -> tuple[Images, list[int]] | None:
        """The labelled drawings as extra training data and their ids, in the same order (read in
        one query, so reviewed-label decisions on drawings land on the right images); None when
        there are none."""
        import torch  # kept out of module import: the database side needs only NumPy

        from mnist_core.data.sources import Images

        images, labels, ids = self._labelled()
        if len(labels) == 0:
            return None
        return Images(torch.from_numpy(images), torch.from_numpy(labels)), ids

    def field_accuracy(self) -> list[dict]:
        """Accuracy on users' drawings per model, over labelled entries with a prediction, most-tested
        model first.

        Each item: {"model", "n", "accuracy", "per_digit": {0..9: {"n", "accuracy"}}};
        a digit with no drawings has n 0 and accuracy None.
        """
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT model, true_label, count(*), sum(predicted = true_label) FROM drawings"
                " WHERE predicted IS NOT NULL AND true_label IS NOT NULL GROUP BY model, true_label"
            ).fetchall()
        per_model: dict[str | None, dict[int, tuple[int, int]]] = {}
        for model, label, n, right in rows:
            per_model.setdefault(model, {})[int(label)] = (int(n), int(right))
        report = [accuracy_entry(model, digits) for model, digits in per_model.items()]
        return sorted(report, key=lambda r: (-r["n"], r["model"] or ""))

    # -- export

    def export_npz(self) -> bytes:
        """np.savez_compressed bytes holding `images` (N, 28, 28) uint8 and `labels` (N,) int64."""
        images, labels = self.arrays()
        buf = io.BytesIO()
        np.savez_compressed(buf, images=images, labels=labels)
        return buf.getvalue()

    def export_idx(self) -> dict[str, bytes]:
        """The drawings in MNIST's own gzipped IDX format, as {file name: bytes}."""
        images, labels = self.arrays()
        return {
            "collected-images-idx3-ubyte.gz": idx_bytes(images, magic=2051),
            "collected-labels-idx1-ubyte.gz": idx_bytes(labels.astype(np.uint8), magic=2049),
        }


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc)
    return getattr(exc, "sqlite_errorcode", None) in _BUSY_CODES or "locked" in text or "busy" in text
