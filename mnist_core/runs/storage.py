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

Loading checks the shape of every JSON file (runs/schema.py). Beside this module: runs/files.py
(atomic writes, JSON without NaN, the errors), runs/listing.py (listing and damaged folders),
runs/models.py (the weights, loaded without pickle), runs/evaluations.py (stored evaluations).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnist_core import files
from mnist_core.config import ConfigError, TrainConfig, studio_home
from mnist_core.data.errors import DataError
from mnist_core.data.sources import Images, load_test, mnist_available, resolve_source
from mnist_core.files import FileRefused, is_within, real_path
from mnist_core.runs.files import (
    WEIGHTS,
    WEIGHTS_LIMIT,
    DamagedRun,
    StorageError,
    damaged,
    read_json,
    writable_folder,
    write_atomic,
    write_json,
)
from mnist_core.runs.schema import check_history, check_meta, kind_of

if TYPE_CHECKING:  # torch is imported where weights are read or written: listing runs needs none
    from torch import nn

    from mnist_core.data.preprocess import DataSplit
    from mnist_core.evaluation.evaluate import EvalResult


def runs_dir(home: Path | None = None) -> Path:
    return Path(home or studio_home()) / "runs"


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
        from mnist_core.runs.models import load_model  # torch only where weights are read

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
            raise damaged(
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
                "This run does not record which data it was trained on (its meta.json is "
                "missing or damaged), so that data cannot be rebuilt. Train it again."
            )
        if key == "mnist" and not mnist_available():
            raise DataError(
                "This run was trained on full MNIST, which is not downloaded on this "
                "machine now: download it (the Data page, or `python -m mnist_core train "
                "--data mnist`); the run's saved metrics are still valid."
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
                "training. The run's saved metrics are still valid."
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
        raise damaged(
            path / "config.json", f"holds {kind_of(raw)}, not a JSON object", "is not a JSON object"
        )
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


def check_home(home: Path | None = None) -> Path:
    """The runs folder of `home`, created now and checked writable; StorageError otherwise.

    Called before training, so a run never trains to the end only to find it cannot be saved.
    """
    return writable_folder(runs_dir(home), "runs")


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


def folder_for_writing(run: Run) -> Path:
    """The run's folder, if this studio may write to it. A run folder that is a symlink leading
    out of the folder it was found in (a run of another studio, linked in) is read-only here:
    evaluating or calibrating it must not rewrite files outside this studio. StorageError if so."""
    try:
        real = real_path(run.path, what="run folder")
    except FileRefused as exc:
        raise StorageError(str(exc)) from None
    if not is_within(real, [run.path.parent]):
        raise StorageError(
            f"Run {run.id} is a link to {real}, outside {run.path.parent}: it is read-only here "
            "(copy the folder in to evaluate or calibrate it)."
        )
    return run.path


def update_meta(run: Run, **changes: Any) -> Run:
    """Change some metadata fields (atomically) and refresh the summary."""
    folder_for_writing(run)
    run.meta.update(changes)
    write_json(run.path / "meta.json", run.meta)
    write_atomic(run.path / "summary.txt", summary_text(run.config, run.meta))
    return run


def export_weights(run: Run) -> bytes:
    """The safetensors file of a run (for download)."""
    return files.read_bytes(run.path / WEIGHTS, limit=WEIGHTS_LIMIT, what="weights file")
