"""Saving files so a crash never leaves half of one: atomic writes, JSON without NaN, and the
errors a damaged or unwritable file is reported with.

Every later update of a run replaces one file atomically, so a crash mid-save leaves the previous
state whole. JSON is written without NaN (non-finite numbers become null).
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mnist_core.config import finite_number
from mnist_core.files import FileRefused
from mnist_core.files import read_json as guarded_read_json

MAX_JSON_BYTES = 64_000_000  # a run's history of thousands of epochs is a few MB

WEIGHTS = "model.safetensors"  # a run's weights: safetensors, never pickle
WEIGHTS_LIMIT = 1 << 30  # 1 GiB: a cap against devices and runaway files, far above these models


class StorageError(RuntimeError):
    """A run that cannot be read or written; the message names the folder and what to do."""


class DamagedRun(StorageError):
    """A run folder with an unreadable or malformed file; `reason` is a few words for listings."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write a file so that readers see either the old or the new content, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def json_safe(obj: Any) -> Any:
    """`obj` with NaN and infinities replaced by None: JSON has no NaN, and strict parsers
    (browsers, jq) refuse the bare `NaN` Python would write."""
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return finite_number(obj)
    if isinstance(obj, Mapping):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def dumps(obj: Any, **kwargs: Any) -> str:
    """json.dumps that never writes NaN (see `json_safe`): for files and the CLI's output."""
    return json.dumps(json_safe(obj), allow_nan=False, **kwargs)


def write_json(path: Path, obj: Any) -> None:
    write_atomic(path, dumps(obj, indent=2))


def read_json(path: Path) -> Any:
    """A run's JSON file through the guarded opener: a FIFO, a device or a file over
    MAX_JSON_BYTES is a damaged run, not a hang; FileNotFoundError when there is no such file."""
    path = Path(path)
    if not os.path.lexists(path):
        raise FileNotFoundError(errno.ENOENT, "No such file", str(path))
    try:
        return guarded_read_json(path, limit=MAX_JSON_BYTES, what="run file")
    except FileRefused as exc:
        text = str(exc)
        invalid = "not valid JSON" in text or "not UTF-8" in text
        raise damaged(
            path,
            f"is unreadable ({text.split(' is ', 1)[-1]})",
            "is not valid JSON" if invalid else "cannot be read",
        ) from None


def damaged(path: Path, problem: str, reason: str | None = None) -> DamagedRun:
    """A DamagedRun for file `path`: the long message says what to do, the reason names the file."""
    return DamagedRun(
        f"{path} is damaged: it {problem}. Delete the run folder {path.parent} or restore the file.",
        f"{path.name} {reason or problem}",
    )


def writable_folder(folder: Path, what: str, create: bool = True) -> Path:
    """`folder` (e.g. a home's runs or curves folder) checked writable for saving `what`, and
    created now unless `create` is False (then its nearest existing ancestor must be writable);
    StorageError with the fix (--out) otherwise."""
    for part in (folder.parent, folder):
        if part.exists() and not part.is_dir():
            raise StorageError(
                f"{part} is a file, not a folder: {what} cannot be saved there. "
                "Choose another folder (--out)."
            )
    target = folder
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"Cannot create the {what} folder {folder} ({exc.strerror or exc}). "
                "Choose another folder (--out)."
            ) from exc
    else:
        while not target.exists() and target != target.parent:
            target = target.parent
        if not target.is_dir():
            raise StorageError(
                f"{target} is a file, not a folder: {what} cannot be saved there. "
                "Choose another folder (--out)."
            )
    if not os.access(target, os.W_OK | os.X_OK):
        raise StorageError(f"The {what} folder {folder} is not writable. Choose another folder (--out).")
    return folder
