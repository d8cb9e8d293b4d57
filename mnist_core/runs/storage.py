"""Saved runs: one folder per run, written atomically, loaded without unpickling anything.

A run folder holds:
    config.json      the TrainConfig
    meta.json        data source, split sizes, status, best epoch, metrics, test-set counter...
    history.json     the epoch records (the loss curves)
    model.safetensors  the best-epoch weights (no pickle)
    eval_val.json / eval_test.json   evaluation results, when computed
    summary.txt      a few lines for humans

A new run is written into a hidden temporary folder and renamed into place, and every later
update replaces one file atomically, so a crash mid-save leaves the previous state whole.
The temporary folder's name carries the writer's PID, so listing the runs can remove the ones
a killed writer left behind.

Loading checks the shape of every JSON file (a valid JSON `[]` is still a damaged meta.json),
and the weights (non-finite values are refused). `scan_runs` lists the good runs and names
the damaged folders with a short reason, for the "damaged run folder skipped" note. JSON is
written without NaN (non-finite numbers become null).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mnist_core.config import ConfigError, TrainConfig, studio_home
from mnist_core.data.sources import (
    DataError,
    Images,
    SourceInfo,
    images_fingerprint,
    load_test,
    mnist_available,
    resolve_source,
)

if TYPE_CHECKING:  # torch is imported where weights are read or written: listing runs needs none
    from torch import nn

    from mnist_core.data.preprocess import DataSplit
    from mnist_core.evaluation.evaluate import EvalResult

WEIGHTS = "model.safetensors"
# A temporary run folder older than this is an orphan whatever its PID says (PIDs get reused).
STALE_TMP_S = 3600
# A temporary folder whose writer PID is gone is removed once it is this old: a writer in another
# PID namespace (a container sharing the folder) shows as "gone" but is never disturbed mid-save.
DEAD_WRITER_GRACE_S = 60
_TMP_PID = re.compile(r"\.pid(\d+)\.[^.]*$")


class StorageError(RuntimeError):
    """A run that cannot be read or written; the message names the folder and what to do."""


class DamagedRun(StorageError):
    """A run folder with an unreadable or malformed file; `reason` is a few words for listings."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def runs_dir(home: Path | None = None) -> Path:
    return Path(home or studio_home()) / "runs"


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
        return obj if math.isfinite(obj) else None
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
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise _damaged(
            Path(path),
            f"is unreadable ({exc})",
            "is not valid JSON" if isinstance(exc, ValueError) else "cannot be read",
        ) from exc


def _damaged(path: Path, problem: str, reason: str | None = None) -> DamagedRun:
    """A DamagedRun for file `path`: the long message says what to do, the reason names the file."""
    return DamagedRun(
        f"{path} is damaged: it {problem}. Delete the run folder {path.parent} or restore the file.",
        f"{path.name} {reason or problem}",
    )


# ---------------------------------------------------------------- checking the JSON files' shapes

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


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", type(None): "null", bool: "true/false"}.get(
        type(value), "a number" if isinstance(value, _NUMBER) else "?"
    )


def _typed(value: Any, types: tuple[type, ...]) -> bool:
    return isinstance(value, types) and not isinstance(value, bool)


def check_meta(path: Path, meta: Any) -> dict[str, Any]:
    """meta.json's content if it has the expected shape, else DamagedRun naming the bad field."""
    if not isinstance(meta, dict):
        raise _damaged(path, f"holds {_kind(meta)}, not a JSON object", "is not a JSON object")
    for key, types in _META_TYPES.items():
        value = meta.get(key)
        if key not in meta or (value is None and key not in _NOT_NULL):
            continue
        if not _typed(value, types):
            raise _damaged(
                path,
                f'has "{key}": {_kind(value)} where {_kind(types[0]())} is expected',
                f'has a bad "{key}"',
            )
    if meta.get("test_evaluations", 0) < 0:
        raise _damaged(path, 'has a negative "test_evaluations"', 'has a bad "test_evaluations"')
    if not all(isinstance(e, dict) for e in meta.get("other_evaluations") or []):
        raise _damaged(path, 'has "other_evaluations" that are not objects', 'has a bad "other_evaluations"')
    return meta


def check_history(path: Path, history: Any) -> list[dict[str, Any]]:
    """history.json's content if it is a list of epoch objects with numeric fields."""
    if not isinstance(history, list):
        raise _damaged(path, f"holds {_kind(history)}, not a list of epochs", "is not a list of epochs")
    for i, epoch in enumerate(history):
        if not isinstance(epoch, dict):
            raise _damaged(
                path, f"has entry {i + 1}: {_kind(epoch)}, not an epoch object", "is not a list of epochs"
            )
        bad = [k for k in _HISTORY_NUMBERS if epoch.get(k) is not None and not _typed(epoch[k], _NUMBER)]
        if bad:
            raise _damaged(
                path, f'has a non-numeric "{bad[0]}" in entry {i + 1}', f'has a non-numeric "{bad[0]}"'
            )
    return history


@dataclass
class Run:
    """A saved run: its folder, config, metadata, curves and (loaded on demand) weights."""

    path: Path
    config: TrainConfig
    meta: dict[str, Any]
    history: list[dict[str, Any]]

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def label(self) -> str:
        acc = self.meta.get("val_accuracy")
        acc_s = f"{acc:.1%}" if isinstance(acc, (int, float)) else "n/a"
        return f"{self.meta.get('name') or self.id} · {self.config.summary()} · val {acc_s}"

    def load_model(self, device: str | None = None) -> nn.Module:
        return load_model(self.path, self.config, device)

    def evaluation(self, split: str) -> EvalResult | None:
        path = self.path / f"eval_{split}.json"
        if not path.is_file():
            return None
        raw = read_json(path)
        from mnist_core.evaluation.evaluate import EvalResult

        try:
            return EvalResult.from_dict(raw)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _damaged(
                path, f"does not hold an evaluation ({type(exc).__name__}: {exc})", "is not an evaluation"
            ) from exc

    def source_key(self) -> str:
        """The data source the run was trained on, if it can be read here without a download.

        Raises DataError (a message for the user) when the run does not record its data, when
        that is full MNIST and it is not downloaded, or when it was a folder that has gone away.
        """
        key = self.meta.get("data")
        if not key:
            raise DataError(
                "This run does not record which data it was trained on, so its images "
                "cannot be shown. Train it again."
            )
        if key == "mnist" and not mnist_available():
            raise DataError(
                "This run was trained on full MNIST, which is not downloaded on this "
                "machine now. Download it on the Data page to see its images; the saved "
                "metrics below are still valid."
            )
        return resolve_source(key).key  # a folder that has gone away raises DataError here

    def split(self) -> DataSplit:
        """The run's own train/validation split, rebuilt exactly (same source, fraction and seed;
        collected drawings are not added back); DataError when the data changed since training."""
        from mnist_core.data.preprocess import make_split

        split = make_split(self.source_key(), self.config)
        expected = self.meta.get("sizes", {}).get("val")
        if isinstance(expected, int) and expected != len(split.val):
            name = self.meta.get("data_name", self.meta["data"])
            raise DataError(
                f"The validation set rebuilt from {name} has {len(split.val):,} images, "
                f"but the run was validated on {expected:,}: the data changed since "
                "training. The saved metrics below are still valid."
            )
        return split

    def test_set(self) -> Images:
        """The held-out test set of the run's own data source, not of whatever source is active now:
        a model trained on full MNIST would otherwise be "tested" on images it may have trained on."""
        return load_test(self.source_key())


def new_run_id(config: TrainConfig) -> str:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{config.model}-{uuid.uuid4().hex[:4]}"


def save_run(
    model: nn.Module,
    config: TrainConfig,
    history: list[dict[str, Any]],
    meta: dict[str, Any],
    home: Path | None = None,
    run_id: str | None = None,
) -> Run:
    """Save a trained model as a new run folder (atomically: all of it or nothing)."""
    root = runs_dir(home)
    root.mkdir(parents=True, exist_ok=True)
    run_id = run_id or new_run_id(config)
    final = root / run_id
    if final.exists():
        raise StorageError(f"A run named {run_id} already exists in {root}.")
    meta = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "test_evaluations": 0,
        **meta,
        "id": run_id,
    }
    # the PID in the name lets a later listing tell a live writer from one that was killed
    from safetensors.torch import save_file

    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".tmp-{run_id}.pid{os.getpid()}."))
    try:
        state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS), metadata={"config": json.dumps(config.to_dict())})
        write_json(tmp / "config.json", config.to_dict())
        write_json(tmp / "history.json", history)
        write_json(tmp / "meta.json", meta)
        write_atomic(tmp / "summary.txt", summary_text(config, meta))
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Run(final, config, meta, history)


def summary_text(config: TrainConfig, meta: dict[str, Any]) -> str:
    lines = [
        f"Run {meta.get('id')} ({meta.get('created')})",
        f"Model: {config.summary()}, {meta.get('parameters', '?')} parameters",
        f"Data: {meta.get('data_name', meta.get('data', '?'))}, sizes {meta.get('sizes', {})}",
        f"Status: {meta.get('status')} — {meta.get('message', '')}",
        f"Best epoch: {meta.get('best_epoch')}, validation accuracy: {meta.get('val_accuracy')}",
        f"Test evaluations: {meta.get('test_evaluations', 0)}"
        + (f", test accuracy {meta['test_accuracy']}" if "test_accuracy" in meta else ""),
        "Config: " + json.dumps(config.to_dict()),
    ]
    return "\n".join(lines) + "\n"


def load_run(path: Path | str, home: Path | None = None) -> Run:
    """Open a run by folder path or by id (looked up in the runs folder).

    Raises StorageError when there is no such run, DamagedRun (a StorageError) when its folder
    exists but a file is missing, unreadable or of the wrong shape.
    """
    given = Path(path)
    path = given if given.is_dir() else _run_folder(str(path), home)
    if not path.is_dir():
        raise StorageError(f"No saved run at {path}: `python -m mnist_core runs` lists the runs.")
    if not (path / "config.json").is_file():
        raise DamagedRun(
            f"No saved run at {path} (it has no config.json): `python -m mnist_core runs` lists the runs.",
            "config.json is missing",
        )
    raw = read_json(path / "config.json")
    if not isinstance(raw, dict):
        raise _damaged(path / "config.json", f"holds {_kind(raw)}, not a JSON object", "is not a JSON object")
    try:
        config = TrainConfig.from_dict(raw)
    except (ConfigError, TypeError) as exc:
        raise DamagedRun(
            f"{path / 'config.json'} holds an invalid config: {exc}",
            f"config.json: {str(exc).rstrip('.')[:100]}",
        ) from exc
    meta = read_json(path / "meta.json") if (path / "meta.json").is_file() else {}
    history = read_json(path / "history.json") if (path / "history.json").is_file() else []
    return Run(
        path, config, check_meta(path / "meta.json", meta), check_history(path / "history.json", history)
    )


def _run_folder(run_id: str, home: Path | None) -> Path:
    # an id is one folder name: "../x" or "a/b" must never reach outside the runs folder
    if run_id in ("", ".", "..") or any(sep and sep in run_id for sep in ("/", os.sep, os.altsep)):
        raise StorageError(f"No saved run {run_id!r}: `python -m mnist_core runs` lists the runs.")
    return runs_dir(home) / run_id


def load_model(path: Path, config: TrainConfig, device: str | None = None) -> nn.Module:
    """Build the model for `config` and fill it with the saved weights (safetensors: no pickle),
    on `device` (default `evaluate.inference_device`: the GPU when there is one)."""
    import torch
    from safetensors.torch import load_file

    from mnist_core.evaluation.evaluate import inference_device
    from mnist_core.training.models import build_model

    weights = Path(path) / WEIGHTS
    try:
        state = load_file(str(weights))
    except FileNotFoundError as exc:
        raise StorageError(f"{weights} is missing: the run cannot predict. Train it again.") from exc
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise StorageError(f"{weights} is damaged ({exc}). Train the run again.") from exc
    if not all(bool(torch.isfinite(t).all()) for t in state.values() if t.is_floating_point()):
        raise StorageError(
            f"The model is damaged: non-finite weights (NaN or infinity) in {weights}. Train the run again."
        )
    model = build_model(config)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise StorageError(f"{weights} does not match its config.json ({str(exc)[:200]}).") from exc
    return model.to(device or inference_device(config.device)).eval()


@dataclass(frozen=True)
class RunListing:
    """The readable runs (newest first) and the skipped damaged folders as (id, reason)."""

    runs: list[Run]
    damaged: list[tuple[str, str]] = field(default_factory=list)

    @property
    def note(self) -> str:
        """ "1 damaged run folder skipped: <id> (<reason>)", or "" when none was."""
        return damaged_note(self.damaged)


def damaged_note(damaged: list[tuple[str, str]]) -> str:
    """The one-line note listings show for skipped folders; "" when there are none."""
    if not damaged:
        return ""
    n = len(damaged)
    items = ", ".join(f"{run_id} ({reason})" for run_id, reason in damaged)
    return f"{n} damaged run folder{'s' * (n != 1)} skipped: {items}"


def scan_runs(home: Path | None = None) -> RunListing:
    """All readable runs, newest first, and the damaged folders skipped on the way.

    Also removes temporary folders that killed writers left behind (see `remove_stale_temp`).
    """
    root = runs_dir(home)
    if not root.is_dir():
        return RunListing([])
    remove_stale_temp(root)
    runs, damaged = [], []
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or not path.is_dir():
            continue
        try:
            runs.append(load_run(path))
        except DamagedRun as exc:
            damaged.append((path.name, exc.reason))
        except (StorageError, OSError) as exc:  # e.g. removed while listing, unreadable folder
            damaged.append((path.name, str(exc).split(":")[0][:100]))
    runs.sort(key=lambda r: (r.meta.get("created", ""), r.id), reverse=True)
    return RunListing(runs, damaged)


def list_runs(home: Path | None = None) -> list[Run]:
    """All readable runs, newest first; damaged folders are skipped (`scan_runs` names them)."""
    return scan_runs(home).runs


def remove_stale_temp(root: Path, now: float | None = None) -> list[str]:
    """Delete orphaned `.tmp-*` run folders and leftover `.deleted-*` ones; returns their names.

    A temporary folder is an orphan when it is older than STALE_TMP_S, or when the PID in its name
    is no longer running (and it is older than DEAD_WRITER_GRACE_S).
    """
    now = time.time() if now is None else now
    removed = []
    for path in list(Path(root).glob(".tmp-*")) + list(Path(root).glob(".deleted-*")):
        try:
            age = now - path.stat().st_mtime
        except OSError:
            continue  # already gone: another lister or the writer's own rename
        if path.name.startswith(".deleted-") or _orphaned(path.name, age):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


def _orphaned(name: str, age: float) -> bool:
    if age > STALE_TMP_S:
        return True
    match = _TMP_PID.search(name)
    return bool(match) and age > DEAD_WRITER_GRACE_S and not _pid_alive(int(match.group(1)))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user
        return True
    return True


def check_home(home: Path | None = None) -> Path:
    """The runs folder of `home`, created now and checked writable; StorageError otherwise.

    Called before training, so a run never trains to the end only to find it cannot be saved.
    """
    return writable_folder(runs_dir(home), "runs")


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


def latest_run(home: Path | None = None) -> Run | None:
    runs = list_runs(home)
    return runs[0] if runs else None


def delete_run(run: Run | Path | str, home: Path | None = None) -> None:
    """Remove a run: renamed away first (atomic), then deleted."""
    path = run.path if isinstance(run, Run) else Path(run)
    if not path.is_dir():
        path = runs_dir(home) / str(run)
    if not path.is_dir():
        raise StorageError(f"No run at {path}.")
    trash = path.parent / f".deleted-{path.name}-{int(time.time() * 1000)}"
    os.replace(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def update_meta(run: Run, **changes: Any) -> Run:
    """Change some metadata fields (atomically) and refresh the summary."""
    run.meta.update(changes)
    write_json(run.path / "meta.json", run.meta)
    write_atomic(run.path / "summary.txt", summary_text(run.config, run.meta))
    return run


def save_evaluation(
    run: Run, result: EvalResult, *, data: Images | None = None, source: SourceInfo | None = None
) -> Run:
    """Store an evaluation, with where its images came from.

    `source` None means the run's own data. On the run's own source the evaluation becomes the
    run's figure (eval_<split>.json, meta <split>_accuracy); a test evaluation also bumps the test
    counter and records test_source / test_n / test_fingerprint. On another source nothing of the
    run's own figures changes: the result is appended to meta["other_evaluations"] (see
    `evaluation_record`), to be shown as "on folder X, 5 images", never as the test accuracy.
    """
    record = evaluation_record(run, result, data, source)
    if not is_own_source(run, source):
        return update_meta(run, other_evaluations=[*run.meta.get("other_evaluations", []), record])
    write_json(run.path / f"eval_{result.split}.json", result.to_dict())
    if result.split == "test":
        return update_meta(
            run,
            test_evaluations=int(run.meta.get("test_evaluations", 0)) + 1,
            test_accuracy=result.accuracy,
            test_loss=result.loss,
            test_source=record["source"],
            test_n=result.n,
            test_fingerprint=record["fingerprint"],
        )
    return update_meta(
        run, **{f"{result.split}_accuracy": result.accuracy, f"{result.split}_loss": result.loss}
    )


def is_own_source(run: Run, source: SourceInfo | None) -> bool:
    """Whether `source` (None: the caller's "the run's own data") is the data the run trained on."""
    own = run.meta.get("data")
    return source is None or not own or source.key == own


def evaluation_record(
    run: Run, result: EvalResult, data: Images | None = None, source: SourceInfo | None = None
) -> dict[str, Any]:
    """{split, source, source_name, source_kind, n, fingerprint, accuracy, loss, created}.

    `fingerprint` is `data.images_fingerprint(data)` (None without `data`), so two evaluations
    can be told apart even when their folders have the same name.
    """
    return {
        "split": result.split,
        "source": source.key if source else run.meta.get("data"),
        "source_name": source.name if source else run.meta.get("data_name"),
        "source_kind": source.kind if source else run.meta.get("data_kind"),
        "n": result.n,
        "fingerprint": images_fingerprint(data) if data is not None else None,
        "accuracy": result.accuracy,
        "loss": result.loss,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def evaluation_note(record: Mapping[str, Any]) -> str:
    """Where an evaluation's images came from, in words: "on folder /x/y, 5 images"."""
    kind, key, name = record.get("source_kind"), record.get("source"), record.get("source_name")
    where = f"folder {key}" if kind == "folder" else (name or key or "unknown data")
    n = record.get("n")
    count = f", {n:,} image{'s' * (n != 1)}" if isinstance(n, int) and not isinstance(n, bool) else ""
    return f"on {where}{count}"


def export_weights(run: Run) -> bytes:
    """The safetensors file of a run (for download)."""
    return (run.path / WEIGHTS).read_bytes()
