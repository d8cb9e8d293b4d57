"""The expected shapes of a run's meta.json and history.json: loading refuses anything else (a
valid JSON `[]` is still a damaged meta.json) with a DamagedRun naming the bad field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mnist_core.runs.files import damaged

_NUMBER = (int, float)
_META_TYPES: dict[str, tuple[type, ...]] = {
    "created": (str,),
    "id": (str,),
    "name": (str,),
    "status": (str,),
    "message": (str,),
    "data": (str,),
    "data_kind": (str,),
    "data_name": (str,),
    "sizes": (dict,),
    "val_accuracy": _NUMBER,
    "val_loss": _NUMBER,
    "test_accuracy": _NUMBER,
    "test_loss": _NUMBER,
    "test_evaluations": (int,),
    "best_epoch": (int,),
    "epochs_run": (int,),
    "parameters": (int,),
    "device": (str,),
    "precision": (str,),
    "train_seconds": _NUMBER,
    "used_collected": (int,),
    "other_evaluations": (list,),
    "test_source": (str,),
    "test_n": (int,),
    "test_fingerprint": (str,),
}
_NOT_NULL = {"created", "test_evaluations"}  # sorted by / counted: None would break them
_HISTORY_NUMBERS = (
    "epoch",
    "epochs",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "seconds",
    "samples_per_s",
    "lr",
    "elapsed",
)


def kind_of(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", type(None): "null", bool: "true/false"}.get(
        type(value), "a number" if isinstance(value, _NUMBER) else "?"
    )


def _typed(value: Any, types: tuple[type, ...]) -> bool:
    return isinstance(value, types) and not isinstance(value, bool)


def check_meta(path: Path, meta: Any) -> dict[str, Any]:
    """meta.json's content if it has the expected shape, else DamagedRun naming the bad field."""
    if not isinstance(meta, dict):
        raise damaged(path, f"holds {kind_of(meta)}, not a JSON object", "is not a JSON object")
    for key, types in _META_TYPES.items():
        value = meta.get(key)
        if key not in meta or (value is None and key not in _NOT_NULL):
            continue
        if not _typed(value, types):
            raise damaged(
                path,
                f'has "{key}": {kind_of(value)} where {kind_of(types[0]())} is expected',
                f'has a bad "{key}"',
            )
    if meta.get("test_evaluations", 0) < 0:
        raise damaged(path, 'has a negative "test_evaluations"', 'has a bad "test_evaluations"')
    if not all(isinstance(e, dict) for e in meta.get("other_evaluations") or []):
        raise damaged(path, 'has "other_evaluations" that are not objects', 'has a bad "other_evaluations"')
    return meta


def check_history(path: Path, history: Any) -> list[dict[str, Any]]:
    """history.json's content if it is a list of epoch objects with numeric fields."""
    if not isinstance(history, list):
        raise damaged(path, f"holds {kind_of(history)}, not a list of epochs", "is not a list of epochs")
    for i, epoch in enumerate(history):
        if not isinstance(epoch, dict):
            raise damaged(
                path, f"has entry {i + 1}: {kind_of(epoch)}, not an epoch object", "is not a list of epochs"
            )
        bad = [k for k in _HISTORY_NUMBERS if epoch.get(k) is not None and not _typed(epoch[k], _NUMBER)]
        if bad:
            raise damaged(
                path, f'has a non-numeric "{bad[0]}" in entry {i + 1}', f'has a non-numeric "{bad[0]}"'
            )
    return history
