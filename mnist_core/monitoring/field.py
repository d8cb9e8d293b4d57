"""The field sample to monitor: the collected drawings, or a folder of images with optional labels.

Either way the result is a `FieldSet`, oldest first: the 28×28 inputs the model sees, true labels
where known (-1 where not), a name per image for the gallery, a date per drawing, and each image's
traits (see `features`), measured here so the original images need not stay in memory.
Nothing is written: a missing drawings database is reported, not created, and a folder is only read.
The drawings are read (`read_drawings`) apart from being measured (`drawings_field`), so a cluster
job reads them in the app, which holds the database, and measures them on a worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mnist_core.data.drawing import UPLOAD_TYPES, ImageError, PreparedDigit, load_image_file, prepare_digit
from mnist_core.deploy.collect import Drawing, DrawingStore
from mnist_core.files import FileRefused, read_bytes, read_json
from mnist_core.monitoring.errors import MonitorError
from mnist_core.monitoring.features import KEYS, digit_traits, prepared_traits

DRAWINGS = "drawings"  # the --field value that means the collected drawings
LABELS_FILE = "labels.json"
MAX_IMAGE_BYTES = 5_000_000  # as for an upload (load_image_file's limit): larger is refused unread
MAX_LABELS_BYTES = 10_000_000  # a labels file names a few thousand images
MIN_FIELD = 2  # a two-sample test needs two points on each side


@dataclass(frozen=True)
class FieldSet:
    """Field images, oldest first, ready for the model and for the trait comparison."""

    source: str  # "drawings" or the folder's path
    images: np.ndarray  # (N, 28, 28) uint8: the model inputs
    labels: np.ndarray  # (N,) int64: the true digit, -1 where unknown
    names: list[str]  # "#12" for a stored drawing, the file name for a folder image
    traits: np.ndarray  # (N, len(KEYS)) float64, NaN where unknown
    dates: list[str] | None = None  # ISO 8601 UTC per drawing; None for a folder
    skipped: list[str] = field(default_factory=list)  # folder images with no digit in them

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def labelled(self) -> np.ndarray:
        return self.labels >= 0


def _checked(fs: FieldSet, what: str) -> FieldSet:
    if len(fs) < MIN_FIELD:
        found = "no images" if len(fs) == 0 else "only one image"
        raise MonitorError(
            f"{what} has {found} to monitor; at least {MIN_FIELD} are needed to compare with the training data."
        )
    return fs


@dataclass(frozen=True)
class CollectedDrawings:
    """The drawings database's rows as stored, oldest first, with their original PNGs (None
    where there is none): read where the database lives, measured anywhere (`drawings_field`)."""

    drawings: list[Drawing]
    originals: list[bytes | None]


def read_drawings(path: Path) -> CollectedDrawings:
    """The drawings collected on the Deploy page (`DrawingStore` at `path`), oldest first, as stored."""
    if not path.is_file():
        raise MonitorError(
            f"No drawings have been collected yet ({path} does not exist): save some on the "
            "Deploy page, or monitor a folder of images with --field FOLDER."
        )
    store = DrawingStore(path)
    drawings = store.list()[::-1]  # list() is newest first
    return CollectedDrawings(drawings, [store.original_png(d.id) for d in drawings])


def drawings_field(collected: CollectedDrawings) -> FieldSet:
    """The field set of collected drawings: their model inputs, labels, dates and traits."""
    drawings = collected.drawings
    traits = []
    for d, original in zip(drawings, collected.originals, strict=True):
        # size and position before centring live only in the original drawing
        ink = _ink_of(original) if original else None
        traits.append(digit_traits(d.image28, ink))
    fs = FieldSet(
        DRAWINGS,
        np.stack([d.image28 for d in drawings]) if drawings else np.zeros((0, 28, 28), np.uint8),
        np.array([d.true_label for d in drawings], dtype=np.int64),
        [f"#{d.id}" for d in drawings],
        np.array(traits, dtype=np.float64).reshape(len(drawings), len(KEYS)),
        [d.created for d in drawings],
    )
    return _checked(fs, "The drawings database")


def load_drawings(path: Path) -> FieldSet:
    """The drawings collected on the Deploy page (`DrawingStore` at `path`), oldest first."""
    return drawings_field(read_drawings(path))


def _ink_of(png: bytes) -> np.ndarray | None:
    try:
        prepared = prepare_digit(load_image_file(png))
    except ImageError:
        return None  # a damaged original: the 28×28 input is still there, only placement is unknown
    return None if prepared.is_blank else prepared.stages["ink"]


def _read_labels(folder: Path, names: set[str]) -> dict[str, int]:
    path = folder / LABELS_FILE
    if not path.is_file():
        return {}
    try:
        raw = read_json(path, limit=MAX_LABELS_BYTES, what="labels file")
    except FileRefused as exc:
        raise MonitorError(f"{exc}.") from None
    if not isinstance(raw, dict):
        raise MonitorError(f'{path} must map file names to digits, like {{"a.png": 7}}.')
    unknown = sorted(set(raw) - names)
    if unknown:
        listed = ", ".join(unknown[:3]) + (" …" if len(unknown) > 3 else "")
        raise MonitorError(
            f"{path} names {len(unknown)} file(s) that are not images in the folder: {listed}."
        )
    bad = [k for k, v in raw.items() if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 9]
    if bad:
        raise MonitorError(
            f"{path} gives {bad[0]!r} the label {raw[bad[0]]!r}; labels must be digits 0 to 9."
        )
    return raw


def load_folder(folder: Path) -> FieldSet:
    """Every image in `folder` (by file name; not its subfolders), labelled by `labels.json` if present.

    An image that cannot be read stops the load with its name; one with no digit in it is skipped
    and named in `skipped`.
    """
    if not folder.is_dir():
        raise MonitorError(
            f"{folder} is not a folder of images (or `{DRAWINGS}` for the collected drawings)."
        )
    try:
        files = sorted(
            p for p in folder.iterdir() if p.is_file() and p.suffix.lower().lstrip(".") in UPLOAD_TYPES
        )
    except OSError as exc:
        raise MonitorError(f"Cannot list the folder {folder} ({exc.strerror or exc}).") from exc
    labels = _read_labels(folder, {p.name for p in files})
    images, names, traits, skipped = [], [], [], []
    for path in files:
        try:
            prepared = prepare_digit(load_image_file(read_bytes(path, limit=MAX_IMAGE_BYTES, what="image")))
        except FileRefused as exc:
            raise MonitorError(str(exc)) from None
        except ImageError as exc:
            raise MonitorError(f"{path}: {exc}") from exc
        if prepared.is_blank:
            skipped.append(path.name)
            continue
        images.append(prepared.stages["centered"])
        names.append(path.name)
        traits.append(prepared_traits(prepared))
    fs = FieldSet(
        str(folder),
        np.stack(images) if images else np.zeros((0, 28, 28), np.uint8),
        np.array([labels.get(n, -1) for n in names], dtype=np.int64),
        names,
        np.array(traits, dtype=np.float64).reshape(len(names), len(KEYS)),
        None,
        skipped,
    )
    return _checked(fs, f"The folder {folder}")


def field_from_prepared(
    prepared: list[PreparedDigit], labels: np.ndarray | None = None, source: str = "images"
) -> FieldSet:
    """A field set from `prepare_digit` results (all non-blank), in order, named by position."""
    if any(p.is_blank for p in prepared):
        raise MonitorError("A field image has no digit in it.")
    n = len(prepared)
    fs = FieldSet(
        source,
        np.stack([p.stages["centered"] for p in prepared]) if n else np.zeros((0, 28, 28), np.uint8),
        np.full(n, -1, np.int64) if labels is None else np.asarray(labels, dtype=np.int64),
        [str(i) for i in range(n)],
        np.array([prepared_traits(p) for p in prepared], dtype=np.float64).reshape(n, len(KEYS)),
    )
    return _checked(fs, "The field")


def load_field(spec: str, home: Path) -> FieldSet:
    """`drawings` (the store in the studio home `home`) or a folder of images."""
    if spec == DRAWINGS:
        return load_drawings(home / "drawings.db")
    return load_folder(Path(spec).expanduser())
